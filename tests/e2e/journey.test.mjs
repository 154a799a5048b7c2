// Issue 4 journey against `loopat serve` with the real claude CLI in a real sandbox and
// the mock Anthropic API: create a loop, send a message, watch the streamed reply and a
// tool card, read the file the tool wrote, open the terminal and run a command.
// Needs LOOPAT_E2E_AGENT=1 (podman, the sandbox image and the pinned CLI are set up by make test-setup).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser, removeWorkspaceResources, screenshot, startAgentWorkspace, startServe, stop, tempDir } from './lib.mjs';

const enabled = process.env.LOOPAT_E2E_AGENT === '1';
const skip = enabled ? false : 'LOOPAT_E2E_AGENT is not set to 1: the agent journey needs podman, the sandbox image and the mock model API';

describe('loop journey', { skip }, () => {
  let mock;
  let serve;
  let browser;
  let workRoot;
  const workspace = `ws-journey-${process.pid}`;

  before(async () => {
    workRoot = tempDir('loopat-journey-');
    const home = join(workRoot, workspace);
    mock = await startAgentWorkspace(home, { chunkDelay: '40ms' });
    serve = await startServe({ home });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await serve?.close(); // the server removes nothing; the loop is deleted in the last step
    await stop(mock?.child);
    removeWorkspaceResources(join(workRoot, workspace)); // what the app left in podman for this workspace
    if (workRoot) rmSync(workRoot, { recursive: true, force: true });
  });

  it('stores the provider key through the Vault settings (password field, not echoed)', async () => {
    const { page } = browser;
    await page.goto(serve.url);
    await page.goto(`${serve.origin}/#/settings/vault`);
    await page.getByTestId('vault-name').fill('ANTHROPIC_API_KEY');
    const value = page.getByTestId('vault-value');
    assert.equal(await value.getAttribute('type'), 'password');
    await value.fill('sk-mock-e2e');
    await page.getByTestId('vault-save').click();
    await page.getByTestId('vault-entries').getByText('ANTHROPIC_API_KEY').waitFor({ timeout: 20_000 });
    assert.equal(await value.inputValue(), '', 'the secret is cleared after saving');
    assert.equal(await page.getByText('sk-mock-e2e').count(), 0, 'the secret is never shown');
  });

  it('creates a loop, streams a reply with a Bash tool card, and shows the file it wrote', async () => {
    const { page } = browser;
    try {
      await chatJourney(page);
    } catch (e) {
      await screenshot(page, 'e2e-loop-chat-failure.png').catch(() => {});
      const transcript = await page.getByTestId('messages').innerText().catch(() => '(no transcript)');
      e.message += `\n--- transcript on screen ---\n${transcript}\n--- loopat serve output (tail) ---\n${serve.output().slice(-3000)}`;
      throw e;
    }
  });

  async function chatJourney(page) {
    await page.goto(`${serve.origin}/#/`);
    await page.getByTestId('new-loop').click();
    await page.getByTestId('new-loop-title').fill('e2e journey');
    await page.getByTestId('new-loop-create').click();
    await page.getByTestId('loop-page').waitFor({ timeout: 60_000 });
    assert.equal(await page.getByTestId('loop-title').innerText(), 'e2e journey');

    // Remember whether partial text was ever on screen: deltas are transient by design.
    await page.evaluate(() => {
      window.__sawStreaming = false;
      new MutationObserver(() => {
        if (document.querySelector('[data-testid="streaming"]')) window.__sawStreaming = true;
      }).observe(document.body, { childList: true, subtree: true });
    });
    const input = page.getByTestId('composer-input');
    await input.fill('please run [[tool:bash echo e2e-$((6*7)) > e2e-proof.txt && cat e2e-proof.txt]]');
    await input.press('Enter');

    const messages = page.getByTestId('messages');
    await messages.getByTestId('msg-user').first().waitFor({ timeout: 30_000 });
    const card = messages.locator('[data-testid="tool-card"][data-tool="Bash"]').first();
    await card.waitFor({ timeout: 180_000 }); // first turn may start the container
    assert.match(await card.innerText(), /e2e-proof\.txt/);
    await messages.getByText('tool result: e2e-42').waitFor({ timeout: 120_000 });
    assert.match(await card.getByTestId('tool-result').innerText(), /e2e-42/);
    assert.equal(await page.evaluate(() => window.__sawStreaming), true, 'streamed deltas were shown');
    await page.waitForFunction(() => document.querySelector('[data-testid="loop-status"]')?.textContent?.match(/idle|waiting/), null, {
      timeout: 60_000,
    });
    assert.equal(await page.getByTestId('error-card').count(), 0, 'no error cards');

    await page.getByTestId('tab-files').click();
    await page.getByTestId('files-refresh').click();
    await page.getByTestId('tree-e2e-proof.txt').click({ timeout: 20_000 });
    await page.getByTestId('file-content').getByText('e2e-42').waitFor({ timeout: 20_000 });
    await screenshot(page, 'e2e-loop-chat.png');
  }

  it('runs a command in the loop terminal', async () => {
    const { page } = browser;
    await page.getByTestId('tab-terminal').click();
    await page.locator('[data-testid="terminal"][data-state="open"]').waitFor({ timeout: 60_000 });
    await page.locator('[data-testid="terminal"] .xterm').click();
    await page.keyboard.type('echo term-$((6*7))');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('[data-testid="terminal"] .xterm-rows')?.textContent?.includes('term-42'), null, {
      timeout: 30_000,
    });
    await screenshot(page, 'e2e-loop-terminal.png');
  });

  it('promotes a note written in the sandbox back to the workspace', async () => {
    const { page } = browser;
    // Write into the loop's notes clone from the terminal, as the agent would.
    await page.locator('[data-testid="terminal"] .xterm').click();
    await page.keyboard.type('echo promoted-by-e2e > /loopat/context/notes/e2e-note.md && echo wrote-$((2*21))');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('[data-testid="terminal"] .xterm-rows')?.textContent?.includes('wrote-42'), null, {
      timeout: 30_000,
    });
    await page.getByTestId('loop-promote').click();
    const result = page.getByTestId('loop-promote-result');
    await result.getByText('notes: promoted').waitFor({ timeout: 60_000 });
    // The workspace's notes now hold it: the Context page reads the main notes repo.
    const loopUrl = page.url();
    await page.goto(loopUrl.replace(/#.*$/, '#/context/notes'));
    await page.getByText('e2e-note.md').first().waitFor({ timeout: 30_000 });
    await page.goto(loopUrl);
    await page.getByTestId('loop-page').waitFor({ timeout: 30_000 });
  });

  it('deletes the loop with its sandbox', async () => {
    const { page } = browser;
    await page.getByTestId('loop-delete').click();
    await page.getByTestId('loop-delete-confirm').click();
    await page.getByTestId('empty-state').waitFor({ timeout: 60_000 });
  });
});

