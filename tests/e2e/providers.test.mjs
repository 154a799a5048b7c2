// Issue 17: Settings → Providers in `loopat serve` against a temp LOOPAT_HOME. A provider
// added in the form (its key typed right there) lands in config.toml as one more
// [[providers]] table with the user's comments intact, its key in the keychain (the
// provider below only answers 200 to that key); Test connection names the exact failure
// class (wrong base URL against the mock API, bad key, refused, DNS); edit, make default
// and remove round-trip through the file.
// Needs a Secret Service: run under scripts/test/with-keyring.sh.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser, repoRoot, screenshot, spawnAndWait, startServe, stop, tempDir } from './lib.mjs';

const KEY = 'sk-e2e-right-key-4242';

// A provider that accepts only KEY: proves the key typed in the form is the one the test
// connection read back from the keychain.
function keyCheckingProvider() {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const ok = req.url === '/v1/messages' && req.headers['x-api-key'] === KEY;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(
        ok
          ? JSON.stringify({ type: 'message', content: [{ type: 'text', text: 'p' }] })
          : JSON.stringify({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } }),
      );
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const USER_TOML = `# my workspace — hand-written, keep me
[agent]
default_provider = "anthropic" # the default, for now
default_model = "claude-sonnet-4-5"

# the official API
[[providers]]
name = "anthropic"
base_url = "https://api.anthropic.com"
models = ["claude-sonnet-4-5"] # only this one
key = "ANTHROPIC_API_KEY"

# theme, see docs
[ui]
theme = "light"
`;

