// `loopat serve` (and every other command) runs in loopat-headless, the window-less twin
// built beside the desktop binary: WebKitGTK is never mapped into a serve process. A twin
// from another build hands the command back to the desktop binary (backend/headless).
// Linux only: it reads /proc.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { loopatBin, startServe } from './lib.mjs';

const twin = join(dirname(loopatBin()), 'loopat-headless');
const skip = process.platform !== 'linux' ? 'reads /proc' : false;

const exeOf = (pid) => basename(readlinkSync(`/proc/${pid}/exe`));
const mapsWebKit = (pid) => /libwebkit2gtk|libgtk-3/.test(readFileSync(`/proc/${pid}/maps`, 'utf8'));

describe('loopat serve runs without WebKit', { skip }, () => {
  const servers = [];
  after(async () => {
    for (const s of servers) await s.close();
  });

  it('make build puts the twin beside the binary', () => {
    assert.ok(existsSync(twin), `${twin} is missing: make build builds it (make headless)`);
  });

  it('serve execs the twin in place: same pid, no WebKit mapped, the app answers', async () => {
    const s = await startServe();
    servers.push(s);
    assert.equal(exeOf(s.child.pid), 'loopat-headless');
    assert.equal(mapsWebKit(s.child.pid), false, 'a serve process maps WebKitGTK');
    const res = await fetch(`${s.origin}/api/health`, { headers: { Authorization: `Bearer ${s.token}` } });
    assert.equal(res.status, 200);
  });

  it('a twin of another build hands serve back to the desktop binary', async () => {
    // As the desktop binary of version "other" would exec it: the twin must not run
    // code of another build, so the desktop binary runs the command itself.
    const s = await startServe({
      bin: twin,
      extraEnv: { LOOPAT_HEADLESS_FROM: 'some-other-build', LOOPAT_HEADLESS_DESKTOP: loopatBin() },
    });
    servers.push(s);
    assert.equal(exeOf(s.child.pid), basename(loopatBin()));
    const env = readFileSync(`/proc/${s.child.pid}/environ`, 'utf8').split('\0');
    assert.ok(env.includes('LOOPAT_NO_HEADLESS=1'), 'hand-back did not stop a second hand-over');
    assert.ok(!env.some((e) => e.startsWith('LOOPAT_HEADLESS_FROM=')), 'hand-over variables leaked to the desktop binary');
    const res = await fetch(`${s.origin}/api/health`, { headers: { Authorization: `Bearer ${s.token}` } });
    assert.equal(res.status, 200);
  });
});
