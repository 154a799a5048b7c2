// Issue 15: the defects a new user hits in the first hour, kept fixed. Driven against
// `loopat serve` with the real claude CLI in a real sandbox and the mock Anthropic API.
// Needs LOOPAT_E2E_AGENT=1 (podman, the sandbox image and the pinned CLI: make test-setup).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { launchBrowser, loopatBin, removeWorkspaceResources, screenshot, spawnAndWait, startAgentWorkspace, startServe, stop, tempDir } from './lib.mjs';

const enabled = process.env.LOOPAT_E2E_AGENT === '1';
const skip = enabled ? false : 'LOOPAT_E2E_AGENT is not set to 1: the first-hour checks need podman, the sandbox image and the mock model API';

describe('first hour', { skip }, () => {
  let mock;
  let serve;
  let browser;
  let workRoot;
  const workspace = `ws-firsthour-${process.pid}`;

  before(async () => {
    workRoot = tempDir('loopat-firsthour-');
    const home = join(workRoot, workspace);
    mock = await startAgentWorkspace(home, { chunkDelay: '20ms' });
    serve = await startServe({ home });
    browser = await launchBrowser();
    const { page } = browser;
    await page.goto(serve.url);
    await page.goto(`${serve.origin}/#/settings/vault`);
    await page.getByTestId('vault-name').fill('ANTHROPIC_API_KEY');
    await page.getByTestId('vault-value').fill('sk-mock-e2e');
    await page.getByTestId('vault-save').click();
    await page.getByTestId('vault-entries').getByText('ANTHROPIC_API_KEY').waitFor({ timeout: 20_000 });
  });

  after(async () => {
    await browser?.close();
    await serve?.close();
    await stop(mock?.child);
    removeWorkspaceResources(join(workRoot, workspace)); // what the app left in podman for this workspace
    if (workRoot) rmSync(workRoot, { recursive: true, force: true });
  });

  // Adds context (screen, transcript, server log) to a failure.
  async function explained(name, fn) {
    const { page } = browser;
    try {
      await fn(page);
    } catch (e) {
      await screenshot(page, `e2e-firsthour-${name}-failure.png`).catch(() => {});
      const transcript = await page.getByTestId('messages').innerText().catch(() => '(no transcript)');
      e.message += `\n--- transcript on screen ---\n${transcript}\n--- loopat serve output (tail) ---\n${serve.output().slice(-3000)}`;
      throw e;
    }
  }

  const status = (page) => page.getByTestId('loop-status').innerText();
  async function waitStatus(page, re, timeout = 120_000) {
    await page.waitForFunction((src) => new RegExp(src).test(document.querySelector('[data-testid="loop-status"]')?.textContent ?? ''), re.source, {
      timeout,
    });
  }
  async function send(page, text) {
    const input = page.getByTestId('composer-input');
    await input.fill(text);
    await input.press('Enter');
    await page.waitForFunction(() => document.querySelector('[data-testid="composer-input"]')?.value === '', null, { timeout: 20_000 });
  }

  it('interrupt ends only the turn it was aimed at; the queue comes back into the composer, or is kept', async () => {
    await explained('interrupt', async (page) => {
      // First run: Home's main area offers New loop and says what a loop is.
      await page.goto(`${serve.origin}/#/`);
      await page.locator('[data-testid="home"], [data-testid="onboarding"]').first().waitFor({ timeout: 60_000 });
      if ((await page.getByTestId('home').count()) === 0) await page.goto(`${serve.origin}/#/`); // the checklist is shown once
      const cta = page.getByTestId('home-new-loop');
      await cta.waitFor({ timeout: 20_000 });
      assert.match(await page.getByTestId('home').innerText(), /A loop is one task for Claude Code/);
      await cta.click();
      // No title: the loop is named after its first message.
      await page.getByTestId('new-loop-create').click();
      await page.getByTestId('loop-page').waitFor({ timeout: 60_000 });
      assert.equal(await page.getByTestId('loop-title').innerText(), 'New loop');
      const messages = page.getByTestId('messages');

      // A plain first prompt, so later prompts choose their own mock scenario.
      await send(page, 'hello');
      await messages.getByText('echo: hello').waitFor({ timeout: 240_000 }); // the first turn starts the container
      await waitStatus(page, /idle/);
      await page.waitForFunction(() => document.querySelector('[data-testid="loop-title"]')?.textContent === 'hello', null, { timeout: 10_000 });
      const loopId = page.url().split('/loops/')[1];
      assert.match(await page.getByTestId(`loop-item-${loopId}`).innerText(), /^hello\n\s*idle$/, 'sidebar: title, then status');

      // A slow turn, two queued messages, Interrupt: the queue comes back into the box.
      await send(page, '[[slow-tool]]');
      await page.locator('[data-testid="tool-card"][data-tool="Bash"]').first().waitFor({ timeout: 60_000 });
      await send(page, '[[echo]] queued one');
      await send(page, '[[echo]] queued two');
      assert.equal(await page.getByTestId('queue-item').count(), 2);
      await page.getByTestId('interrupt').click();
      await messages.getByTestId('interrupted').first().waitFor({ timeout: 30_000 });
      await waitStatus(page, /idle/, 30_000);
      assert.equal(await page.getByTestId('composer-input').inputValue(), '[[echo]] queued one\n\n[[echo]] queued two');
      assert.equal(await page.getByTestId('queue-item').count(), 0, 'the queue was handed back, not sent');
      // An interrupt is not a failure: a neutral divider, no red card.
      assert.equal(await page.getByTestId('error-card').count(), 0, 'no error card for an interrupt');
      assert.match(await messages.getByTestId('interrupted').first().innerText(), /^Interrupted/);
      await page.waitForTimeout(6_000); // longer than the interrupt's 5 s grace: nothing else starts
      assert.equal(await messages.getByTestId('msg-user').count(), 2, 'no queued message was sent');
      assert.match(await status(page), /idle/);
      await screenshot(page, 'e2e-firsthour-interrupted.png');

      // Interrupt, keep queue: the queued message runs longer than the 5 s grace and is
      // answered (the grace timer belonged to the interrupted turn).
      await page.getByTestId('composer-input').fill('');
      await send(page, '[[slow-tool]]');
      await waitStatus(page, /working/, 60_000);
      await page.locator('[data-testid="tool-card"][data-tool="Bash"]').nth(1).waitFor({ timeout: 60_000 });
      await send(page, '[[tool:bash sleep 8 && echo kept-$((6*7))]]');
      await page.getByTestId('interrupt-keep-queue').click();
      await messages.getByText('tool result: kept-42').waitFor({ timeout: 90_000 });
      await waitStatus(page, /idle/, 30_000);
      assert.equal(await messages.getByTestId('interrupted').count(), 2, 'only the two aimed-at turns were interrupted');
      assert.equal(await page.getByTestId('error-card').count(), 0, 'no error card');
      assert.equal(await page.getByTestId('composer-input').inputValue(), '', 'a kept queue is not put back into the box');
    });
  });

  it('the Git tab of a loop without a repository says so and starts one', async () => {
    await explained('git-norepo', async (page) => {
      await page.getByTestId('tab-git').click();
      const none = page.getByTestId('git-norepo');
      await none.waitFor({ timeout: 20_000 });
      assert.match(await none.innerText(), /This loop has no repository/);
      assert.equal(await page.getByTestId('commit').count(), 0, 'no Commit without a repository');
      assert.doesNotMatch(await page.getByTestId('git').innerText(), /detached|No changes/i);
      await page.getByTestId('git-init').click();
      await page.getByTestId('commit-message').waitFor({ timeout: 20_000 });
      assert.equal(await none.count(), 0);
      assert.match(await page.getByTestId('git').innerText(), /On (master|main)\b.*no commits yet/s);
      // A second start is refused as a conflict in plain words (the repository is never re-initialised).
      const loopId = page.url().split('/loops/')[1];
      const r = await page.evaluate(async (id) => {
        const auth = { Authorization: `Bearer ${localStorage.getItem('loopat_token')}` }; // as the UI's client sends it
        const res = await fetch('/api/rpc/WorkdirService/InitRepo', { method: 'POST', headers: { 'Content-Type': 'application/json', ...auth }, body: JSON.stringify([id]) });
        return { status: res.status, body: await res.json() };
      }, loopId);
      assert.deepEqual(r, { status: 409, body: { error: 'This loop already has a repository.', hint: 'Refresh the Git tab.', kind: 'conflict' } });
      await page.getByTestId('tab-files').click();
    });
  });

  it('Host calls say how to allow a CLI; the terminal has no frame and follows the app theme', async () => {
    await explained('hostcalls-terminal', async (page) => {
      await page.getByTestId('tab-host').click();
      const empty = page.getByTestId('hostcalls-empty');
      await empty.waitFor({ timeout: 20_000 });
      const text = await empty.innerText();
      assert.match(text, /mise\.toml/);
      assert.match(text, /\[host\]\s*clis = \["gh"\]/);
      assert.match(text, /with your rights/);

      await page.getByTestId('tab-terminal').click();
      await page.locator('[data-testid="terminal"][data-state="open"]').waitFor({ timeout: 60_000 });
      await page.locator('[data-testid="terminal"] .xterm-rows').waitFor({ timeout: 20_000 });
      // xterm's text colour is the app's, in light and after a switch to dark (no reload).
      const colours = () =>
        page.evaluate(() => ({
          app: getComputedStyle(document.body).color,
          term: getComputedStyle(document.querySelector('[data-testid="terminal"] .xterm-rows')).color,
          frame: getComputedStyle(document.querySelector('.terminal-tab')).backgroundColor,
          panel: getComputedStyle(document.querySelector('.side-panel')).backgroundColor,
        }));
      const before = await colours();
      assert.equal(before.term, before.app, 'terminal text uses the app colour');
      assert.equal(before.frame, before.panel, 'no dark frame around the terminal');
      await page.evaluate(() => document.documentElement.setAttribute('data-theme', 'dark'));
      await page.waitForFunction(
        () => getComputedStyle(document.querySelector('[data-testid="terminal"] .xterm-rows')).color === getComputedStyle(document.body).color,
        null,
        { timeout: 5_000 },
      );
      const dark = await colours();
      assert.notEqual(dark.app, before.app, 'the app switched theme');
      await screenshot(page, 'e2e-firsthour-terminal-dark.png');
      await page.evaluate(() => document.documentElement.setAttribute('data-theme', 'system'));

      // Files: the viewer numbers lines; the tree is resizable.
      await page.getByTestId('terminal').click();
      await page.keyboard.type("printf 'one\\ntwo\\nthree\\n' > three.txt\n");
      await page.getByTestId('tab-files').click();
      const entry = page.getByTestId('tree-three.txt');
      for (let i = 0; i < 20 && !(await entry.count()); i++) {
        await page.getByTestId('files-refresh').click();
        await page.waitForTimeout(500);
      }
      await entry.click();
      await page.getByTestId('file-content').waitFor({ timeout: 20_000 });
      assert.equal(await page.getByTestId('file-content-lines').innerText(), '1\n2\n3');
      const tree = page.getByTestId('file-tree');
      const w0 = (await tree.boundingBox()).width;
      const split = await page.getByTestId('files-splitter').boundingBox();
      await page.mouse.move(split.x + split.width / 2, split.y + 40);
      await page.mouse.down();
      await page.mouse.move(split.x + split.width / 2 + 80, split.y + 40, { steps: 5 });
      await page.mouse.up();
      const w1 = (await tree.boundingBox()).width;
      assert.ok(Math.abs(w1 - w0 - 80) <= 4, `tree width ${w0} -> ${w1}, want +80`);
      await screenshot(page, 'e2e-firsthour-files.png');
    });
  });

  it('the loop header stays in two rows at 1280 px, a long title is readable in full, the promote result adds no row', async () => {
    await explained('header', async (page) => {
      const loopId = page.url().split('/loops/')[1];
      const header = page.getByTestId('loop-header');
      const height = async () => (await header.boundingBox()).height;
      const rowOf = async (testid) => {
        const b = await page.getByTestId(testid).boundingBox();
        return b.y + b.height / 2;
      };
      const long = 'Refactor the billing module so invoices are generated per customer and not per order, then update every report';
      await page.getByTestId('loop-title').click();
      await page.getByTestId('loop-title-input').fill(long);
      await page.getByTestId('loop-title-input').press('Enter');
      await page.waitForFunction((t) => document.querySelector('[data-testid="loop-title"]')?.textContent === t, long, { timeout: 10_000 });
      assert.equal(await page.getByTestId('loop-title').getAttribute('title'), long, 'the full title is the tooltip');
      const base = await height();
      assert.ok(base < 90, `header is ${base}px high`);
      // The panel toggle is on the title row, not wrapped below it.
      assert.ok(Math.abs((await rowOf('panel-toggle')) - (await rowOf('loop-title'))) < 8, 'panel toggle on the title row');
      await page.getByTestId('loop-promote').click();
      await page.locator('[data-testid="loop-promote-result"], [data-testid="toast-error"]').first().waitFor({ timeout: 60_000 });
      assert.equal(await height(), base, 'the promote result does not grow the header');
      await screenshot(page, 'e2e-firsthour-loop.png');
      const dismiss = page.getByTestId('loop-promote-result').getByRole('button', { name: 'Dismiss' });
      if (await dismiss.count()) await dismiss.click();
      // The loop keeps its place; rename back for the next checks.
      await page.getByTestId('loop-title').click();
      await page.getByTestId('loop-title-input').fill('first hour');
      await page.getByTestId('loop-title-input').press('Enter');
      await page.waitForFunction(() => document.querySelector('[data-testid="loop-title"]')?.textContent === 'first hour', null, { timeout: 10_000 });
      assert.ok(page.url().endsWith(loopId));
    });
  });

  it('Focus: a linked loop shows its title, Create loop is not offered again, the loop page links back to its card', async () => {
    await explained('focus', async (page) => {
      const loopUrl = page.url();
      await page.goto(`${serve.origin}/#/kanban/default`);
      const todo = page.locator('[data-testid="column"][data-column="todo"]');
      await todo.getByTestId('card-new').fill('Ship the first hour');
      await todo.getByTestId('card-add').click();
      const card = todo.locator('[data-testid="card"]').filter({ hasText: 'Ship the first hour' });
      await card.click();
      const details = page.getByTestId('card-details');
      await details.getByTestId('card-link-loop').click();
      await details.getByTestId('loop-picker').getByText('first hour').click();
      await details.getByTestId('card-linked-loop').waitFor({ timeout: 20_000 });
      await page.waitForFunction(() => document.querySelector('[data-testid="card-loop-title"]')?.textContent === 'first hour', null, { timeout: 10_000 });
      assert.doesNotMatch(await details.innerText(), /[0-9a-f]{8}-[0-9a-f]{4}-/, 'no loop UUID shown');
      assert.equal(await details.getByTestId('card-create-loop').count(), 0, 'no second Create loop once linked');
      // "New column" is on screen, not clipped at 1280 px.
      await page.keyboard.press('Escape');
      const box = await page.getByTestId('column-new-form').boundingBox();
      const vw = page.viewportSize().width;
      assert.ok(box && box.x + box.width <= vw, `New column box ends at ${box && box.x + box.width} > ${vw}`);
      await screenshot(page, 'e2e-firsthour-focus.png');
      // The loop page links back to its card, which opens.
      await page.goto(loopUrl);
      const back = page.getByTestId('loop-card-link');
      await back.waitFor({ timeout: 20_000 });
      await back.click();
      await page.getByTestId('card-details').waitFor({ timeout: 20_000 });
      assert.equal(await page.getByTestId('card-edit-text').inputValue(), 'Ship the first hour');
      await page.keyboard.press('Escape');
      await page.goto(loopUrl);
      await page.getByTestId('loop-page').waitFor({ timeout: 20_000 });
    });
  });

  it('Settings: the common options as fields, Revert drops unsaved edits, the sandbox image size and age', async () => {
    await explained('settings', async (page) => {
      const loopUrl = page.url();
      await page.goto(`${serve.origin}/#/settings/general`);
      await page.waitForFunction(() => document.querySelector('[data-testid="config-editor"]')?.value.includes('[agent]'), null, { timeout: 20_000 });
      assert.equal(await page.getByTestId('config-provider').inputValue(), 'mock');
      assert.equal(await page.getByTestId('config-model').inputValue(), 'claude-sonnet-4-5');
      const saved = await page.getByTestId('config-editor').inputValue();
      await page.getByTestId('config-idle').fill('12');
      await page.getByTestId('config-ca-input').fill('/etc/ssl/certs/corp-proxy.pem');
      await page.getByTestId('config-ca-add').click();
      const edited = await page.getByTestId('config-editor').inputValue();
      assert.match(edited, /^idle_minutes = 12$/m);
      assert.match(edited, /^extra_ca_certs = \[.*"\/etc\/ssl\/certs\/corp-proxy.pem"\]$/m);
      await page.getByTestId('config-unsaved').waitFor();
      await screenshot(page, 'e2e-firsthour-settings.png');
      await page.getByTestId('config-revert').click();
      await page.waitForFunction((t) => document.querySelector('[data-testid="config-editor"]')?.value === t, saved, { timeout: 10_000 });
      assert.equal(await page.getByTestId('config-idle').inputValue(), String(saved.match(/^idle_minutes = (\d+)$/m)?.[1] ?? 30));
      assert.equal(await page.getByTestId('config-unsaved').count(), 0);
      assert.equal(await page.getByTestId('config-save').isDisabled(), true);
      // The image every loop runs in: its size, its age, and what a rebuild costs.
      await page.getByTestId('settings-sandbox').click();
      await page.getByTestId('image-size').waitFor({ timeout: 120_000 });
      assert.match(await page.getByTestId('image-size').innerText(), /^\d+(\.\d+)? (MB|GB)$/);
      assert.match(await page.getByTestId('image-age').innerText(), /ago|just now/);
      assert.match(await page.getByTestId('image-rebuild-note').innerText(), /several minutes/);
      await screenshot(page, 'e2e-firsthour-sandbox.png');
      await page.goto(loopUrl);
      await page.getByTestId('loop-page').waitFor({ timeout: 20_000 });
    });
  });

  it('an archived loop takes no input and says how to continue', async () => {
    await explained('archived', async (page) => {
      await page.getByTestId('loop-archive').click();
      await page.getByTestId('unarchive').waitFor({ timeout: 90_000 }); // archiving stops the sandbox (the terminal's shell too)
      const input = page.getByTestId('composer-input');
      assert.equal(await input.isDisabled(), true, 'composer disabled');
      assert.match(await input.getAttribute('placeholder'), /Unarchive to continue/);
      assert.equal(await page.getByTestId('send').count(), 0, 'no Send button');
      await screenshot(page, 'e2e-firsthour-archived.png');
      // The server's answer to a send anyway is the caller's fault (409), in plain words with a hint.
      const loopId = page.url().split('/loops/')[1];
      const r = await page.evaluate(async (id) => {
        const auth = { Authorization: `Bearer ${localStorage.getItem('loopat_token')}` }; // as the UI's client sends it
        const res = await fetch('/api/rpc/LoopService/Send', { method: 'POST', headers: { 'Content-Type': 'application/json', ...auth }, body: JSON.stringify([id, 'x']) });
        return { status: res.status, body: await res.json() };
      }, loopId);
      assert.deepEqual(r, { status: 409, body: { error: 'This loop is archived.', hint: 'Unarchive it to continue.', kind: 'conflict' } });
      await page.getByTestId('unarchive').click();
      await page.getByTestId('send').waitFor({ timeout: 20_000 });
      assert.equal(await page.getByTestId('composer-input').isDisabled(), false);
    });
  });

  it('error toasts show the message and hint without internal names, leave with the page and fade', async () => {
    await explained('toasts', async (page) => {
      const loopUrl = page.url();
      await page.route('**/api/rpc/LoopService/Rename', (route) =>
        route.fulfill({ status: 400, contentType: 'application/json', body: JSON.stringify({ error: 'That title is too long.', hint: 'Use a shorter one.' }) }),
      );
      const rename = async (title) => {
        await page.getByTestId('loop-title').click();
        await page.getByTestId('loop-title-input').fill(title);
        await page.getByTestId('loop-title-input').press('Enter');
      };
      await rename('a new title');
      const toast = page.getByTestId('toast-error');
      await toast.waitFor({ timeout: 10_000 });
      assert.match(await toast.innerText(), /That title is too long\.\s+Use a shorter one\./);
      assert.doesNotMatch(await toast.innerText(), /LoopService|Rename|HTTP/);
      await page.goto(`${serve.origin}/#/settings/general`);
      await page.waitForTimeout(300);
      assert.equal(await toast.count(), 0, 'the toast did not follow the user to another page');
      await page.goto(loopUrl);
      await rename('another title');
      await toast.waitFor({ timeout: 10_000 });
      await toast.waitFor({ state: 'detached', timeout: 15_000 }); // fades by itself
      await page.unroute('**/api/rpc/LoopService/Rename');
    });
  });

  it('a stale tab after loopat serve restarts says to open the new link and greys out live state', async () => {
    await explained('restarted', async (page) => {
      await page.getByTestId('engine-pill').waitFor({ timeout: 10_000 });
      // Restart on the same address (as `loopat serve` does by default): a new token.
      const { env, home, origin } = serve;
      await serve.close();
      const proc = spawnAndWait(loopatBin(), ['serve', '--addr', origin.replace('http://', '')], {
        env,
        pattern: /(http:\/\/127\.0\.0\.1:\d+)\/\?token=([0-9a-fA-F]+)/,
        timeoutMs: 60_000,
      });
      const m = await proc.match;
      serve = { url: m[0], origin: m[1], token: m[2], home, env, child: proc.child, output: proc.output, close: () => stop(proc.child) };
      assert.equal(serve.origin, origin);
      const banner = page.getByTestId('restarted-banner');
      await banner.waitFor({ timeout: 30_000 });
      assert.match(await banner.innerText(), /loopat was restarted: open the new link printed by `loopat serve`/);
      assert.equal(await page.locator('.shell').getAttribute('data-conn'), 'restarted');
      const pillOpacity = await page.getByTestId('engine-pill').evaluate((el) => getComputedStyle(el).opacity);
      assert.ok(Number(pillOpacity) < 0.6, `engine pill not greyed out (opacity ${pillOpacity})`);
      await screenshot(page, 'e2e-firsthour-restarted.png');
      await page.goto(serve.url);
      await page.getByTestId('engine-pill').waitFor({ timeout: 30_000 });
      assert.equal(await banner.count(), 0, 'the new link works');
    });
  });
});

