// Issue 17: one surface for a prompt. `loopat serve` runs a loop whose agent (the real CLI in
// a real sandbox, mock model API, "default" permission mode) asks before Bash; in a FRESH
// process `loopat loop pending ID` lists that prompt and `loopat loop answer ID PENDING allow`
// answers it through the app's control socket (run/control.sock): the tool runs and the
// turn ends in the app. A fresh process can only see the prompt through the socket: the
// agent and its prompt live in the serve process. `loop new`, `loop send` and `loop rm` from
// fresh processes run in the app too (no second process runs agents for its loops): a
// send's prompt shows in the app and on the terminal, and an answer in the app ends it.
// Needs LOOPAT_E2E_AGENT=1 (podman, the sandbox image and the pinned CLI).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { loopatBin, startAgentServe } from './lib.mjs';

const enabled = process.env.LOOPAT_E2E_AGENT === '1';
const skip = enabled ? false : 'LOOPAT_E2E_AGENT is not set to 1: answering prompts needs podman, the sandbox image and the mock model API';

describe('loopat loop commands reach the running app', { skip }, () => {
  let fx;
  let serve;
  let env;
  let loopID;

  const loopat = (args, input) => {
    const r = spawnSync(loopatBin(), args, { env, input, encoding: 'utf8', timeout: 120_000 });
    return { code: r.status, out: r.stdout ?? '', err: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
  };

  async function rpc(service, method, ...args) {
    const res = await fetch(`${serve.origin}/api/rpc/${service}/${method}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${serve.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(args),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(`${service}.${method}: ${res.status} ${body.error}`);
    return body.result;
  }

  async function until(what, fn, timeoutMs) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  const transcript = async (id) => JSON.stringify(await rpc('LoopService', 'Messages', id));
  const idle = async (id) => (await rpc('LoopService', 'Get', id)).status === 'idle';

  before(async () => {
    fx = await startAgentServe('answer', {
      browser: false,
      permissionMode: 'default',
      beforeServe: (home) => {
        env = { ...process.env, LOOPAT_HOME: home };
        const key = loopat(['vault', 'set', 'ANTHROPIC_API_KEY'], 'sk-mock-answer\n');
        assert.equal(key.code, 0, `vault set failed: ${key.err}`);
      },
    });
    ({ serve } = fx);
  });
  after(() => fx?.close());

  it('a fresh process lists the prompt and allows it; the turn completes in the app', async () => {
    try {
      // The socket is owner-only: a socket of mode 0600 in the private run/ folder.
      const sock = lstatSync(join(serve.home, 'run', 'control.sock'));
      assert.ok(sock.isSocket(), 'run/control.sock is not a socket');
      assert.equal(sock.mode & 0o777, 0o600);

      const meta = await rpc('LoopService', 'Create', { title: 'e2e answer' });
      const id = meta.id;
      loopID = id;
      // A first turn without a marker, so the next marker picks the reply (as prompts.test).
      await rpc('LoopService', 'Send', id, 'hello');
      await until('the first reply', async () => (await transcript(id)).includes('echo: hello') && (await idle(id)), 240_000);

      await rpc('LoopService', 'Send', id, '[[tool:bash echo allowed-$((6*7)) > allowed.txt && cat allowed.txt]]');
      const [prompt] = await until('the permission prompt', async () => {
        const list = await rpc('LoopService', 'Pending', id);
        return list.length ? list : null;
      }, 120_000);
      assert.equal(prompt.tool, 'Bash');

      const pending = loopat(['loop', 'pending', id.slice(0, 8)]);
      assert.equal(pending.code, 0, `loop pending failed: ${pending.err}`);
      assert.match(pending.out, new RegExp(`^${prompt.id}\\tneeds input \\[permission\\] Bash .*allowed\\.txt`, 'm'));
      assert.ok(!(await transcript(id)).includes('allowed-42'), 'the tool ran before it was allowed');

      const answered = loopat(['loop', 'answer', id, prompt.id, 'allow']);
      assert.equal(answered.code, 0, `loop answer failed (exit ${answered.code}): ${answered.err}`);

      await until('the tool result and idle', async () => (await transcript(id)).includes('tool result: allowed-42') && (await idle(id)), 120_000);
      assert.deepEqual(await rpc('LoopService', 'Pending', id), []);

      // Answering again: the app's error comes back to the terminal.
      const again = loopat(['loop', 'answer', id, prompt.id, 'allow']);
      assert.equal(again.code, 1);
      assert.match(again.err, /nothing waits with id .* in the running app/);

      // `loop ls` from a fresh process is the app's list too.
      const ls = loopat(['loop', 'ls']);
      assert.equal(ls.code, 0, ls.err);
      assert.match(ls.out, new RegExp(`${id}\\s+idle\\s+.*e2e answer`));
    } catch (e) {
      e.message += `\n--- loopat serve output (tail) ---\n${serve.output().slice(-3000)}`;
      throw e;
    }
  });

  it('loop new, send and rm from fresh processes run in the app; a prompt answered in the app ends the send', async () => {
    try {
      const made = loopat(['loop', 'new', 'made by the cli']);
      assert.equal(made.code, 0, made.err);
      const id = made.out.trim();
      assert.ok((await rpc('LoopService', 'List')).some((m) => m.id === id && m.title === 'made by the cli'), 'the app lists the new loop');

      // send from a fresh process, its stdin left open: the turn runs in the app (its
      // prompt is in the app's Pending), the app answers it, and the process prints the reply.
      const child = spawn(loopatBin(), ['loop', 'send', id, '[[tool:bash echo routed-$((6*7)) > routed.txt && cat routed.txt]]'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const exited = new Promise((r) => child.on('exit', r));
      try {
        const [prompt] = await until('the prompt in the app', async () => {
          const list = await rpc('LoopService', 'Pending', id);
          return list.length ? list : null;
        }, 240_000);
        assert.equal(prompt.tool, 'Bash');
        await until('the prompt on the terminal', async () => err.includes(prompt.id) || err.includes('needs input'), 30_000);
        await rpc('LoopService', 'Answer', id, prompt.id, { allow: true });
        const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 120_000))]);
        assert.equal(code, 0, `loop send exit ${code}\nstdout: ${out}\nstderr: ${err}`);
      } finally {
        child.kill();
      }
      assert.match(err, /answered elsewhere/);
      assert.match(await transcript(id), /tool result: routed-42/, 'the turn ran in the app');
      assert.ok(out.trim().length > 0, 'the reply is printed');

      const rm = loopat(['loop', 'rm', id]);
      assert.equal(rm.code, 0, rm.err);
      assert.ok(!(await rpc('LoopService', 'List')).some((m) => m.id === id), 'the app no longer lists it');
    } catch (e) {
      e.message += `\n--- loopat serve output (tail) ---\n${serve.output().slice(-3000)}`;
      throw e;
    }
  });

  it('without the app, ls and pending fall back to this process and say nothing of a socket', async () => {
    await serve.close();
    serve = null;
    const pending = loopat(['loop', 'pending', loopID]);
    assert.equal(pending.code, 0, pending.err);
    assert.equal(pending.out, '', 'a fresh process without the app has no prompts of its own');
    assert.doesNotMatch(pending.err, /control socket/);
    const ls = loopat(['loop', 'ls']);
    assert.equal(ls.code, 0, ls.err);
    assert.match(ls.out, /e2e answer/);
    assert.doesNotMatch(ls.err, /control socket/);
    assert.throws(() => lstatSync(join(fx.home, 'run', 'control.sock')), /ENOENT/, 'the socket outlived serve');
  });
});
