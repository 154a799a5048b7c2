// Issue 15 polish that needs no sandbox: the Context view's sync bar and new-file tree,
// and the Uninstall plan's confirm box. Driven against `loopat serve` in Chromium.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser, screenshot, startServe, tempDir } from './lib.mjs';

describe('first-hour polish without a sandbox', () => {
  let serve;
  let browser;
  let root;

  before(async () => {
    root = tempDir('loopat-polish-');
    serve = await startServe({ home: join(root, 'ws-polish') });
    browser = await launchBrowser();
    await browser.page.goto(serve.url);
  });

  after(async () => {
    await browser?.close();
    await serve?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  async function shot(name, fn) {
    try {
      await fn(browser.page);
    } catch (e) {
      await screenshot(browser.page, `e2e-polish-${name}-failure.png`).catch(() => {});
      throw e;
    }
  }

  it('Context: one sync bar in the same place on every tab, plain words, no Push for the never-shared personal repo', () =>
    shot('context-sync', async (page) => {
      const place = {};
      for (const repo of ['knowledge', 'notes', 'personal']) {
        await page.goto(`${serve.origin}/#/context/${repo}`);
        await page.locator(`[data-testid="context-page"][data-repo="${repo}"]`).waitFor({ timeout: 20_000 });
        const bar = page.getByTestId('sync-status');
        await bar.locator('[data-ahead]').waitFor({ timeout: 20_000 });
        assert.equal(await bar.count(), 1, `one sync bar on ${repo}`);
        const b = await bar.boundingBox();
        place[repo] = [Math.round(b.x), Math.round(b.y), Math.round(b.width)];
        const text = await bar.innerText();
        assert.doesNotMatch(text, /solo:/, 'no jargon');
        if (repo === 'personal') {
          assert.equal(await bar.getByTestId('sync-push').count(), 0, 'nothing to push a private repo to');
          assert.match(await bar.getByTestId('sync-private').innerText(), /never pushed/);
        } else {
          assert.equal(await bar.getByTestId('sync-push').count(), 1);
          assert.match(text, /kept on this computer only/);
        }
      }
      assert.deepEqual(place.notes, place.knowledge, 'same place on Notes as on Knowledge');
      assert.deepEqual(place.personal, place.knowledge, 'same place on Personal as on Knowledge');
    }));

  it('Context: a new file in a folder opens its folder and is highlighted', () =>
    shot('context-newfile', async (page) => {
      await page.goto(`${serve.origin}/#/context/notes`);
      await page.getByTestId('context-new-file').click();
      await page.getByTestId('context-new-path').fill('meetings/2026/kickoff');
      await page.getByTestId('context-new-content').fill('# Kickoff\n');
      await page.getByTestId('context-new-save').click();
      const file = page.locator('[data-testid="context-file"][data-path="meetings/2026/kickoff.md"]');
      await file.waitFor({ timeout: 20_000 });
      assert.equal(await file.getAttribute('aria-current'), 'true', 'the new file is the highlighted one');
      assert.match(await file.getAttribute('class'), /\bactive\b/);
      assert.ok(await file.isVisible(), 'its folders opened');
      await screenshot(page, 'e2e-polish-context.png');
    }));

  it('Uninstall: the confirm box does not hold the text to type', () =>
    shot('uninstall-confirm', async (page) => {
      await page.goto(`${serve.origin}/#/settings/uninstall`);
      const box = page.getByTestId('uninstall-name');
      await box.waitFor({ timeout: 60_000 });
      const workspace = 'ws-polish';
      assert.notEqual(await box.getAttribute('placeholder'), workspace);
      assert.equal(await page.getByTestId('uninstall-run').isDisabled(), true);
      assert.match(await page.getByTestId('plan-folders').locator('h3').innerText(), /^Files and folders removed from /);
    }));
});
