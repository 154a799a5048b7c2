// Issue 8: the Focus board in `loopat serve`. Boards and cards made through the UI are
// commits in the notes repository ($LOOPAT_HOME/context/notes) and survive a reload; a card
// dragged to another column stays there. With LOOPAT_E2E_AGENT=1 a card also starts a real
// loop (claude CLI in a sandbox, mock model API) and shows that loop's live state.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser, loopatBin, screenshot, startAgentWorkspace, startServe, stop, tempDir } from './lib.mjs';

const BOARD = 'e2e-board';
// Column ids are file names (a new board's "To do" is to-do.md); read them from the page.
let TODO = '';
let DOING = '';

function notesGit(home, ...args) {
  return execFileSync('git', ['-C', join(home, 'context', 'notes'), ...args], { encoding: 'utf8' });
}
function columnFile(home, board, column) {
  return readFileSync(join(home, 'context', 'notes', 'focus', 'boards', board, `${column}.md`), 'utf8');
}
const card = (page, column, text) =>
  page.locator(`[data-testid="column"][data-column="${column}"] [data-testid="card"]`).filter({ hasText: text });

describe('Focus board', () => {
  let serve;
  let browser;
  let root;

  before(async () => {
    root = tempDir('loopat-e2e-kanban-');
    serve = await startServe({ home: join(root, 'ws-kanban') });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await serve?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const failShot = async (name, fn) => {
    try {
      await fn();
    } catch (e) {
      await screenshot(browser.page, name).catch(() => {});
      throw e;
    }
  };

  it('creates a board and a card through the UI; both persist as notes commits', () =>
    failShot('e2e-kanban-create-failure.png', async () => {
      const { page } = browser;
      await page.goto(serve.url);
      await page.getByTestId('kanban-link').click();
      await page.getByTestId('kanban-page').waitFor({ timeout: 20_000 });
      // The seeded default board opens first.
      await page.locator('[data-testid="board"][data-board="default"]').waitFor({ timeout: 20_000 });

      await page.getByTestId('board-name').fill(BOARD);
      await page.getByTestId('board-create').click();
      await page.locator(`[data-testid="board"][data-board="${BOARD}"]`).waitFor({ timeout: 20_000 });
      assert.match(page.url(), new RegExp(`#/kanban/${BOARD}$`));
      const titles = await page.locator('[data-testid="column"] .column-title').allInnerTexts();
      assert.deepEqual(titles, ['To do', 'Doing', 'Done']);
      [TODO, DOING] = await page.locator('[data-testid="column"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-column')));

      const todo = page.locator(`[data-testid="column"][data-column="${TODO}"]`);
      await todo.getByTestId('card-new').fill('Write the release notes #docs');
      await todo.getByTestId('card-add').click();
      await card(page, TODO, 'Write the release notes').waitFor({ timeout: 20_000 });
      await todo.getByTestId('card-new').fill('Card to delete');
      await todo.getByTestId('card-new').press('Enter');
      await card(page, TODO, 'Card to delete').waitFor({ timeout: 20_000 });

      await page.reload();
      await card(page, TODO, 'Write the release notes').waitFor({ timeout: 20_000 });
      assert.equal(await card(page, TODO, 'Card to delete').count(), 1);
      assert.match(columnFile(serve.home, BOARD, TODO), /^- \[ \] Write the release notes #docs$/m);
      const log = notesGit(serve.home, 'log', '--format=%s');
      assert.match(log, new RegExp(`kanban: create board ${BOARD}`));
      assert.equal((log.match(new RegExp(`add card to ${BOARD}/${TODO}`, 'g')) ?? []).length, 2, log);
      assert.equal(notesGit(serve.home, 'status', '--porcelain'), '', 'every change is committed');
    }));

  it('edits and deletes cards from the card details', () =>
    failShot('e2e-kanban-edit-failure.png', async () => {
      const { page } = browser;
      await card(page, TODO, 'Write the release notes').click();
      const details = page.getByTestId('card-details');
      await details.waitFor();
      await details.getByTestId('card-edit-desc').fill('Cover the uninstall button.\nLink the docs.');
      await details.getByTestId('card-save').click();
      await page.waitForFunction(() => {
        const b = document.querySelector('[data-testid="card-save"]');
        return b && b.disabled;
      }, null, { timeout: 20_000 });
      await page.keyboard.press('Escape');
      await card(page, TODO, 'Card to delete').click();
      await page.getByTestId('card-delete').click();
      await page.getByTestId('card-delete-confirm').click();
      await page.getByTestId('card-details').waitFor({ state: 'detached', timeout: 20_000 });
      await page.waitForFunction(
        () => ![...document.querySelectorAll('[data-testid="card"]')].some((c) => c.textContent.includes('Card to delete')),
        null,
        { timeout: 20_000 },
      );
      const todo = columnFile(serve.home, BOARD, TODO);
      assert.doesNotMatch(todo, /Card to delete/);
      assert.match(todo, /^ {2}Cover the uninstall button\.$/m, todo);
      assert.match(todo, /^ {2}Link the docs\.$/m, todo);
      const log = notesGit(serve.home, 'log', '--format=%s');
      assert.match(log, new RegExp(`kanban: edit card \\S+ in ${BOARD}/${TODO}`));
      assert.match(log, new RegExp(`kanban: delete card \\S+ from ${BOARD}/${TODO}`));
    }));

  it('drags a card to another column and it stays there after a reload', () =>
    failShot('e2e-kanban-drag-failure.png', async () => {
      const { page } = browser;
      const src = card(page, TODO, 'Write the release notes');
      const dst = page.locator(`[data-testid="column"][data-column="${DOING}"] .card-list`);
      await src.dragTo(dst);
      await card(page, DOING, 'Write the release notes').waitFor({ timeout: 20_000 });
      assert.equal(await card(page, TODO, 'Write the release notes').count(), 0);
      // The move is a commit: wait for it, then reload.
      const deadline = Date.now() + 20_000;
      while (!new RegExp(`kanban: move card \\S+ ${TODO} -> ${DOING}`).test(notesGit(serve.home, 'log', '--format=%s'))) {
        assert.ok(Date.now() < deadline, 'move commit in notes');
        await new Promise((r) => setTimeout(r, 200));
      }
      await page.reload();
      await card(page, DOING, 'Write the release notes').waitFor({ timeout: 20_000 });
      assert.equal(await card(page, TODO, 'Write the release notes').count(), 0);
      assert.match(columnFile(serve.home, BOARD, DOING), /Write the release notes/);
      assert.doesNotMatch(columnFile(serve.home, BOARD, TODO), /Write the release notes/);
      // The description travelled with the card.
      assert.match(columnFile(serve.home, BOARD, DOING), /Cover the uninstall button\./);
      await screenshot(page, 'e2e-kanban-board.png');
    }));
});

const agent = process.env.LOOPAT_E2E_AGENT === '1';
const skipAgent = agent
  ? false
  : 'LOOPAT_E2E_AGENT is not set to 1: creating a loop from a card needs podman, the sandbox image and the mock model API';

describe('Focus board → loop', { skip: skipAgent }, () => {
  let mock;
  let serve;
  let browser;
  let root;

  before(async () => {
    root = tempDir('loopat-e2e-kanban-agent-');
    // Unique name: the cleanup uninstalls everything labelled with it.
    const home = join(root, `ws-kagent-${randomBytes(4).toString('hex')}`);
    mock = await startAgentWorkspace(home);
    serve = await startServe({ home });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await serve?.close();
    await stop(mock?.child);
    // The loop is deleted in the test; if it failed first, its container, network and image
    // tag would stay: uninstall the test's workspace (only objects labelled with its name).
    if (serve) {
      const u = spawnSync(loopatBin(), ['uninstall', '--yes'], { env: serve.env, encoding: 'utf8', timeout: 120_000 });
      if (u.status !== 0) console.error(`cleanup: loopat uninstall exited ${u.status}:\n${u.stdout}\n${u.stderr}`);
    }
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('creates a loop from a card, the reply arrives, and the card shows the loop state', async () => {
    const { page } = browser;
    try {
      await page.goto(serve.url);
      await page.goto(`${serve.origin}/#/settings/vault`);
      await page.getByTestId('vault-name').fill('ANTHROPIC_API_KEY');
      await page.getByTestId('vault-value').fill('sk-mock-e2e');
      await page.getByTestId('vault-save').click();
      await page.getByTestId('vault-entries').getByText('ANTHROPIC_API_KEY').waitFor({ timeout: 20_000 });

      await page.goto(`${serve.origin}/#/kanban/default`);
      const todo = page.locator('[data-testid="column"][data-column="todo"]');
      await todo.getByTestId('card-new').fill('Card loop task');
      await todo.getByTestId('card-add').click();
      await card(page, 'todo', 'Card loop task').click();
      const details = page.getByTestId('card-details');
      await details.getByTestId('card-edit-desc').fill('say hello');
      await details.getByTestId('card-create-loop').click();
      await details.getByTestId('card-linked-loop').waitFor({ timeout: 60_000 });
      await page.keyboard.press('Escape');

      const badge = card(page, 'todo', 'Card loop task').getByTestId('card-loop');
      await badge.waitFor({ timeout: 20_000 });
      assert.match(columnFile(serve.home, 'default', 'todo'), /> loop: \S+/);
      // The live state follows loop:<id>:status until the turn ends (the first turn starts the sandbox).
      await page.waitForFunction(
        () => ['idle', 'waiting', 'error'].includes(document.querySelector('[data-testid="card-loop"]')?.getAttribute('data-status') ?? ''),
        null,
        { timeout: 240_000 },
      );
      assert.notEqual(await badge.getAttribute('data-status'), 'error', `loop failed; serve output:\n${serve.output().slice(-2000)}`);
      await screenshot(page, 'e2e-kanban-loop-card.png');
      await badge.click();
      await page.getByTestId('loop-page').waitFor({ timeout: 20_000 });
      assert.equal(await page.getByTestId('loop-title').innerText(), 'Card loop task');
      await page.getByTestId('msg-assistant').filter({ hasText: 'echo: Card loop task' }).first().waitFor({ timeout: 60_000 });
      assert.match(await page.getByTestId('messages').innerText(), /say hello/);

      await page.getByTestId('loop-delete').click();
      await page.getByTestId('loop-delete-confirm').click();
      await page.getByTestId('empty-state').waitFor({ timeout: 60_000 });
    } catch (e) {
      await screenshot(page, 'e2e-kanban-agent-failure.png').catch(() => {});
      throw e;
    }
  });
});
