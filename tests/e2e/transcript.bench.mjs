// Browser half of bench/transcript (run by `go run -tags bench,... ./bench/transcript`, not by
// `node --test`): for each workspace it is given (a loop with a synthesised transcript of N
// lines), it starts `loopat serve`, opens the loop page in Chromium and measures
//   - navigation start → the last reply's text visible in the viewport (median of runs),
//   - DOM nodes once it is,
//   - LoopService.Messages (whole file) and MessagesPage (newest page) as seen from the page,
//   - for sizes marked event: the main-thread task time (CDP TaskDuration) one
//     loop:<id>:message event costs, from the frame arriving on the socket to its row painted.
// and for each loop-list workspace (N loops, no transcript) navigation start → the sidebar
// showing a row for every loop, the first on screen, and the DOM nodes then.
// It prints one line `BENCH_JSON {"sizes":[...],"lists":[...]}` that transcriptbench.Parse reads.
//
//   LOOPAT_BIN=build/bin/loopat node tests/e2e/transcript.bench.mjs '[{"lines":100,"home":"/tmp/x","loop":"<id>","marker":"...","event":false}]' '[{"loops":500,"home":"/tmp/y"}]'
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser, startServe } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 5);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function openTimed(page, origin, loop, marker, run) {
  // A fresh document each run (the query differs), so JS load and the first fetch count.
  await page.goto(`${origin}/?run=${run}#/loops/${loop}`);
  const ms = await page.waitForFunction(() => window.__markerVisibleAt, null, { timeout: 120_000, polling: 50 }).then((h) => h.jsonValue());
  const formatted = await page.waitForFunction(() => window.__markerFormattedAt, null, { timeout: 60_000, polling: 50 }).then((h) => h.jsonValue());
  const shell = await page.evaluate(() => window.__headerVisibleAt);
  const nodes = await page.evaluate(() => document.getElementsByTagName('*').length);
  return { ms, shell, formatted, nodes };
}

// Records performance.now() at the first frame where the marker text is inside the
// viewport (__markerVisibleAt), and where it is so formatted, not plain
// (__markerFormattedAt), and how many frames it watched (__watchFrames). Installed before any page
// script runs. With maxFrames it gives up after that many frames (__watchDone): the
// measuring-alone runs watch as long as a real event's run did, for a marker never shown.
function markerWatcher(arg) {
  const [marker, maxFrames] = Array.isArray(arg) ? arg : [arg, 0];
  window.__watchFrames = 0;
  window.__watchDone = false;
  const check = () => {
    if (!window.__headerVisibleAt && document.querySelector('[data-testid=loop-title]')) window.__headerVisibleAt = performance.now();
    if (window.__markerFormattedAt) return;
    window.__watchFrames++;
    const it = document.evaluate(`//*[contains(text(), ${JSON.stringify(marker)})]`, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null);
    const el = it.singleNodeValue;
    if (el) {
      const r = el.getBoundingClientRect();
      if (r.height > 0 && r.bottom > 0 && r.top < window.innerHeight) {
        window.__markerVisibleAt ||= performance.now();
        // The chat shows a text plain ([data-plain]) until the markdown renderer has loaded.
        if (!el.closest('[data-plain]')) {
          window.__markerFormattedAt = performance.now();
          return;
        }
      }
    }
    if (maxFrames && window.__watchFrames >= maxFrames) {
      window.__watchDone = true;
      return;
    }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
}

async function serverTimes(page, loop) {
  return page.evaluate(async (id) => {
    const time = async (method, args) => {
      const t0 = performance.now();
      const res = await fetch(`/api/rpc/LoopService/${method}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${localStorage.getItem('loopat_token')}` },
        body: JSON.stringify(args),
      });
      await res.json();
      if (!res.ok) throw new Error(`${method}: HTTP ${res.status}`);
      return performance.now() - t0;
    };
    const whole = [],
      paged = [];
    for (let i = 0; i < 3; i++) {
      whole.push(await time('Messages', [id]));
      paged.push(await time('MessagesPage', [id, 0, 200]));
    }
    const med = (xs) => [...xs].sort((a, b) => a - b)[1];
    return { whole: med(whole), page: med(paged) };
  }, loop);
}

