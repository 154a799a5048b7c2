// Issue 18: what the agent serves in its loop reaches the user. A server started inside
// a real loop container (as the agent user, the way the agent's Bash would) appears in
// the Ports tab of `loopat serve` with a toast, its URL answers from the host, the
// preview pane shows the page (and walks back after a link followed in the frame), the
// agent's server never receives the app's session cookie, and Stop removes the forward.
// Needs LOOPAT_E2E_AGENT=1 (podman, the sandbox image and the mock model API).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { screenshot, startAgentServe, stop, storeKeyAndCreateLoop } from './lib.mjs';

const enabled = process.env.LOOPAT_E2E_AGENT === '1';
const skip = enabled ? false : 'LOOPAT_E2E_AGENT is not set to 1: ports need podman and the sandbox image';

const PORT = 8765;
const MARKER = `served-by-the-loop-${process.pid}`;

// The agent's server: two pages, and every Cookie header it receives logged to a file.
const SERVER = `
import http.server, os
os.chdir('/tmp/site')
class H(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        with open('/tmp/cookies.log', 'a') as f:
            f.write(repr(self.headers.get('Cookie')) + '\\n')
        return super().do_GET()
http.server.ThreadingHTTPServer(('0.0.0.0', ${PORT}), H).serve_forever()
`;

describe('ports', { skip }, () => {
  let fx;
  let serve;
  let browser;
  const ids = (args) => spawnSync('podman', args, { encoding: 'utf8' }).stdout?.split('\n').filter(Boolean) ?? [];

  /** Runs sh -c script in the loop's container as the agent (uid 2000). */
  const inLoop = (container, script) => {
    const r = spawnSync('podman', ['exec', '--user', '2000', container, 'sh', '-c', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, `in the loop: ${script}\n${r.stdout}${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    fx = await startAgentServe('ports');
    ({ serve, browser } = fx);
  });
  after(() => fx?.close());

  it('lists a server started in the loop, forwards it, previews it, stops it', async () => {
    const { page } = browser;
    try {
      await storeKeyAndCreateLoop(page, serve, 'e2e ports');
      // A cookie a browser sends to every port of 127.0.0.1 would reach the agent's server
      // too: serve sets none (the agent's server also logs every Cookie header it gets).
      assert.deepEqual(await browser.context.cookies(serve.origin), [], 'serve set a cookie');
      await page.getByTestId('tab-terminal').click(); // opening the terminal starts the loop's container and link

      const loopId = decodeURIComponent(new URL(page.url()).hash.match(/\/loops\/([^/?]+)/)?.[1] ?? '');
      assert.ok(loopId, `loop id in ${page.url()}`);
      let container = '';
      for (const end = Date.now() + 300_000; !container && Date.now() < end; ) {
        container = ids(['ps', '-q', '--filter', `label=loopat.loop-id=${loopId}`, '--filter', 'status=running'])[0] ?? '';
        if (!container) await new Promise((r) => setTimeout(r, 1000));
      }
      assert.ok(container, 'the loop container runs');
      await page.getByTestId('tab-ports').click();
      await page.getByTestId('ports-empty').waitFor({ timeout: 20_000 });
      // Started the way the agent's Bash would: a detached process of the agent user.
      inLoop(
        container,
        `mkdir -p /tmp/site && printf '<h1>${MARKER}</h1><a href="page2.html">next</a>' > /tmp/site/index.html && ` +
          `printf '<h1>second page</h1>' > /tmp/site/page2.html && ` +
          `cat > /tmp/srv.py <<'PY'\n${SERVER}\nPY\nsetsid python3 /tmp/srv.py </dev/null >/tmp/srv.log 2>&1 &`,
      );

      const row = page.getByTestId(`port-${PORT}`);
      await row.getByTestId('port-url').waitFor({ timeout: 20_000 });
      await page.getByTestId('toast-info').filter({ hasText: `Port ${PORT} is open` }).first().waitFor({ timeout: 10_000 });
      assert.match((await row.innerText()).toLowerCase(), /python3/);
      const url = await row.getByTestId('port-url').getAttribute('href');
      // Shown on the other loopback name than the UI's: another host, so no app cookie.
      assert.match(url, /^http:\/\/localhost:\d+\/$/);
      const hostPort = Number(new URL(url).port);
      const res = await fetch(`http://127.0.0.1:${hostPort}/`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), new RegExp(MARKER));

      await row.getByTestId('port-preview').click();
      const frame = page.frameLocator('[data-testid="preview-frame"]');
      await frame.getByText(MARKER).waitFor({ timeout: 20_000 });
      await screenshot(page, 'e2e-ports-preview.png');
      await frame.getByText('next').click();
      await frame.getByText('second page').waitFor({ timeout: 10_000 });
      await page.getByTestId('preview-back').click();
      await frame.getByText(MARKER).waitFor({ timeout: 10_000 });
      await page.getByTestId('preview-reload').click();
      await frame.getByText(MARKER).waitFor({ timeout: 10_000 });
      assert.ok(await page.getByTestId('loop-page').isVisible(), 'back walked the frame, not the app');

      // Even typed by hand on serve's own host name (127.0.0.1, same site as the UI), the
      // forward gets no credential of the app: there is no cookie to send.
      const typed = await browser.context.newPage();
      await typed.goto(`http://127.0.0.1:${hostPort}/`);
      await typed.getByText(MARKER).waitFor({ timeout: 10_000 });
      await typed.close();

      // The agent's server saw requests, none with the app's session cookie.
      const log = inLoop(container, 'cat /tmp/cookies.log');
      assert.ok(log.split('\n').filter(Boolean).length >= 3, `requests reached the loop: ${log}`);
      assert.doesNotMatch(log, /loopat_token/);
      assert.doesNotMatch(log, new RegExp(serve.token));

      // DNS rebinding: a page whose own name now resolves to 127.0.0.1 sends that name as
      // Host. The forward answers 421 and the request never reaches the loop's server.
      const rebound = await new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: hostPort, path: '/', headers: { Host: `rebind.example:${hostPort}` } }, (r) => {
          let body = '';
          r.on('data', (d) => (body += d));
          r.on('end', () => resolve({ status: r.statusCode, body }));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(rebound.status, 421, `rebound request: ${rebound.status} ${rebound.body}`);
      assert.match(rebound.body, /DNS rebinding/);
      assert.equal(inLoop(container, 'cat /tmp/cookies.log'), log, 'the rebound request reached the loop');

      await row.getByTestId('port-stop').click();
      await row.getByTestId('port-forward').waitFor({ timeout: 10_000 }); // still listening in the loop, no longer forwarded
      await assert.rejects(fetch(`http://127.0.0.1:${hostPort}/`), 'the host port is closed after Stop');
      await page.getByTestId('ports-preview').waitFor({ state: 'detached', timeout: 5_000 });
    } catch (e) {
      await screenshot(page, 'e2e-ports-failure.png').catch(() => {});
      throw e;
    }
  });
});
