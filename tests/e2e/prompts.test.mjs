// Issue 17: the agent's permission requests reach the user as a card in the chat of
// `loopat serve`. In the "default" permission mode the real CLI (sandbox, mock model API)
// asks before Bash: Allow once runs it, Deny with a note sends the note to the model,
// and the sidebar says "needs input" while the card is open.
// Needs LOOPAT_E2E_AGENT=1 (podman, the sandbox image and the pinned CLI).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot, startAgentServe, storeKeyAndCreateLoop } from './lib.mjs';

const enabled = process.env.LOOPAT_E2E_AGENT === '1';
const skip = enabled ? false : 'LOOPAT_E2E_AGENT is not set to 1: permission prompts need podman, the sandbox image and the mock model API';

describe('permission prompts', { skip }, () => {
  let fx;
  let serve;
  let browser;
  before(async () => {
    fx = await startAgentServe('prompts', { permissionMode: 'default' });
    ({ serve, browser } = fx);
  });
  after(() => fx?.close());

  it('asks before Bash; Allow once runs it, Deny sends the note', async () => {
    const { page } = browser;
    try {
      await storeKeyAndCreateLoop(page, serve, 'e2e prompts');
      assert.equal(await page.getByTestId('permission-mode').inputValue(), 'default');
      const input = page.getByTestId('composer-input');
      const messages = page.getByTestId('messages');

      // A first prompt without a marker, so each later prompt's marker picks the reply.
      await input.fill('hello');
      await input.press('Enter');
      await messages.getByText('echo: hello').waitFor({ timeout: 240_000 });

      await input.fill('[[tool:bash echo allowed-$((6*7)) > allowed.txt && cat allowed.txt]]');
      await input.press('Enter');
      const card = page.getByTestId('pending-card');
      await card.waitFor({ timeout: 120_000 });
      assert.match(await card.getByTestId('pending-command').innerText(), /allowed\.txt/);
      await page.locator('[data-testid="loop-item-sub"]').filter({ hasText: 'needs input' }).first().waitFor({ timeout: 20_000 });
      await screenshot(page, 'e2e-permission-card.png');
      await card.getByTestId('pending-allow').click();
      await messages.getByText('tool result: allowed-42').waitFor({ timeout: 120_000 });
      await card.waitFor({ state: 'detached', timeout: 20_000 });

      await input.fill('[[tool:bash echo denied > denied.txt]]');
      await input.press('Enter');
      await card.waitFor({ timeout: 120_000 });
      await card.getByTestId('pending-deny').click();
      await card.getByTestId('pending-deny-note').fill('not in this folder');
      await card.getByTestId('pending-deny-send').click();
      await messages.getByText('tool error: not in this folder').waitFor({ timeout: 120_000 });
      await page.waitForFunction(() => document.querySelector('[data-testid="loop-status"]')?.textContent?.match(/idle/), null, {
        timeout: 60_000,
      });
    } catch (e) {
      await screenshot(page, 'e2e-prompts-failure.png').catch(() => {});
      e.message += `\n--- loopat serve output (tail) ---\n${serve.output().slice(-3000)}`;
      throw e;
    }
  });
});
