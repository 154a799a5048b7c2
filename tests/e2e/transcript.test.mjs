// The chat of a long loop (issue 16) and the chat polish of issue 15, in Chromium against
// `loopat serve`: a 3,000-line transcript opens at its last reply with a bounded DOM,
// older lines load on scroll-up, "Session started" shows once per session, replies carry
// a time, and streamed deltas show token by token. Events are injected on the page's own
// event socket (Playwright routeWebSocket), so no agent or container is needed.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, screenshot, startServe, tempDir } from './lib.mjs';

const LINES_PER_TURN = 6;

// A transcript as the app stores it: our user_input lines, the CLI's stream-json lines.
function writeLoop(home, turns) {
  const id = randomUUID();
  const dir = join(home, 'loops', id);
  mkdirSync(join(dir, 'home'), { recursive: true });
  mkdirSync(join(dir, 'workdir'), { recursive: true });
  writeFileSync(
    join(dir, 'meta.json'),
    JSON.stringify({ id, title: 'Long loop', created: new Date().toISOString(), status: 'idle', vault: 'default', usage: { byModel: {} } }),
  );
  const lines = [];
  for (let t = 0; t < turns; t++) {
    const ts = new Date(Date.UTC(2026, 10, 30, 9, 0, t)).toISOString();
    lines.push(
      { type: 'user_input', text: `question ${t}`, ts },
      { type: 'system', subtype: 'init', session_id: 'sess-1', model: 'claude-sonnet-4-5', permissionMode: 'bypassPermissions' },
      { ts, type: 'assistant', message: { content: [{ type: 'tool_use', id: `tu-${t}`, name: 'Bash', input: { command: `echo ${t}` } }] } },
      { type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: `tu-${t}`, content: `out-${t}` }] } },
      { ts, type: 'assistant', message: { content: [{ type: 'text', text: `answer number ${t}` }] } },
      { ts, type: 'result', subtype: 'success', duration_ms: 1200, usage: { input_tokens: 10, output_tokens: 5 } },
    );
  }
  writeFileSync(join(dir, 'messages.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return id;
}

describe('long transcript chat', () => {
  let serve, browser, loop, socket;
  const turns = 500; // 3,000 lines

  before(async () => {
    const home = join(tempDir('loopat-e2e-transcript-'), 'ws');
    mkdirSync(home, { recursive: true });
    loop = writeLoop(home, turns);
    serve = await startServe({ home });
    browser = await launchBrowser();
    await browser.page.routeWebSocket(/\/api\/events/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((m) => server.send(m));
      server.onMessage((m) => ws.send(m));
      socket = ws;
    });
    await browser.page.goto(serve.url);
  });
  after(async () => {
    await browser?.close();
    await serve?.close();
  });

  it('opens at the last reply with a bounded DOM, one session pill, reply times', async () => {
    const { page } = browser;
    await page.goto(`${serve.origin}/#/loops/${loop}`);
    const messages = page.getByTestId('messages');
    await messages.getByText(`answer number ${turns - 1}`).waitFor({ timeout: 60_000 });
    assert.ok(await messages.getByText(`answer number ${turns - 1}`).isVisible(), 'the last reply is in view');
    const nodes = await page.evaluate(() => document.getElementsByTagName('*').length);
    assert.ok(nodes < 3000, `DOM nodes ${nodes}: the list is virtualised`);
    // Every turn reports the same session: its pill shows once (in the oldest loaded page
    // at most), never once per turn.
    assert.ok((await messages.getByTestId('session-started').count()) <= 1);
    const times = await messages.getByTestId('msg-time').allInnerTexts();
    assert.ok(times.length > 0 && times.every((t) => /2026/.test(t)), `reply times: ${times}`);
    // The tool card got its result from a later line.
    assert.match(await messages.locator('[data-testid="tool-card"]').last().innerText(), new RegExp(`out-${turns - 1}`));
  });

  it('loads older lines when scrolled to the top', async () => {
    const { page } = browser;
    const messages = page.getByTestId('messages');
    assert.equal(await messages.getByText('question 400', { exact: true }).count(), 0, 'only the newest page is loaded at first');
    // The list is virtualised: a row is in the DOM only while in view, and a fast wheel can
    // carry it past between two looks. So the page itself notes when the row shows up.
    await messages.evaluate((el) => {
      window.__sawOlderRow = false;
      const look = () => {
        for (const n of el.querySelectorAll('*')) {
          if (n.childElementCount === 0 && n.textContent.trim() === 'question 400') window.__sawOlderRow = true;
        }
      };
      new MutationObserver(look).observe(el, { childList: true, subtree: true, characterData: true });
    });
    // Scroll as a user does (the wheel): the list stops following the bottom.
    const box = await messages.boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    for (let i = 0; i < 80 && !(await page.evaluate(() => window.__sawOlderRow)); i++) {
      await page.mouse.wheel(0, -4000);
      await page.waitForTimeout(250);
    }
    assert.equal(await page.evaluate(() => window.__sawOlderRow), true, 'an older page came in on scroll-up');
  });

  it('streams a reply token by token and keeps it once the whole line arrives', async () => {
    const { page } = browser;
    await page.reload();
    const messages = page.getByTestId('messages');
    await messages.getByText(`answer number ${turns - 1}`).waitFor({ timeout: 60_000 });
    await page.waitForTimeout(1500); // the new page's event socket is open
    const seen = [];
    for (const token of ['Stream', 'ing ', 'one ', 'token ', 'at a time']) {
      socket.send(JSON.stringify({ topic: `loop:${loop}:delta`, data: { kind: 'text', text: token } }));
      seen.push(token);
      // Each delta shows on its own: the text grows token by token (markdown trims the end).
      await page.waitForFunction((want) => (document.querySelector('[data-testid="streaming"]')?.textContent ?? '').trim() === want, seen.join('').trim());
      assert.equal((await page.getByTestId('streaming').innerText()).trim(), seen.join('').trim());
    }
    await screenshot(page, 'e2e-transcript-streaming.png');
    const line = { type: 'assistant', message: { content: [{ type: 'text', text: 'Streaming one token at a time' }] } };
    socket.send(JSON.stringify({ topic: `loop:${loop}:message`, data: line }));
    // The partial text shows the same words: wait for the whole line's own row.
    await messages.getByTestId('msg-assistant').filter({ hasText: 'Streaming one token at a time' }).waitFor();
    assert.equal(await page.getByTestId('streaming').count(), 0, 'the whole line replaced the partial text');
    // A live line without a stored time shows the time it arrived.
    const last = messages.locator('[data-testid="msg-assistant"]').last();
    assert.match(await last.getByTestId('msg-time').innerText(), /\d/);
  });
});