async function eventCost(page, socket, loop) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const taskMs = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration').value * 1000;
  const costs = [];
  const frames = [];
  // Let the page settle (fonts, late layout) before measuring.
  await page.waitForTimeout(500);
  for (let i = 0; i < EVENTS; i++) {
    const marker = `STREAMED-EVENT-${i}-${Date.now()}`;
    const line = {
      type: 'assistant',
      message: { id: `msg_bench_${i}`, role: 'assistant', content: [{ type: 'text', text: `Streamed reply ${i}: the **build** passes.\n\n${marker}` }] },
    };
    await page.evaluate(() => (window.__markerVisibleAt = window.__markerFormattedAt = 0));
    await page.evaluate(markerWatcher, marker);
    const before = await taskMs();
    socket.send(JSON.stringify({ topic: `loop:${loop}:message`, data: line }));
    await page.waitForFunction(() => window.__markerVisibleAt, null, { timeout: 30_000, polling: 'raf' });
    // Two frames so the paint that shows it is counted.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    costs.push((await taskMs()) - before);
    frames.push(await page.evaluate(() => window.__watchFrames));
    await page.waitForTimeout(200);
  }
  // The measuring itself (CDP calls, the watcher's frames, Playwright's polling) costs
  // main-thread time too: the same steps, watching as many frames as an event took, with
  // an event for another loop (which the page ignores) are subtracted.
  const watch = Math.max(1, median(frames));
  const idle = [];
  for (let i = 0; i < EVENTS; i++) {
    await page.evaluate(() => (window.__markerVisibleAt = window.__markerFormattedAt = 0));
    await page.evaluate(markerWatcher, [`NEVER-SHOWN-${i}`, watch]);
    const before = await taskMs();
    socket.send(JSON.stringify({ topic: 'loop:00000000-0000-0000-0000-000000000000:message', data: { type: 'assistant', message: { content: [] } } }));
    await page.waitForFunction(() => window.__watchDone, null, { timeout: 30_000, polling: 'raf' });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    idle.push((await taskMs()) - before);
    await page.waitForTimeout(200);
  }
  await cdp.detach();
  console.error(`event task ms: ${costs.map((x) => x.toFixed(1)).join(', ')} (frames watched: ${frames.join(', ')}); measuring alone (${watch} frames): ${idle.map((x) => x.toFixed(1)).join(', ')}`);
  return { ms: Math.max(0.01, median(costs) - median(idle)), raw: median(costs), idle: median(idle), n: costs.length };
}

async function measure(browser, size, bin) {
  process.env.LOOPAT_BIN = bin; // startServe runs LOOPAT_BIN
  const serve = await startServe({ home: size.home });
  try {
    const page = await browser.context.newPage();
    let socket = null;
    // Pass the app's event socket through, keeping a handle to inject a loop event.
    await page.routeWebSocket(/\/api\/events/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((m) => server.send(m));
      server.onMessage((m) => ws.send(m));
      socket = ws;
    });
    await page.addInitScript(markerWatcher, size.marker);
    await page.goto(serve.url); // the page keeps the token in its storage
    const opens = [],
      shells = [],
      formats = [];
    let nodes = 0;
    for (let run = 0; run < RUNS; run++) {
      const r = await openTimed(page, serve.origin, size.loop, size.marker, run);
      opens.push(r.ms);
      shells.push(r.shell);
      formats.push(r.formatted);
      nodes = r.nodes;
    }
    const server = await serverTimes(page, size.loop);
    const out = {
      lines: size.lines,
      bytes: statSync(join(size.home, 'loops', size.loop, 'messages.jsonl')).size,
      openMs: Math.round(median(opens) * 10) / 10,
      shellMs: Math.round(median(shells) * 10) / 10,
      formattedMs: Math.round(median(formats) * 10) / 10,
      runs: opens.length,
      domNodes: nodes,
      serverWholeMs: Math.round(server.whole * 10) / 10,
      serverPageMs: Math.round(server.page * 10) / 10,
    };
    if (size.event) {
      if (!socket) throw new Error('the page opened no event socket');
      const ev = await eventCost(page, socket, size.loop);
      out.eventMs = Math.round(ev.ms * 100) / 100;
      out.eventRawMs = Math.round(ev.raw * 100) / 100;
      out.events = ev.n;
    }
    console.error(`transcript bench: ${JSON.stringify(out)} (opens ${opens.map((x) => x.toFixed(0)).join(', ')} ms)`);
    await page.close();
    return out;
  } finally {
    await serve.close();
  }
}

