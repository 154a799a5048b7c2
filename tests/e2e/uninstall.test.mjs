// Issue 9: Settings → Uninstall in `loopat serve` against a temp LOOPAT_HOME the test owns:
// the plan is shown, the button stays disabled until the workspace name is typed, a run
// without keep-data reports progress and a result, and the LOOPAT_HOME folder is gone.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser, screenshot, startServe, tempDir } from './lib.mjs';

describe('Settings: uninstall', () => {
  let serve;
  let browser;
  let root;
  // A unique workspace name: uninstall removes podman objects labelled with it.
  const name = `ws-un-${randomBytes(4).toString('hex')}`;

  before(async () => {
    root = tempDir('loopat-e2e-uninstall-');
    const home = join(root, name);
    mkdirSync(join(home, 'loops'), { recursive: true });
    // Some user data that a run without keep-data must remove.
    writeFileSync(join(home, 'loops', 'marker.txt'), 'data that goes\n');
    serve = await startServe({ home });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await serve?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('shows the plan, needs the workspace name, runs and removes LOOPAT_HOME', async () => {
    const { page, consoleErrors } = browser;
    try {
      await page.goto(serve.url);
      await page.getByTestId('settings-link').click();
      await page.getByTestId('settings-uninstall').click();
      await page.getByTestId('uninstall').waitFor({ timeout: 20_000 });

      // The default keeps data; unchecking it re-plans with LOOPAT_HOME itself removed.
      const keep = page.getByTestId('uninstall-keep-data');
      assert.equal(await keep.isChecked(), true, 'keep-data is the safe default');
      await page.getByTestId('uninstall-plan').waitFor({ timeout: 30_000 });
      await keep.uncheck();
      const folders = page.getByTestId('plan-folders');
      await page.waitForFunction(
        (home) => document.querySelector('[data-testid="plan-folders"]')?.textContent?.includes(home) &&
          !document.querySelector('[data-testid="plan-kept"]'),
        serve.home,
        { timeout: 30_000 },
      );
      assert.match(await folders.innerText(), new RegExp(serve.home.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      // What stays lists commands to run by hand.
      assert.match(await page.getByTestId('plan-stays').innerText(), /podman/);
      for (const id of ['plan-containers', 'plan-images', 'plan-networks', 'plan-keychain']) {
        assert.equal(await page.getByTestId(id).count(), 1, `${id} shown`);
      }

      const button = page.getByTestId('uninstall-run');
      const nameField = page.getByTestId('uninstall-name');
      assert.equal(await button.isDisabled(), true, 'disabled before the name is typed');
      await nameField.fill(name.slice(0, -1));
      assert.equal(await button.isDisabled(), true, 'disabled with a partial name');
      await nameField.fill(`${name}x`);
      assert.equal(await button.isDisabled(), true, 'disabled with a wrong name');
      await nameField.fill(name);
      assert.equal(await button.isDisabled(), false, 'enabled once the exact name is typed');
      assert.match(await button.innerText(), /delete all data/i);
      await screenshot(page, 'e2e-uninstall-plan.png');

      await button.click();
      await page.getByTestId('uninstall-progress').waitFor({ timeout: 20_000 });
      const result = page.getByTestId('uninstall-result');
      await result.waitFor({ timeout: 120_000 });
      const data = page.getByTestId('uninstall-step-data');
      assert.equal(await data.getAttribute('data-status'), 'done', `data step: ${await data.innerText()}`);
      for (const step of ['stop-loops', 'containers', 'images', 'networks', 'keychain', 'podman-service']) {
        assert.equal(await page.getByTestId(`uninstall-step-${step}`).count(), 1, `step ${step} listed`);
      }
      // Everything this workspace made is removable here (its own podman, keychain and
      // folders), so the uninstall must be complete; leftovers would be listed with reasons.
      const remaining = page.getByTestId('uninstall-remaining');
      const leftovers = (await remaining.count()) > 0 ? await remaining.innerText() : '';
      assert.equal(await result.getAttribute('data-complete'), 'true', `uninstall left things behind:\n${leftovers}`);
      await page.getByTestId('uninstall-quit').waitFor();
      assert.match(await page.getByTestId('uninstall-quit').innerText(), /will close|would close/);
      await screenshot(page, 'e2e-uninstall-result.png');
      assert.equal(existsSync(serve.home), false, `${serve.home} should be gone`);
      assert.deepEqual(consoleErrors, [], 'no page errors');
    } catch (e) {
      await screenshot(page, 'e2e-uninstall-failure.png').catch(() => {});
      throw e;
    }
  });
});
