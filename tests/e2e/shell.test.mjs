// Issue 2: `loopat serve` guards every request with its token, and the UI shell renders
// in a real browser: sidebar with the empty state, engine pill, doctor checklist rows.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { launchBrowser, loopatBin, screenshot, startServe } from './lib.mjs';

describe('loopat serve: UI shell', () => {
  let serve;
  let browser;

  before(async () => {
    serve = await startServe();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await serve?.close();
    if (serve) rmSync(dirname(serve.home), { recursive: true, force: true });
  });

  it('refuses API requests without the token; the page (public code, no data) loads without one', async () => {
    for (const path of ['/api/health', '/api/rpc/SystemService/Info', '/api/events']) {
      const res = await fetch(serve.origin + path, { method: path.includes('rpc') ? 'POST' : 'GET', body: path.includes('rpc') ? '[]' : undefined });
      assert.equal(res.status, 401, `${path} without token`);
    }
    const page = await fetch(serve.origin + '/');
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('set-cookie'), null, 'the page set a cookie');
    const wrong = await fetch(`${serve.origin}/api/health`, { headers: { Authorization: 'Bearer nottherighttoken' } });
    assert.equal(wrong.status, 401);
  });

  it('answers /api/health with the workspace when the token is given', async () => {
    const res = await fetch(`${serve.origin}/api/health`, { headers: { Authorization: `Bearer ${serve.token}` } });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.ok, true);
    assert.equal(body.workspace, 'ws-e2e');
  });

  it('renders the shell with the empty sidebar, the engine pill and the workspace name', async () => {
    const { page } = browser;
    try {
      await shellRenders(page);
    } catch (e) {
      await screenshot(page, 'e2e-shell-failure.png').catch(() => {});
      throw e;
    }
  });

  async function shellRenders(page) {
    await page.goto(serve.url);
    await page.getByTestId('sidebar').waitFor({ timeout: 20_000 });
    // The page keeps the token in its origin's storage, never a cookie (a cookie would be
    // sent to every port of 127.0.0.1), and takes it out of the address bar.
    assert.ok(!page.url().includes('token='), `token still in URL: ${page.url()}`);
    assert.deepEqual(await page.context().cookies(serve.origin), [], 'serve set a cookie');
    assert.equal(await page.evaluate(() => localStorage.getItem('loopat_token')), serve.token);
    const empty = page.getByTestId('empty-state');
    await empty.waitFor({ timeout: 20_000 });
    assert.match(await empty.innerText(), /No loops yet/);
    assert.match(await empty.innerText(), /Create one to start a Claude Code session/);
    const pill = page.getByTestId('engine-pill');
    await pill.waitFor();
    // The pill leaves "Checking…" once EngineService.State answered (any phase is fine here).
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-testid="engine-pill"]');
      return el && ['absent', 'machine-stopped', 'starting', 'ready', 'error'].includes(el.getAttribute('data-phase') ?? '');
    }, null, { timeout: 20_000 });
    assert.equal(await page.getByTestId('workspace-name').innerText(), 'ws-e2e');
    assert.equal(await page.getByTestId('disconnected-banner').count(), 0, 'event socket should be connected');
  }

  it('shows the doctor checks with the same ids as `loopat doctor --json`', async () => {
    const { page } = browser;
    // doctor exits non-zero when a check fails; its JSON is printed either way.
    const run = spawnSync(loopatBin(), ['doctor', '--json'], { env: serve.env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(run.error, undefined, `loopat doctor --json: ${run.error}`);
    const cli = JSON.parse(run.stdout);
    assert.ok(Array.isArray(cli) && cli.length > 0, 'doctor --json prints checks');
    await page.getByTestId('engine-pill').click();
    await page.getByTestId('onboarding').waitFor();
    const rows = page.locator('[data-testid="doctor-list"] > li[data-testid^="doctor-"]');
    await rows.first().waitFor({ timeout: 30_000 });
    const ids = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-testid').slice('doctor-'.length)));
    assert.deepEqual([...ids].sort(), cli.map((c) => c.id).sort());
    // Check results can change between the two runs (the engine may come up); labels' subjects and ids cannot.
    for (const c of cli) {
      const row = page.getByTestId(`doctor-${c.id}`);
      const ok = await row.getAttribute('data-ok');
      assert.ok(ok === 'true' || ok === 'false', `row ${c.id} has a result`);
      const text = await row.innerText();
      const subject = c.label.split(':')[0];
      assert.ok(text.includes(subject), `row ${c.id} shows "${subject}": ${text}`);
      assert.match(text, ok === 'true' ? /✓/ : /✗/);
    }
    await page.getByTestId('doctor-recheck').click();
    await page.waitForFunction(() => {
      const b = document.querySelector('[data-testid="doctor-recheck"]');
      return b && !b.disabled;
    }, null, { timeout: 120_000 });
    await rows.first().waitFor();
    const shot = await screenshot(page, 'e2e-shell.png');
    assert.ok(shot.endsWith('e2e-shell.png'));
  });

  it('opens settings and shows the config and About versions', async () => {
    const { page, consoleErrors } = browser;
    await page.getByTestId('settings-link').click();
    const editor = page.getByTestId('config-editor');
    await editor.waitFor({ state: 'attached' }); // inside the folded Advanced view
    await page.waitForFunction(() => (document.querySelector('[data-testid="config-editor"]')?.value ?? '').includes('[engine]'), null, { timeout: 10_000 });
    await page.getByTestId('settings-about').click();
    const version = page.getByTestId('about-version');
    await version.waitFor();
    assert.ok((await version.innerText()).trim().length > 0);
    await screenshot(page, 'e2e-settings-about.png');
    assert.deepEqual(consoleErrors, [], 'no uncaught page errors');
  });
});