describe('Settings: providers', () => {
  let serve;
  let browser;
  let root;
  let mock;
  let mockURL;
  let provider;

  before(async () => {
    root = tempDir('loopat-e2e-providers-');
    const home = join(root, 'ws-providers');
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, 'config.toml'), USER_TOML);
    const mockCmd = process.env.LOOPAT_E2E_MOCK_BIN
      ? [process.env.LOOPAT_E2E_MOCK_BIN, []]
      : ['go', ['run', './internal/testkit/cmd/mock-anthropic']];
    mock = spawnAndWait(mockCmd[0], [...mockCmd[1], '--addr', '127.0.0.1:0'], {
      cwd: repoRoot,
      env: process.env,
      pattern: /(https?:\/\/\S+:\d+)/,
      timeoutMs: 180_000,
    });
    mockURL = (await mock.match)[1];
    provider = await keyCheckingProvider();
    serve = await startServe({ home });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await serve?.close();
    await stop(mock?.child);
    provider?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const configText = () => readFileSync(join(serve.home, 'config.toml'), 'utf8');

  async function fillForm(page, { name, url, models, keyRef, key }) {
    const form = page.getByTestId('provider-form');
    await form.waitFor();
    if (name !== undefined) await page.getByTestId('provider-form-name').fill(name);
    if (url !== undefined) await page.getByTestId('provider-form-url').fill(url);
    if (models !== undefined) await page.getByTestId('provider-form-models').fill(models);
    if (keyRef !== undefined) await page.getByTestId('provider-form-keyref').fill(keyRef);
    if (key !== undefined) await page.getByTestId('provider-form-key').fill(key);
    await page.getByTestId('provider-form-save').click();
    await form.waitFor({ state: 'detached', timeout: 20_000 });
  }

  async function testConnection(page, name) {
    const card = page.getByTestId(`provider-${name}`);
    await card.getByTestId(`provider-test-${name}`).click();
    const result = page.getByTestId(`provider-result-${name}`);
    await result.waitFor({ timeout: 30_000 });
    await page.waitForFunction((n) => !document.querySelector(`[data-testid="provider-test-${n}"]`)?.disabled, name);
    return { cls: await result.getAttribute('data-class'), text: await result.innerText() };
  }

  it('adds a provider with its key, tests it, edits, makes default and removes it; comments survive', async () => {
    const { page } = browser;
    const port = provider.address().port;
    try {
      await page.goto(serve.url);
      await page.getByTestId('settings-link').click();
      await page.getByTestId('settings-providers').click();
      await page.getByTestId('provider-anthropic').waitFor();

      // Add, with the key typed in the form.
      await page.getByTestId('provider-add').click();
      await fillForm(page, {
        name: 'office',
        url: `http://127.0.0.1:${port}`,
        models: 'model-a\nmodel-b',
        keyRef: 'OFFICE_KEY',
        key: KEY,
      });
      await page.getByTestId('provider-office').waitFor();
      assert.equal(await page.getByTestId('provider-key-office').innerText(), 'set');
      assert.ok(!(await page.locator('body').innerText()).includes(KEY), 'the key is shown back');
      let text = configText();
      assert.ok(!text.includes(KEY), 'the key was written to config.toml');
      assert.ok(text.startsWith(USER_TOML.slice(0, USER_TOML.indexOf('# theme'))), `lines before the new table changed:\n${text}`);
      for (const c of ['# my workspace — hand-written, keep me', '# the default, for now', '# the official API', '# only this one', '# theme, see docs']) {
        assert.ok(text.includes(c), `comment ${c} lost:\n${text}`);
      }
      assert.match(text, /\[\[providers\]\]\nname = "office"\nbase_url = "http:\/\/127\.0\.0\.1:\d+"\nmodels = \["model-a", "model-b"\]\nkey = "OFFICE_KEY"/);

      // The key from the keychain reaches the provider: ok.
      let r = await testConnection(page, 'office');
      assert.equal(r.cls, 'ok', r.text);

      // A wrong key, set through the edit form: auth.
      await page.getByTestId('provider-edit-office').click();
      await fillForm(page, { key: 'sk-wrong' });
      r = await testConnection(page, 'office');
      assert.equal(r.cls, 'auth', r.text);
      assert.ok(!r.text.includes('sk-wrong'), 'the key is echoed in the result');

      // The mock API at the right base URL: ok; with /v1 appended: the wrong endpoint (404).
      await page.getByTestId('provider-edit-office').click();
      await fillForm(page, { url: mockURL, models: 'claude-sonnet-4-5' });
      r = await testConnection(page, 'office');
      assert.equal(r.cls, 'ok', r.text);
      await page.getByTestId('provider-edit-office').click();
      await fillForm(page, { url: `${mockURL}/v1` });
      r = await testConnection(page, 'office');
      assert.equal(r.cls, 'endpoint_not_found', r.text);
      assert.match(r.text, /404/);

      // Nothing listening: refused. A name that cannot resolve: dns.
      const closed = createServer();
      await new Promise((res) => closed.listen(0, '127.0.0.1', res));
      const closedPort = closed.address().port;
      await new Promise((res) => closed.close(res));
      await page.getByTestId('provider-edit-office').click();
      await fillForm(page, { url: `http://127.0.0.1:${closedPort}` });
      r = await testConnection(page, 'office');
      assert.equal(r.cls, 'connection_refused', r.text);
      await page.getByTestId('provider-edit-office').click();
      await fillForm(page, { url: 'https://no-such-host.invalid' });
      r = await testConnection(page, 'office');
      assert.equal(r.cls, 'dns', r.text);

      // Bad input: a clear error, the form stays, the file is untouched.
      const before = configText();
      await page.getByTestId('provider-edit-office').click();
      await page.getByTestId('provider-form-url').fill('ftp://x');
      await page.getByTestId('provider-form-save').click();
      await page.getByTestId('provider-error').waitFor();
      assert.match(await page.getByTestId('provider-error').innerText(), /http:\/\/ or https:\/\//);
      assert.equal(configText(), before, 'a refused edit changed config.toml');
      await page.getByRole('button', { name: 'Cancel' }).click();

      // Make it the default, then back, then remove it.
      await page.getByTestId('provider-make-default-office').click();
      await page.getByTestId('provider-default-office').waitFor();
      assert.match(configText(), /default_provider = "office" # the default, for now/);
      assert.equal(await page.getByTestId('provider-remove-office').count(), 0, 'the default offers Remove');
      await screenshot(page, 'providers.png');
      await page.getByTestId('provider-make-default-anthropic').click();
      await page.getByTestId('provider-default-anthropic').waitFor();
      await page.getByTestId('provider-remove-office').click();
      await page.getByTestId('provider-remove-office-confirm').click();
      await page.getByTestId('provider-office').waitFor({ state: 'detached' });
      text = configText();
      assert.equal(text, USER_TOML, `after removing the added provider the file is not the user's again:\n${text}`);
    } catch (e) {
      await screenshot(page, 'providers-failure.png').catch(() => {});
      throw e;
    }
  });
});
