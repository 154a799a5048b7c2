// Issue 17, the composer in `loopat serve`: the slash menu from the real CLI's init
// commands filters and inserts, the @ picker inserts a workdir path, ↑ recalls the last
// message, a pasted image shows as a chip and reaches the model API as an image content
// block, and New session draws a divider and starts a conversation without the earlier
// turns. Needs LOOPAT_E2E_AGENT=1 (podman, the sandbox image and the pinned CLI).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { screenshot, startAgentServe, stop, storeKeyAndCreateLoop } from './lib.mjs';

const enabled = process.env.LOOPAT_E2E_AGENT === '1';
const skip = enabled ? false : 'LOOPAT_E2E_AGENT is not set to 1: the composer test needs podman, the sandbox image and the mock model API';

// A 1×1 PNG.
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

describe('composer', { skip }, () => {
  let fx;
  let serve;
  let browser;
  before(async () => {
    fx = await startAgentServe('composer', { record: true });
    ({ serve, browser } = fx);
  });
  after(() => fx?.close());

  it('slash menu, @ picker, history, pasted image and New session', async () => {
    const { page } = browser;
    try {
      await storeKeyAndCreateLoop(page, serve, 'e2e composer');
      const loopId = decodeURIComponent(page.url().split('/').pop());
      const input = page.getByTestId('composer-input');
      const messages = page.getByTestId('messages');

      await input.fill('hello');
      await input.press('Enter');
      await messages.getByText('echo: hello').waitFor({ timeout: 240_000 });

      // The CLI's init listed its commands: "/comp" filters the menu, Tab inserts.
      await input.fill('');
      await input.pressSequentially('/comp');
      const slash = page.getByTestId('slash-menu');
      await slash.waitFor({ timeout: 20_000 });
      const names = await slash.getByTestId('composer-menu-item').allInnerTexts();
      assert.ok(names.length > 0 && names.every((n) => n.toLowerCase().includes('comp')), `menu not filtered: ${names}`);
      assert.ok(names.some((n) => n.startsWith('/compact')), `no /compact from the CLI: ${names}`);
      await input.press('Tab');
      assert.equal(await input.inputValue(), '/compact ');
      await slash.waitFor({ state: 'detached' });

      // @ picker over the workdir.
      const work = join(serve.home, 'loops', loopId, 'workdir');
      mkdirSync(join(work, 'src'), { recursive: true });
      writeFileSync(join(work, 'src', 'picker-target.txt'), 'x\n');
      await input.fill('');
      await input.pressSequentially('look at @picker-t');
      const files = page.getByTestId('file-menu');
      await files.getByText('src/picker-target.txt').waitFor({ timeout: 20_000 });
      await input.press('Enter');
      assert.equal(await input.inputValue(), 'look at @src/picker-target.txt ');

      // ↑ on an empty box recalls the last message; ↓ brings the draft back.
      await input.fill('');
      await input.press('ArrowUp');
      assert.equal(await input.inputValue(), 'hello');
      await input.press('ArrowDown');
      assert.equal(await input.inputValue(), '');

      // A pasted image: a thumbnail chip, then sent with the message.
      await input.focus();
      await page.evaluate((b64) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], 'shot.png', { type: 'image/png' }));
        const el = document.querySelector('[data-testid="composer-input"]');
        el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
      }, PNG);
      const chip = page.getByTestId('image-chip');
      await chip.waitFor({ timeout: 10_000 });
      assert.match(await chip.locator('img').getAttribute('src'), /^data:image\/png;base64,/);
      await input.fill('what is in this picture');
      await input.press('Enter');
      await page.getByTestId('msg-images').getByText('1 image attached').waitFor({ timeout: 20_000 });
      await messages.getByText('echo: what is in this picture').waitFor({ timeout: 120_000 });
      await chip.waitFor({ state: 'detached' });
      await page.getByTestId('context-meter').waitFor({ timeout: 20_000 });
      await screenshot(page, 'e2e-composer.png');

      // New session: a divider, and the next request carries none of the earlier turns.
      await page.waitForFunction(() => document.querySelector('[data-testid="loop-status"]')?.textContent?.match(/idle/), null, { timeout: 60_000 });
      await page.getByTestId('new-session').click();
      await page.getByTestId('session-divider').waitFor({ timeout: 20_000 });
      await input.fill('after the clear');
      await input.press('Enter');
      await messages.getByText('echo: after the clear').waitFor({ timeout: 120_000 });
      assert.ok(await messages.getByText('echo: hello').isVisible(), 'the earlier conversation left the screen');

      await stop(fx.mock.child); // writes the record
      const reqs = readFileSync(fx.record, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .filter((r) => r.method === 'POST' && r.path === '/v1/messages');
      const blocks = reqs.flatMap((r) => (r.body?.messages ?? []).flatMap((m) => (Array.isArray(m.content) ? m.content : [])));
      assert.ok(
        blocks.some((b) => b.type === 'image' && b.source?.media_type === 'image/png' && b.source?.data === PNG),
        'no image content block reached the model API',
      );
      const last = JSON.stringify(reqs[reqs.length - 1].body.messages);
      assert.ok(last.includes('after the clear') && !last.includes('what is in this picture'), `the new session resumed the old one: ${last.slice(0, 500)}`);
    } catch (e) {
      await screenshot(page, 'e2e-composer-failure.png').catch(() => {});
      e.message += `\n--- loopat serve output (tail) ---\n${serve.output().slice(-3000)}`;
      throw e;
    }
  });
});
