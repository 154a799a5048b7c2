// Renders a loop's transcript: Claude Code stream-json lines plus our own
// user_input / error lines, with tool results folded into their tool cards.
//
// Long loops stay fast: the transcript is fetched a page at a time from the end
// (LoopService.MessagesPage; older pages load as the user scrolls up), the list is
// virtualised (only the rows on screen are in the DOM), and a streamed line updates the
// model incrementally (transcript.ts) so only the new or changed rows render.
import { memo, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Virtuoso, type VirtuosoHandle } from 'react-virtuoso';
import { RECONNECTED } from '../api/client';
import { LoopService, topics, type Msg, type TranscriptPage } from '../api/services';
import { formatTime, InlineError, Spinner, useEvent } from '../ui';
import { MarkdownText } from './Markdown';
import './transcript.css';

import { FIRST_PAGE_LINES, peekPrefetched, takePrefetched } from './transcriptPrefetch';
import {
  appendLines,
  applyDelta,
  buildTranscript,
  lineTime,
  mergeTail,
  NO_STREAM,
  parentToolUseId,
  prependLines,
  resultText,
  stampArrival,
  summarizeInput,
  userText,
  type Row,
  type Streaming,
  type ToolResult,
  type TranscriptState,
} from './transcript';

// Keys (and Virtuoso's firstItemIndex) start high so older pages can count down from it.
const FIRST_INDEX = 1_000_000_000;
const PAGE_LINES = 200;

interface Loaded {
  tr: TranscriptState;
  /** Cursor of the next older page; more says whether there is one. */
  before: number;
  more: boolean;
  /** Virtuoso's index of the first row; decreases by the rows an older page adds. */
  firstIndex: number;
}

const rowKey = (_: number, row: Row) => row.key;

/** The chat's state from its newest page and the lines that arrived while it was fetched. */
function loadedFrom(page: TranscriptPage, arrived: Msg[]): Loaded {
  const tr = buildTranscript(mergeTail(page.lines, arrived), FIRST_INDEX);
  return { tr, before: page.start, more: page.more, firstIndex: FIRST_INDEX };
}

/**
 * The chat of one loop: fetches the newest page, follows loop:<id>:message and
 * :delta events, and loads older pages on scroll-up. empty is shown for a loop with no
 * lines that is not working.
 */