// Subagent output (issue 17): lines carrying parent_tool_use_id render inside their Task
// card (collapsed to a count and the latest step, expandable), never as loose chat lines,
// both from the stored transcript and live.
describe('subagent output nested under its Task card', () => {
  let serve, browser, loop, socket;

  before(async () => {
    const home = join(tempDir('loopat-e2e-subagent-'), 'ws');
    mkdirSync(home, { recursive: true });
    loop = randomUUID();
    const dir = join(home, 'loops', loop);
    mkdirSync(join(dir, 'home'), { recursive: true });
    mkdirSync(join(dir, 'workdir'), { recursive: true });
    writeFileSync(
      join(dir, 'meta.json'),
      JSON.stringify({ id: loop, title: 'Subagent loop', created: new Date().toISOString(), status: 'idle', vault: 'default', usage: { byModel: {} } }),
    );
    const ts = new Date(Date.UTC(2026, 10, 30, 9, 0, 0)).toISOString();
    const sub = (type, content) => ({ type, parent_tool_use_id: 'task-1', message: { content } });
    const lines = [
      { type: 'user_input', text: 'find the TODOs', ts },
      { ts, type: 'assistant', message: { content: [{ type: 'tool_use', id: 'task-1', name: 'Task', input: { description: 'Search for TODOs', prompt: 'grep the tree' } }] } },
      sub('user', [{ type: 'text', text: 'grep the tree' }]),
      sub('assistant', [{ type: 'tool_use', id: 'child-grep', name: 'Grep', input: { pattern: 'TODO', path: 'src' } }]),
      sub('user', [{ type: 'tool_result', tool_use_id: 'child-grep', content: 'src/a.go:3: TODO fix' }]),
      sub('assistant', [{ type: 'text', text: 'SUBAGENT-FINDING one TODO in src/a.go' }]),
      { type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: 'task-1', content: 'one TODO in src/a.go' }] } },
      { ts, type: 'assistant', message: { content: [{ type: 'text', text: 'MAIN-REPLY there is one TODO' }] } },
      { ts, type: 'result', subtype: 'success', duration_ms: 900 },
    ];
    writeFileSync(join(dir, 'messages.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    serve = await startServe({ home });
    browser = await launchBrowser();
    await browser.page.routeWebSocket(/\/api\/events/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((m) => server.send(m));
      server.onMessage((m) => ws.send(m));
      socket = ws;
    });
    await browser.page.goto(serve.url);
  });
  after(async () => {
    await browser?.close();
    await serve?.close();
  });

  // Every element showing text is inside a Task card: no loose subagent line in the chat.
  const onlyInTaskCard = (page, text) =>
    page.evaluate((t) => {
      const hits = [...document.querySelectorAll('[data-testid=messages] *')].filter((el) => [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.includes(t)));
      return { count: hits.length, loose: hits.filter((el) => !el.closest('[data-testid=tool-card][data-tool=Task]')).length };
    }, text);

  it('shows a stored subagent run inside its Task card, collapsed, and expands it', async () => {
    const { page } = browser;
    await page.goto(`${serve.origin}/#/loops/${loop}`);
    const messages = page.getByTestId('messages');
    await messages.getByText('MAIN-REPLY there is one TODO').waitFor({ timeout: 60_000 });
    const card = messages.locator('[data-testid=tool-card][data-tool=Task]');
    assert.equal(await card.count(), 1);
    const subagent = card.getByTestId('subagent');
    assert.match(await subagent.innerText(), /Subagent · 2 steps/);
    assert.match(await subagent.innerText(), /SUBAGENT-FINDING/, 'collapsed, the card shows the latest step');
    assert.equal(await card.getByTestId('subagent-body').count(), 0, 'collapsed by default');
    assert.deepEqual(await onlyInTaskCard(page, 'SUBAGENT-FINDING'), { count: 1, loose: 0 });
    // The subagent's prompt line is not a chat bubble of the user.
    assert.equal(await messages.getByTestId('msg-user').filter({ hasText: 'grep the tree' }).count(), 0);
    // The Task's own result still folds into the card.
    assert.match(await card.getByTestId('tool-result').first().innerText(), /one TODO in src\/a\.go/);

    await card.getByTestId('subagent-toggle').click();
    const body = card.getByTestId('subagent-body');
    await body.waitFor();
    const grep = body.locator('[data-testid=tool-card][data-tool=Grep]');
    assert.equal(await grep.count(), 1, 'the subagent tool call is a card inside the Task card');
    assert.match(await grep.innerText(), /TODO in src/);
    assert.match(await grep.getByTestId('tool-result').innerText(), /src\/a\.go:3: TODO fix/, 'its result is folded in');
    assert.match(await body.innerText(), /SUBAGENT-FINDING one TODO in src\/a\.go/);
    assert.deepEqual((await onlyInTaskCard(page, 'SUBAGENT-FINDING')).loose, 0);
    await screenshot(page, 'e2e-transcript-subagent.png');
    await card.getByTestId('subagent-toggle').click();
    assert.equal(await card.getByTestId('subagent-body').count(), 0, 'collapsible');
  });

  it('nests live subagent lines under a running Task card as they arrive', async () => {
    const { page } = browser;
    const messages = page.getByTestId('messages');
    await page.waitForTimeout(1000); // the event socket is open
    const send = (data) => socket.send(JSON.stringify({ topic: `loop:${loop}:message`, data }));
    send({ type: 'assistant', message: { content: [{ type: 'tool_use', id: 'task-2', name: 'Task', input: { description: 'Run the tests' } }] } });
    const card = messages.locator('[data-testid=tool-card][data-tool=Task]').filter({ hasText: 'Run the tests' });
    await card.waitFor();
    assert.equal(await card.getByTestId('subagent').count(), 0, 'no subagent lines yet');
    send({ type: 'assistant', parent_tool_use_id: 'task-2', message: { content: [{ type: 'tool_use', id: 'child-bash', name: 'Bash', input: { command: 'LIVE-CHILD-CMD go test ./...' } }] } });
    await card.getByTestId('subagent').getByText(/LIVE-CHILD-CMD/).waitFor();
    assert.match(await card.getByTestId('subagent').innerText(), /1 step · working/);
    send({ type: 'assistant', parent_tool_use_id: 'task-2', message: { content: [{ type: 'text', text: 'LIVE-CHILD-DONE all tests pass' }] } });
    await card.getByTestId('subagent').getByText(/LIVE-CHILD-DONE/).waitFor();
    assert.match(await card.getByTestId('subagent').innerText(), /2 steps/);
    assert.deepEqual((await onlyInTaskCard(page, 'LIVE-CHILD-DONE')).loose, 0, 'not a loose line');
    send({ type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: 'task-2', content: 'tests pass' }] } });
    await page.waitForFunction(() => !/working/.test(document.querySelectorAll('[data-tool=Task] [data-testid=subagent]')[1]?.textContent ?? 'working'));
    assert.match(await card.getByTestId('subagent').innerText(), /2 steps/);
    assert.equal(await card.locator('.state-done').count(), 1, 'the Task card is done');
  });
});