// Records performance.now() at the first frame where the loop list counts every loop of
// the workspace (data-count), its first row is on screen and its rows are all there or
// fill the list's box (a long list renders the rows in view): __listShownAt, __listRows
// (the count), __listRendered (rows in the DOM).
function listWatcher(loops) {
  const check = () => {
    // (The sidebar of builds before data-count rendered every row: counted as shown.)
    const list = document.querySelector('[data-testid=loop-list]') ?? document.querySelector('[data-testid=sidebar] .loop-list');
    const rows = list ? list.querySelectorAll('.loop-item') : [];
    const count = Number(list?.dataset.count ?? rows.length);
    if (count >= loops && rows.length > 0) {
      const first = rows[0].getBoundingClientRect();
      const last = rows[rows.length - 1].getBoundingClientRect();
      if (first.height > 0 && first.top < window.innerHeight && (rows.length >= loops || last.bottom >= list.getBoundingClientRect().bottom)) {
        window.__listShownAt = performance.now();
        window.__listRows = count;
        window.__listRendered = rows.length;
        return;
      }
    }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
}

// The oldest loop (the synthesised "Loop 0: ...", last in the list) is reachable: scrolled to
// the end, its row is rendered. A list that shows a count but loses rows fails the bench.
async function assertLastRowReachable(page) {
  await page.evaluate(() => {
    const list = document.querySelector('[data-testid=sidebar] .loop-list');
    list.scrollTop = list.scrollHeight;
  });
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=sidebar] .loop-list .loop-item-title')].some((e) => e.textContent.startsWith('Loop 0:')), null, { timeout: 10_000 });
}

async function measureList(browser, list, bin) {
  process.env.LOOPAT_BIN = bin;
  const serve = await startServe({ home: list.home });
  try {
    const page = await browser.context.newPage();
    await page.addInitScript(listWatcher, list.loops);
    await page.goto(serve.url); // the page keeps the token in its storage
    const opens = [];
    let rows = 0,
      rendered = 0,
      nodes = 0;
    for (let run = 0; run < RUNS; run++) {
      await page.goto(`${serve.origin}/?run=${run}#/`);
      opens.push(await page.waitForFunction(() => window.__listShownAt, null, { timeout: 120_000, polling: 50 }).then((h) => h.jsonValue()));
      [rows, rendered, nodes] = await page.evaluate(() => [window.__listRows, window.__listRendered, document.getElementsByTagName('*').length]);
    }
    await assertLastRowReachable(page);
    const serverListMs = await page.evaluate(async () => {
      const times = [];
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        const res = await fetch('/api/rpc/LoopService/List', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${localStorage.getItem('loopat_token')}` },
          body: '[]',
        });
        await res.json();
        if (!res.ok) throw new Error(`List: HTTP ${res.status}`);
        times.push(performance.now() - t0);
      }
      return [...times].sort((a, b) => a - b)[1];
    });
    const out = { loops: list.loops, openMs: Math.round(median(opens) * 10) / 10, runs: opens.length, rows, rendered, domNodes: nodes, serverListMs: Math.round(serverListMs * 10) / 10 };
    console.error(`loop list bench: ${JSON.stringify(out)} (opens ${opens.map((x) => x.toFixed(0)).join(', ')} ms)`);
    await page.close();
    return out;
  } finally {
    await serve.close();
  }
}

const sizes = JSON.parse(process.argv[2] ?? '[]');
const lists = JSON.parse(process.argv[3] ?? '[]');
if (sizes.length === 0) {
  console.error('usage: transcript.bench.mjs <json list of {lines, home, loop, marker, event}>');
  process.exit(2);
}
const browser = await launchBrowser();
try {
  const out = [];
  const bin = process.env.LOOPAT_BIN;
  // LOOPAT_BASELINE_BIN: the same app built with the previous chat (whole transcript,
  // every line in the DOM), measured on the same files in the same run.
  const baseline = process.env.LOOPAT_BASELINE_BIN;
  for (const s of sizes) {
    const m = await measure(browser, s, bin);
    if (baseline) {
      const b = await measure(browser, s, baseline);
      m.baseline = { openMs: b.openMs, domNodes: b.domNodes, eventMs: b.eventMs ?? 0 };
    }
    out.push(m);
  }
  const listOut = [];
  for (const l of lists) listOut.push(await measureList(browser, l, bin));
  console.log('BENCH_JSON ' + JSON.stringify({ sizes: out, lists: listOut }));
} finally {
  await browser.close();
}