export function Transcript({ loopId, working, empty }: { loopId: string; working: boolean; empty?: React.ReactNode }) {
  // A prefetched page that has already arrived is rendered in the first render (no
  // spinner frame, no effect and promise hop before the list): the common case when the
  // route prefetched it beside the page's code.
  const [peeked] = useState(() => peekPrefetched(loopId));
  const [loaded, setLoaded] = useState<Loaded | null>(() => (peeked ? loadedFrom(peeked.value, []) : null));
  const [error, setError] = useState('');
  const [streaming, setStreaming] = useState<Streaming>(NO_STREAM);
  const [loadingOlder, setLoadingOlder] = useState(false);
  // Lines that arrive while a page is being fetched are merged into it.
  const arrived = useRef<Msg[] | null>(null);
  const list = useRef<VirtuosoHandle>(null);
  const scroller = useRef<HTMLElement | null>(null);
  // The chat sticks to the bottom until the user scrolls up, and again once they come
  // back down. Row heights are only known once rendered (markdown, tool cards), so the
  // list's height keeps changing after the first paint: every change re-pins it, at most
  // once a frame (reading scrollHeight forces a layout).
  const stick = useRef(true);
  const userScrolledAt = useRef(0);
  const pinFrame = useRef(0);
  const pin = useCallback(() => {
    if (pinFrame.current) return;
    pinFrame.current = requestAnimationFrame(() => {
      pinFrame.current = 0;
      const el = scroller.current;
      if (el && stick.current) el.scrollTop = el.scrollHeight;
    });
  }, []);
  useEffect(() => () => cancelAnimationFrame(pinFrame.current), []);
  const attachScroller = useCallback((el: HTMLElement | Window | null) => {
    const node = el instanceof HTMLElement ? el : null;
    if (node === scroller.current) return;
    scroller.current = node;
    if (!node) return;
    const intent = () => (userScrolledAt.current = performance.now());
    for (const ev of ['wheel', 'touchmove', 'keydown', 'pointerdown']) node.addEventListener(ev, intent, { passive: true });
    node.addEventListener(
      'scroll',
      () => {
        const fromBottom = node.scrollHeight - node.scrollTop - node.clientHeight;
        if (fromBottom < 80) stick.current = true;
        else if (performance.now() - userScrolledAt.current < 1000) stick.current = false;
      },
      { passive: true },
    );
  }, []);

  // Live lines and deltas are applied once per animation frame: a burst of events (a
  // fast stream, a reconnect) costs one render per frame, not one per event.
  const batch = useRef<{ lines: Msg[]; deltas: { kind: string; text: string }[]; frame: number }>({ lines: [], deltas: [], frame: 0 });
  const flush = useCallback(() => {
    const b = batch.current;
    b.frame = 0;
    const lines = b.lines;
    const deltas = b.deltas;
    b.lines = [];
    b.deltas = [];
    if (lines.length) {
      setLoaded((l) => (l ? { ...l, tr: appendLines(l.tr, lines) } : l));
      // A whole line supersedes the partial text streamed before it.
      setStreaming(deltas.length ? deltas.reduce(applyDelta, NO_STREAM) : NO_STREAM);
    } else if (deltas.length) {
      setStreaming((s) => deltas.reduce(applyDelta, s));
    }
  }, []);
  const schedule = useCallback(() => {
    if (!batch.current.frame) batch.current.frame = requestAnimationFrame(flush);
  }, [flush]);
  useEffect(() => () => cancelAnimationFrame(batch.current.frame), []);

  // Subscribed before the first load runs, so a prefetched page's events hand over without a gap.
  useEvent(topics.loopMessage(loopId), (m: Msg) => {
    const line = stampArrival(m);
    if (arrived.current) {
      arrived.current.push(line);
      return;
    }
    // Deltas before this line belong to it: what came after it is a new block.
    batch.current.deltas = [];
    batch.current.lines.push(line);
    schedule();
  });
  useEvent(topics.loopDelta(loopId), (d: { kind: string; text: string }) => {
    batch.current.deltas.push(d);
    schedule();
  });

  const load = useCallback(() => {
    const pre = takePrefetched(loopId);
    if (pre && peeked && pre.value === peeked.value) {
      // Rendered from it already; only lines that arrived since the peek are missing.
      if (pre.arrived.length > 0) setLoaded(loadedFrom(pre.value, pre.arrived));
      return;
    }
    arrived.current = pre?.arrived ?? [];
    setError('');
    (pre?.page ?? LoopService.MessagesPage(loopId, 0, FIRST_PAGE_LINES))
      .then((page) => setLoaded(loadedFrom(page, arrived.current ?? [])))
      .catch((e) => setError(e instanceof Error ? e.message : String(e)))
      .finally(() => {
        arrived.current = null;
      });
  }, [loopId, peeked]);
  useEffect(load, [load]);
  useEvent(RECONNECTED, load);
  useEffect(() => {
    if (!working) setStreaming(NO_STREAM);
  }, [working]);

  // Streamed text grows the footer, which Virtuoso's followOutput does not see.
  useEffect(pin, [streaming, pin]);

  // Read through a ref so the callbacks handed to the list keep their identity per event.
  const loadedRef = useRef(loaded);
  loadedRef.current = loaded;
  const loadingOlderRef = useRef(false);
  const loadOlder = useCallback(() => {
    const cur = loadedRef.current;
    if (!cur?.more || loadingOlderRef.current) return;
    loadingOlderRef.current = true;
    setLoadingOlder(true);
    LoopService.MessagesPage(loopId, cur.before, PAGE_LINES)
      .then((page) =>
        setLoaded((l) => {
          if (!l || l.before !== cur.before) return l;
          const tr = prependLines(l.tr, page.lines);
          return { tr, before: page.start, more: page.more, firstIndex: l.firstIndex - (tr.rows.length - l.tr.rows.length) };
        }),
      )
      .catch((e) => setError(e instanceof Error ? e.message : String(e)))
      .finally(() => {
        loadingOlderRef.current = false;
        setLoadingOlder(false);
      });
  }, [loopId]);
  const followOutput = useCallback(() => (stick.current ? ('auto' as const) : false), []);
  // The index maps are replaced only when the transcript is rebuilt (first page, older
  // page), so rows re-render on their own rev, not on every event.
  const results = loaded?.tr.results;
  const children = loaded?.tr.children;
  const itemContent = useCallback(
    (_: number, row: Row) => <Line row={row} results={results!} nested={children!} />,
    [results, children],
  );
  const rowsEmpty = !loaded || loaded.tr.rows.length === 0;
  const more = !!loaded?.more;
  const context = useMemo<ListContext>(() => {
    const live = streaming.thinking || streaming.text || streaming.tool;
    const footer = (
      <div className="transcript-footer">
        {rowsEmpty && !working && !live && empty}
        {live && (
          <div className="msg msg-assistant streaming" data-testid="streaming">
            {streaming.thinking && (
              <details className="thinking" open>
                <summary>Thinking…</summary>
                <div className="thinking-body">{streaming.thinking}</div>
              </details>
            )}
            {streaming.text && <MarkdownText text={streaming.text} live />}
            {streaming.tool && !streaming.text && <div className="muted small">Preparing a tool call…</div>}
          </div>
        )}
        {working && !live && (
          <div className="working-indicator" data-testid="working">
            <span className="spinner" /> Agent is working…
          </div>
        )}
      </div>
    );
    const header = (
      <div className="transcript-older muted small" data-testid={more ? 'older' : undefined}>
        {loadingOlder ? 'Loading earlier messages…' : ''}
      </div>
    );
    return { footer, header };
  }, [streaming, working, empty, rowsEmpty, more, loadingOlder]);

  if (!loaded) {
    return (
      <div className="chat-scroll" data-testid="messages">
        {error ? <InlineError text={error} onRetry={load} /> : <Spinner label="Loading the conversation…" />}
      </div>
    );
  }
  const { tr } = loaded;
  return (
    <Virtuoso<Row, ListContext>
      ref={list}
      className="chat-scroll transcript"
      data-testid="messages"
      data={tr.rows}
      firstItemIndex={loaded.firstIndex}
      initialTopMostItemIndex={Math.max(0, tr.rows.length - 1)}
      computeItemKey={rowKey}
      itemContent={itemContent}
      followOutput={followOutput}
      totalListHeightChanged={pin}
      atBottomThreshold={80}
      startReached={loadOlder}
      increaseViewportBy={VIEWPORT_MARGIN}
      defaultItemHeight={90}
      scrollerRef={attachScroller}
      context={context}
      components={LIST_PARTS}
    />
  );
}