// `loopat uninstall --yes` with podman unreachable (engine.url is a dead socket), run as
// a fresh process of the built binary: it must not hang, must remove the files and the
// secrets, keep what a later run needs to find podman's resources, say what is left and
// exit non-zero. Needs no podman.
describe('uninstall with podman down', () => {
  it('finishes the files, names what is left, exits 1', () => {
    const root = tempDir('loopat-firsthour-uninstall-');
    const home = join(root, 'ws-firsthour-down');
    try {
      mkdirSync(join(home, 'loops', 'abc123', 'workdir'), { recursive: true });
      writeFileSync(join(home, 'loops', 'abc123', 'workdir', 'main.go'), 'package main\n');
      writeFileSync(join(home, 'config.toml'), `[engine]\nurl = "unix://${join(root, 'dead.sock')}"\n`);
      const env = { ...process.env, LOOPAT_HOME: home };
      delete env.CONTAINER_HOST;
      const started = Date.now();
      const r = spawnSync(loopatBin(), ['uninstall', '--yes'], { env, encoding: 'utf8', timeout: 110_000 });
      const secs = (Date.now() - started) / 1000;
      const out = `${r.stdout}\n${r.stderr}`;
      assert.equal(r.signal, null, `uninstall hung (killed after ${secs}s):\n${out}`);
      assert.equal(r.status, 1, `exit ${r.status}:\n${out}`);
      assert.ok(secs < 90, `took ${secs}s`);
      assert.match(out, /\[skipped\] stop-loops: podman not reachable/);
      assert.match(out, /\[done\] data/);
      assert.match(out, /start podman, then run `loopat uninstall` again to finish/);
      assert.equal(existsSync(join(home, 'loops')), false, 'loop files removed');
      assert.deepEqual(readdirSync(home).sort(), ['config.toml', 'workspace-id']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
