// Issues 14/15: Settings in `loopat serve` against a temp LOOPAT_HOME. A multi-line file
// secret saved from Settings → Vault is stored byte for byte with mode 0600 (the UI shows
// its size, never its value); a saved ui.theme switches <html data-theme> without a
// reload; a saved sandbox.idle_minutes is in force at once (CurrentConfig over RPC);
// a restart-only key is named; Revert restores unsaved edits; a save over a file changed
// elsewhere meanwhile is refused and loses nothing.
// Needs a Secret Service: run under scripts/test/with-keyring.sh.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser, loopatBin, screenshot, startServe, tempDir } from './lib.mjs';

// A non-browser client of the RPC sends the token as a Bearer header.
async function rpc(serve, service, method, ...args) {
  const res = await fetch(`${serve.origin}/api/rpc/${service}/${method}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${serve.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(args),
  });
  assert.equal(res.status, 200, `${service}.${method}: HTTP ${res.status} ${await res.clone().text()}`);
  return (await res.json()).result;
}

describe('Settings: vault file secrets, live config, revert', () => {
  let serve;
  let browser;
  let root;

  before(async () => {
    root = tempDir('loopat-e2e-settings-');
    serve = await startServe({ home: join(root, 'ws-settings') });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await serve?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('saves a multi-line file secret byte for byte with mode 0600 and shows only its size', async () => {
    const { page, consoleErrors } = browser;
    const path = '.config/e2e/key.pem';
    const lines = ['-----BEGIN TEST KEY-----', 'bGluZSB0d28=', '', 'last line -----END TEST KEY-----'];
    const expected = lines.join('\n') + '\n';
    try {
      await page.goto(serve.url);
      await page.getByTestId('settings-link').click();
      await page.getByTestId('settings-vault').click();
      await page.getByTestId('vault-kind').selectOption('file');
      await page.getByTestId('vault-name').fill(path);
      assert.equal(await page.getByTestId('vault-mode').inputValue(), '0600');
      const box = page.getByTestId('vault-value');
      assert.equal(await box.evaluate((el) => el.tagName), 'TEXTAREA', 'file contents get a multi-line box');
      // Typed as a user would: Enter is a newline, not a submit.
      await box.click();
      for (const [i, line] of lines.entries()) {
        await page.keyboard.type(line);
        await page.keyboard.press('Enter');
        if (i === 0) assert.equal(await page.getByTestId('vault-saved').count(), 0, 'Enter submitted the form');
      }
      assert.equal(await box.inputValue(), expected);
      await page.getByTestId('vault-save').click();
      const saved = page.getByTestId('vault-saved');
      await saved.waitFor({ timeout: 20_000 });
      const size = Buffer.byteLength(expected);
      assert.match(await saved.innerText(), new RegExp(`\\b${size} bytes`));
      const body = await page.locator('body').innerText();
      assert.ok(!body.includes('bGluZSB0d28='), 'the secret value is shown back');
      assert.equal(await box.inputValue(), '', 'the value box is cleared');
      await page.getByTestId('vault-entries').getByText(path).waitFor({ timeout: 10_000 });

      // The CLI sees a file secret with mode 0600 and the typed size.
      const ls = execFileSync(loopatBin(), ['vault', 'ls'], { env: serve.env, encoding: 'utf8' });
      const row = ls.split('\n').find((l) => l.includes(path));
      assert.ok(row, `vault ls lists ${path}:\n${ls}`);
      assert.match(row, new RegExp(`\\bfile\\s+${path.replace(/\./g, '\\.')}\\s+0600\\s+${size}\\b`));

      // The stored bytes, read from the Secret Service the vault wrote to.
      const { workspaceId } = JSON.parse(readFileSync(join(serve.home, 'vaults.json'), 'utf8'));
      const wsName = serve.home.split('/').pop();
      const stored = execFileSync(
        'secret-tool',
        ['lookup', 'service', `loopat:${wsName}:${workspaceId}`, 'username', `default/file/${path}`],
        { env: serve.env },
      );
      assert.equal(stored.toString('utf8'), expected, 'stored bytes equal the typed text, newlines included');
      await screenshot(page, 'settings-vault.png');
      assert.deepEqual(consoleErrors, []);
    } catch (e) {
      await screenshot(page, 'settings-vault-failure.png').catch(() => {});
      throw e;
    }
  });

  it('applies theme and idle minutes without a restart, names restart-only keys, and reverts edits', async () => {
    const { page, consoleErrors } = browser;
    try {
      await page.goto(serve.url);
      await page.getByTestId('settings-link').click();
      await page.getByTestId('settings-general').click();
      const editor = page.getByTestId('config-editor');
      await page.waitForFunction(() => document.querySelector('[data-testid="config-editor"]')?.value.includes('[ui]'));
      await page.waitForFunction(() => document.documentElement.getAttribute('data-theme') === 'system');
      await page.evaluate(() => (window.__sameDocument = true));

      const original = await editor.inputValue();
      // The common fields edit their lines of the TOML; Save applies them.
      await page.getByTestId('config-theme').selectOption('dark');
      await page.getByTestId('config-idle').fill('7');
      const dark = await editor.inputValue();
      assert.match(dark, /^theme = "dark"$/m);
      assert.match(dark, /^idle_minutes = 7$/m);
      assert.equal(dark.split('\n').length, original.split('\n').length, 'lines replaced in place, comments kept');
      await page.getByTestId('config-save').click();
      await page.waitForFunction(() => document.documentElement.getAttribute('data-theme') === 'dark', null, { timeout: 10_000 });
      assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the theme applied without a reload');
      assert.match(await page.getByTestId('config-saved').innerText(), /Changes are in effect/);
      const live = await rpc(serve, 'SystemService', 'CurrentConfig');
      assert.equal(live.sandbox.idleMinutes, 7, 'idle minutes in force without a restart');
      assert.equal(live.ui.theme, 'dark');
      const bg = await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--bg').trim());
      assert.equal(bg, '#1a1c20', 'dark variables in effect');
      await screenshot(page, 'settings-dark.png');

      // Back to light: the attribute follows again (the raw TOML is the "advanced" view, folded by default).
      await page.getByTestId('config-advanced').locator('summary').click();
      await editor.fill(dark.replace('theme = "dark"', 'theme = "light"'));
      await page.getByTestId('config-save').click();
      await page.waitForFunction(() => document.documentElement.getAttribute('data-theme') === 'light', null, { timeout: 10_000 });

      // A restart-only key is named.
      const saved = await editor.inputValue();
      const rebased = saved.replace(/^base_image\s*=.*$/m, 'base_image = "docker.io/library/debian:trixie-slim"');
      assert.notEqual(rebased, saved, 'the default config.toml has a base_image line');
      await editor.fill(rebased);
      await page.getByTestId('config-save').click();
      await page.getByText('Restart loopat to apply: sandbox.base_image').first().waitFor({ timeout: 10_000 });

      // Revert drops unsaved edits and goes back to what was saved.
      const savedText = await editor.inputValue();
      await editor.fill(savedText + '\n# an unsaved edit\n[ui]\n');
      await page.getByTestId('config-revert').click();
      await page.waitForFunction((t) => document.querySelector('[data-testid="config-editor"]')?.value === t, savedText, { timeout: 10_000 });
      assert.equal(await page.getByTestId('config-save').isDisabled(), true, 'nothing left to save');
      assert.equal(readFileSync(join(serve.home, 'config.toml'), 'utf8'), savedText, 'the file holds the saved text');

      // An edit made elsewhere while this editor was open (here: a provider added over the
      // RPC, as the Providers panel or another window would) is not overwritten: Save says
      // so, the typed text stays in the editor, and Revert loads the file with both.
      const mine = savedText.replace(/^theme = "light"$/m, 'theme = "dark"');
      assert.notEqual(mine, savedText);
      await editor.fill(mine);
      await rpc(serve, 'ProviderService', 'Save', '', { name: 'elsewhere', baseURL: 'http://127.0.0.1:9/', models: [], keyRef: 'ELSEWHERE_KEY' });
      const withProvider = readFileSync(join(serve.home, 'config.toml'), 'utf8');
      assert.match(withProvider, /name = "elsewhere"/);
      await page.getByTestId('config-save').click();
      await page.getByText('config.toml was changed elsewhere since you opened it').first().waitFor({ timeout: 10_000 });
      assert.equal(await editor.inputValue(), mine, 'the typed text is kept');
      assert.equal(readFileSync(join(serve.home, 'config.toml'), 'utf8'), withProvider, 'the other edit survived');
      assert.equal((await rpc(serve, 'SystemService', 'CurrentConfig')).ui.theme, 'light', 'the refused text is not in force');
      await page.getByTestId('config-revert').click();
      await page.waitForFunction((t) => document.querySelector('[data-testid="config-editor"]')?.value === t, withProvider, { timeout: 10_000 });
      assert.deepEqual(consoleErrors, []);
    } catch (e) {
      await screenshot(page, 'settings-general-failure.png').catch(() => {});
      throw e;
    }
  });
});