// Rows rendered beyond the viewport: enough for smooth scrolling, few enough that opening
// a loop renders little more than one screen.
const VIEWPORT_MARGIN = { top: 400, bottom: 200 };

// Stable component types (new ones per render would remount the footer at every delta);
// what they show comes through Virtuoso's context.
interface ListContext {
  header: React.ReactNode;
  footer: React.ReactNode;
}
const LIST_PARTS = {
  Header: ({ context }: { context?: ListContext }) => <>{context?.header}</>,
  Footer: ({ context }: { context?: ListContext }) => <>{context?.footer}</>,
};

/** What a row's tool cards look up: results by tool_use id, a Task's subagent lines by its id. */
interface Index {
  results: Map<string, ToolResult>;
  nested: Map<string, Msg[]>;
}

const Line = memo(function Line({ row, results, nested }: { row: Row } & Index) {
  return (
    <div className="transcript-row" data-rev={row.rev}>
      <LineBody msg={row.msg} results={results} nested={nested} />
    </div>
  );
});

function LineBody({ msg, results, nested }: { msg: Msg } & Index) {
  const time = lineTime(msg);
  switch (msg.type) {
    case 'user_input':
      return (
        <div className="msg msg-user" data-testid="msg-user">
          <div className="msg-text">{msg.text}</div>
          {msg.images > 0 && (
            <div className="msg-time" data-testid="msg-images">
              {msg.images} image{msg.images > 1 ? 's' : ''} attached
            </div>
          )}
          {time && <div className="msg-time">{formatTime(time)}</div>}
        </div>
      );
    case 'user':
      // A subagent's own lines show only inside its Task card (the prompt is the Task's input).
      if (parentToolUseId(msg)) return null;
      return (
        <div className="msg msg-user" data-testid="msg-user">
          <div className="msg-text">{userText(msg)}</div>
        </div>
      );
    case 'assistant': {
      const content: any[] = msg.message?.content ?? [];
      const hasText = content.some((c) => c?.type === 'text');
      return (
        <div className="msg msg-assistant" data-testid="msg-assistant">
          {content.map((c, i) => {
            if (c?.type === 'text') return <MarkdownText key={i} text={c.text ?? ''} />;
            if (c?.type === 'thinking')
              return (
                <details key={i} className="thinking">
                  <summary>Thinking</summary>
                  <div className="thinking-body">{c.thinking}</div>
                </details>
              );
            if (c?.type === 'tool_use')
              return <ToolCard key={i} use={c} result={results.get(c.id)} sub={nested.get(c.id)} results={results} nested={nested} />;
            return null;
          })}
          {hasText && time && (
            <div className="msg-time" data-testid="msg-time">
              {formatTime(time)}
            </div>
          )}
        </div>
      );
    }
    case 'system':
      return (
        <div className="msg-divider" data-testid="session-started">
          Session started{msg.model ? ` · ${msg.model}` : ''}
          {msg.permissionMode ? ` · ${msg.permissionMode}` : ''}
        </div>
      );
    case 'result':
      return <ResultLine msg={msg} />;
    case 'session_divider':
      return (
        <div className="msg-divider msg-divider-session" data-testid="session-divider">
          New session{time ? ` · ${formatTime(time)}` : ''} — the agent starts a fresh conversation
        </div>
      );
    case 'interrupted':
      return (
        <div className="msg-divider msg-divider-interrupted" data-testid="interrupted">
          Interrupted{time ? ` · ${formatTime(time)}` : ''}
        </div>
      );
    case 'error':
      return (
        <div className="error-card" data-testid="error-card" role="alert">
          <div className="error-card-title">Something went wrong</div>
          <div>{msg.message}</div>
          {msg.hint && <div className="error-card-hint">{msg.hint}</div>}
          {time && <div className="msg-time">{formatTime(time)}</div>}
        </div>
      );
    case 'oversized':
      return (
        <div className="msg-divider" data-testid="oversized">
          A {formatBytes(Number(msg.bytes) || 0)} line is too large to show here (it is kept in the loop’s messages.jsonl)
        </div>
      );
    default:
      return null;
  }
}

function formatBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : `${Math.round(n / 1024)} KB`;
}

function ResultLine({ msg }: { msg: Msg }) {
  const secs = typeof msg.duration_ms === 'number' ? `${(msg.duration_ms / 1000).toFixed(1)} s` : '';
  const usage = msg.usage ? `${msg.usage.input_tokens ?? 0} in · ${msg.usage.output_tokens ?? 0} out` : '';
  if (msg.is_error) {
    return (
      <div className="error-card" data-testid="error-card" role="alert">
        <div className="error-card-title">The turn ended with an error{msg.subtype ? ` (${msg.subtype})` : ''}</div>
        {msg.result && <div>{String(msg.result)}</div>}
      </div>
    );
  }
  return <div className="msg-divider">Turn finished{secs && ` in ${secs}`}{usage && ` · ${usage}`}</div>;
}

// Re-exported for the plan card (PendingCard.tsx).
export { MarkdownText };

function ToolCard({ use, result, sub, results, nested }: { use: any; result?: ToolResult; sub?: Msg[] } & Index) {
  const [open, setOpen] = useState(false);
  const name = String(use.name ?? 'tool');
  if (name === 'TodoWrite' && Array.isArray(use.input?.todos)) return <TodoList todos={use.input.todos} />;
  const summary = summarizeInput(name, use.input);
  const out = result ? resultText(result.content) : '';
  const state = !result ? 'running' : result.is_error ? 'failed' : 'done';
  return (
    <div className={`tool-card tool-${state}`} data-testid="tool-card" data-tool={name}>
      <button className="tool-head" onClick={() => setOpen(!open)} aria-expanded={open}>
        <span className="tool-name">{name}</span>
        <span className="tool-summary">{summary}</span>
        <span className={`tool-state state-${state}`}>{state === 'running' ? '…' : state === 'failed' ? '✗' : '✓'}</span>
      </button>
      {sub && sub.length > 0 && <Subagent lines={sub} running={!result} results={results} nested={nested} />}
      {open && (
        <div className="tool-body">
          <div className="tool-label">Input</div>
          <pre>{JSON.stringify(use.input, null, 2)}</pre>
          {result && (
            <>
              <div className="tool-label">{result.is_error ? 'Error' : 'Result'}</div>
              <pre data-testid="tool-result">{out || '(no output)'}</pre>
            </>
          )}
        </div>
      )}
      {!open && result && out && (
        <pre className="tool-preview" data-testid="tool-result">
          {out.split('\n').slice(0, 4).join('\n')}
          {out.split('\n').length > 4 ? '\n…' : ''}
        </pre>
      )}
    </div>
  );
}

