// The CLI as users run it: `loopat loop new` and `loopat loop send` each in a fresh process of
// the built binary (no serve, no window), with the real claude CLI in a real sandbox and the
// mock Anthropic API. A fresh process starts discovering the engine when it starts, so `send`
// must wait for it rather than fail with "podman engine is starting".
// Needs LOOPAT_E2E_AGENT=1 (podman, the sandbox image and the pinned CLI: make test-setup).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { loopatBin, startAgentWorkspace, stop, tempDir } from './lib.mjs';

const enabled = process.env.LOOPAT_E2E_AGENT === '1';
const skip = enabled ? false : 'LOOPAT_E2E_AGENT is not set to 1: the CLI journey needs podman, the sandbox image and the mock model API';

describe('loopat loop from fresh processes', { skip }, () => {
  let mock;
  let workRoot;
  let env;
  const workspace = `ws-cli-${process.pid}`;

  const loopat = (args, input) => {
    const r = spawnSync(loopatBin(), args, { env, input, encoding: 'utf8', timeout: 300_000 });
    return { code: r.status, out: r.stdout ?? '', err: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
  };

  before(async () => {
    workRoot = tempDir('loopat-cli-');
    const home = join(workRoot, workspace);
    mock = await startAgentWorkspace(home);
    env = { ...process.env, LOOPAT_HOME: home };
  });

  after(async () => {
    if (env) loopat(['uninstall', '--yes']);
    await stop(mock?.child);
    if (workRoot) rmSync(workRoot, { recursive: true, force: true });
  });

  it('creates a loop and gets a reply, each command a new process', () => {
    const key = loopat(['vault', 'set', 'ANTHROPIC_API_KEY'], 'sk-mock-cli\n');
    assert.equal(key.code, 0, `vault set failed: ${key.err}`);

    const created = loopat(['loop', 'new', 'cli journey']);
    assert.equal(created.code, 0, `loop new failed: ${created.err}`);
    const id = created.out.trim();
    assert.match(id, /^[A-Za-z0-9_-]+$/, `loop new printed no id: ${created.out}`);

    const sent = loopat(['loop', 'send', id, 'Reply with exactly: pong']);
    assert.equal(sent.code, 0, `loop send failed (exit ${sent.code}): ${sent.err}`);
    assert.ok(sent.out.trim().length > 0, 'loop send printed no reply');
    assert.doesNotMatch(sent.err, /engine is starting/);

    // A second send from another fresh process reuses the loop (its transcript grows).
    const again = loopat(['loop', 'send', id.slice(0, 6), 'and again']);
    assert.equal(again.code, 0, `second loop send failed: ${again.err}`);

    const ls = loopat(['loop', 'ls']);
    assert.equal(ls.code, 0, ls.err);
    assert.match(ls.out, /cli journey/);
  });
});
