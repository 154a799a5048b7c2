// Issue 8: the Context view in `loopat serve`: a notes file created and edited in the UI is
// a commit in $LOOPAT_HOME/context/notes, its markdown renders (GFM tables), search finds
// it, Push sends it to the origin, and knowledge is read-only with an empty proposals list.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser, screenshot, startServe, tempDir } from './lib.mjs';

const notesGit = (home, ...args) => execFileSync('git', ['-C', join(home, 'context', 'notes'), ...args], { encoding: 'utf8' });

describe('Context view', () => {
  let serve;
  let browser;
  let root;

  before(async () => {
    root = tempDir('loopat-e2e-context-');
    serve = await startServe({ home: join(root, 'ws-context') });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await serve?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('creates, renders, edits, finds and pushes a notes file', async () => {
    const { page, consoleErrors } = browser;
    try {
      await page.goto(serve.url);
      await page.getByTestId('context-link').click();
      await page.getByTestId('context-page').waitFor({ timeout: 20_000 });
      assert.match(page.url(), /#\/context\/knowledge$/);
      await page.getByTestId('context-tab-notes').click();
      await page.locator('[data-testid="context-page"][data-repo="notes"]').waitFor();
      await page.getByTestId('context-tree').waitFor({ timeout: 20_000 });

      await page.getByTestId('context-new-file').click();
      await page.getByTestId('context-new-path').fill('ideas/plan');
      await page.getByTestId('context-new-content').fill('# Release plan\n\n| step | owner |\n|---|---|\n| docs | ada |\n');
      await page.getByTestId('context-new-save').click();
      const view = page.locator('[data-testid="context-file-view"][data-path="ideas/plan.md"]');
      await view.waitFor({ timeout: 20_000 });
      const md = view.getByTestId('context-markdown');
      await md.locator('h1', { hasText: 'Release plan' }).waitFor();
      assert.equal(await md.locator('table td').first().innerText(), 'docs', 'GFM table rendered');
      assert.equal(readFileSync(join(serve.home, 'context', 'notes', 'ideas', 'plan.md'), 'utf8').split('\n')[0], '# Release plan');

      await view.getByTestId('context-edit').click();
      await view.getByTestId('context-editor').fill('# Release plan\n\nShip on Friday.\n');
      await view.getByTestId('context-save').click();
      await md.getByText('Ship on Friday.').waitFor({ timeout: 20_000 });
      const log = notesGit(serve.home, 'log', '--format=%s');
      assert.equal((log.match(/^ideas\/plan\.md: edit$/gm) ?? []).length, 2, log);
      assert.equal(notesGit(serve.home, 'status', '--porcelain'), '');

      await page.getByTestId('context-search').fill('friday');
      await page.getByTestId('context-search').press('Enter');
      const hits = page.getByTestId('context-hits');
      await hits.getByText('ideas/plan.md').first().waitFor({ timeout: 20_000 });

      // Two local commits the origin lacks; Push sends them.
      const sync = page.getByTestId('sync-status');
      await page.waitForFunction(() => Number(document.querySelector('[data-testid="sync-status"] [data-ahead]')?.getAttribute('data-ahead')) >= 2, null, {
        timeout: 30_000,
      });
      await sync.getByTestId('sync-push').click();
      await page.waitForFunction(() => document.querySelector('[data-testid="sync-status"] [data-ahead]')?.getAttribute('data-ahead') === '0', null, {
        timeout: 30_000,
      });
      // Solo mode: the origin is the workspace's own bare repository.
      const branch = notesGit(serve.home, 'rev-parse', '--abbrev-ref', 'HEAD').trim();
      const origin = execFileSync('git', ['-C', join(serve.home, 'origins', 'notes.git'), 'rev-parse', branch], { encoding: 'utf8' });
      assert.equal(origin, notesGit(serve.home, 'rev-parse', 'HEAD'), 'origin has the pushed commits');
      await screenshot(page, 'e2e-context-notes.png');
      assert.deepEqual(consoleErrors, []);
    } catch (e) {
      await screenshot(page, 'e2e-context-failure.png').catch(() => {});
      throw e;
    }
  });

  it('shows knowledge read-only with an empty proposals list that says what to do', async () => {
    const { page } = browser;
    await page.getByTestId('context-tab-knowledge').click();
    await page.locator('[data-testid="context-page"][data-repo="knowledge"]').waitFor();
    assert.equal(await page.getByTestId('context-new-file').count(), 0, 'no new-file button on knowledge');
    await page.getByTestId('proposals-empty').waitFor({ timeout: 30_000 });
    assert.match(await page.getByTestId('proposals-empty').innerText(), /promote/i);
    // Open any knowledge file if there is one: it must say why it is read-only.
    const file = page.getByTestId('context-file').first();
    if ((await file.count()) > 0) {
      await file.click();
      await page.getByTestId('knowledge-readonly').waitFor();
      assert.equal(await page.getByTestId('context-edit').count(), 0);
    } else {
      await page.getByTestId('context-empty').waitFor();
    }
  });

  it('opens the personal repository with its own tree and no errors', async () => {
    const { page } = browser;
    await page.getByTestId('context-tab-personal').click();
    await page.locator('[data-testid="context-page"][data-repo="personal"]').waitFor();
    await page.locator('[data-testid="context-tree"], [data-testid="context-empty"]').first().waitFor({ timeout: 20_000 });
    assert.equal(await page.getByTestId('context-new-file').count(), 1, 'personal files can be created');
    assert.equal(await page.getByTestId('toast-error').count(), 0, await page.getByTestId('toast-error').allInnerTexts().then(String));
  });
});