/**
 * A Task's subagent conversation inside its card: collapsed to a count and the latest
 * step, expanded to the subagent's own replies and tool cards (which nest in turn).
 */
function Subagent({ lines, running, results, nested }: { lines: Msg[]; running: boolean } & Index) {
  const [open, setOpen] = useState(false);
  const steps = lines.filter((m) => m.type === 'assistant');
  const latest = latestStep(steps[steps.length - 1]);
  return (
    <div className={`subagent ${open ? 'open' : ''}`} data-testid="subagent">
      <button className="subagent-head" onClick={() => setOpen(!open)} aria-expanded={open} data-testid="subagent-toggle">
        <span className="subagent-caret" aria-hidden>{open ? '▾' : '▸'}</span>
        <span>
          Subagent · {steps.length} {steps.length === 1 ? 'step' : 'steps'}
          {running ? ' · working' : ''}
        </span>
        {!open && latest && <span className="subagent-latest">{latest}</span>}
      </button>
      {open && (
        <div className="subagent-body" data-testid="subagent-body">
          {steps.map((m, i) => (
            <LineBody key={i} msg={m} results={results} nested={nested} />
          ))}
        </div>
      )}
    </div>
  );
}

// latestStep is one line saying what a subagent message did: its text, or its tool call.
function latestStep(m: Msg | undefined): string {
  const content: any[] = Array.isArray(m?.message?.content) ? m!.message.content : [];
  for (let i = content.length - 1; i >= 0; i--) {
    const c = content[i];
    if (c?.type === 'tool_use') return `${c.name ?? 'tool'} ${summarizeInput(String(c.name ?? ''), c.input)}`.trim();
    if (c?.type === 'text' && c.text) return String(c.text).split('\n')[0];
  }
  return '';
}

function TodoList({ todos }: { todos: { content: string; status: string; activeForm?: string }[] }) {
  return (
    <div className="todo-list" data-testid="todo-list">
      <div className="tool-label">Plan</div>
      <ul>
        {todos.map((t, i) => (
          <li key={i} className={`todo todo-${t.status}`}>
            <span className="todo-box" aria-hidden>
              {t.status === 'completed' ? '✓' : t.status === 'in_progress' ? '▸' : '○'}
            </span>
            {t.status === 'in_progress' && t.activeForm ? t.activeForm : t.content}
          </li>
        ))}
      </ul>
    </div>
  );
}
