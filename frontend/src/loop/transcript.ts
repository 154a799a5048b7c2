// Pure transcript logic (no React), unit-tested in transcript.test.ts.
import type { Msg } from '../api/services';

export interface ToolResult {
  content: unknown;
  is_error?: boolean;
}

export interface Streaming {
  text: string;
  thinking: string;
  tool: string;
}
export const NO_STREAM: Streaming = { text: '', thinking: '', tool: '' };

/** Appends one loop:<id>:delta fragment to the partial block being streamed. */
export function applyDelta(s: Streaming, d: { kind?: string; text?: string } | null): Streaming {
  const text = d?.text ?? '';
  if (!text) return s;
  if (d?.kind === 'thinking') return { ...s, thinking: s.thinking + text };
  if (d?.kind === 'text') return { ...s, text: s.text + text };
  return { ...s, tool: s.tool + text };
}

/**
 * The transcript as the chat shows it, kept incrementally so a streamed line costs O(1)
 * work beside one array copy, whatever the length: rows are the visible lines only (a
 * virtualised list must not get zero-height items), tool results are indexed as they
 * arrive, and a row is replaced (new object, so its memoised view re-renders) only when
 * a result for one of its tool calls comes in.
 */
export interface Row {
  /** Stable across appends and prepends: the line's position in the loaded transcript. */
  key: number;
  msg: Msg;
  /** Bumped when a tool result for this row arrives. */
  rev: number;
}

export interface TranscriptState {
  /**
   * Every loaded line, kept to rebuild rows when an older page is prepended: the first
   * lineCount entries. The array is shared by successive states and appended to in place
   * while a state is its tip (copied otherwise), so a live line does not copy it.
   */
  lines: Msg[];
  lineCount: number;
  rows: Row[];
  /** tool_use id → result; mutated in place, rows read it when they render. */
  results: Map<string, ToolResult>;
  /**
   * tool_use id → index in rows of the row that shows the call: the assistant row that
   * made it, or for a subagent's call, the row of the Task card it is nested under.
   */
  useRow: Map<string, number>;
  /**
   * Task tool_use id → the subagent's lines (messages carrying parent_tool_use_id), shown
   * inside that Task's card instead of as rows of their own; mutated in place like results.
   */
  children: Map<string, Msg[]>;
  /** Identity of the last "Session started" shown, so a session's pill shows once. */
  session: string;
  hasUserInput: boolean;
  firstKey: number;
  nextKey: number;
}

export function emptyTranscript(firstKey = 0): TranscriptState {
  return {
    lines: [],
    lineCount: 0,
    rows: [],
    results: new Map(),
    useRow: new Map(),
    children: new Map(),
    session: '',
    hasUserInput: false,
    firstKey,
    nextKey: firstKey,
  };
}

/** Builds the state for lines (oldest first), the first one keyed firstKey. */
export function buildTranscript(lines: Msg[], firstKey = 0): TranscriptState {
  let st = emptyTranscript(firstKey);
  for (const m of lines) st = addLine(st, m);
  return st;
}

// nestLine files a subagent's line under its Task card's row: its tool calls and results
// are indexed against that row, so a result for a nested call re-renders the card.
function nestLine(st: TranscriptState, m: Msg, parent: string, row: number) {
  const content = m.message?.content;
  if (Array.isArray(content)) {
    for (const c of content) {
      if (c?.type === 'tool_use' && c.id) st.useRow.set(c.id, row);
      if (c?.type === 'tool_result' && c.tool_use_id) st.results.set(c.tool_use_id, { content: c.content, is_error: c.is_error });
    }
  }
  const list = st.children.get(parent) ?? [];
  // The map is shared with the previous state, so filing the same line twice (React runs
  // a state updater twice in StrictMode) must not list it twice. A new array per change:
  // the card's memoised parts compare by identity.
  if (!list.includes(m)) st.children.set(parent, [...list, m]);
  bump(st, row);
}

function bump(st: TranscriptState, i: number) {
  if (st.rows[i]) st.rows[i] = { ...st.rows[i], rev: st.rows[i].rev + 1 };
}

/** Appends one line (a live event) and returns the new state; unchanged rows keep their identity. */
export function appendLine(st: TranscriptState, m: Msg): TranscriptState {
  return appendLines(st, [m]);
}

/**
 * Appends a batch of live lines (those that arrived within one animation frame) with one
 * copy of the arrays, so a burst of events costs one render, not one per line.
 */
export function appendLines(st: TranscriptState, ms: Msg[]): TranscriptState {
  if (ms.length === 0) return st;
  const tip = st.lines.length === st.lineCount;
  const lines = tip ? st.lines : st.lines.slice(0, st.lineCount);
  let next: TranscriptState = { ...st, rows: st.rows.slice(), lines };
  for (const m of ms) next = addLine(next, m);
  return next;
}

/** The loaded lines of st, oldest first. */
export function linesOf(st: TranscriptState): Msg[] {
  return st.lines.length === st.lineCount ? st.lines : st.lines.slice(0, st.lineCount);
}

/** The Task tool_use id a subagent's line belongs to, '' for the main agent's lines. */
export function parentToolUseId(m: Msg): string {
  const p = m?.parent_tool_use_id;
  return typeof p === 'string' ? p : '';
}

/** Puts an older page in front: rows are rebuilt once (O(n) per page, not per event). */
export function prependLines(st: TranscriptState, older: Msg[]): TranscriptState {
  if (older.length === 0) return st;
  return buildTranscript([...older, ...linesOf(st)], st.firstKey - older.length);
}

// addLine mutates st.rows and st.lines (private copies, or the tip's own) and the maps,
// and returns st.
function addLine(st: TranscriptState, m: Msg): TranscriptState {
  const key = st.nextKey;
  st.nextKey++;
  st.lines.push(m);
  st.lineCount = st.lines.length;
  const push = () => st.rows.push({ key, msg: m, rev: 0 });
  // A subagent's line goes inside its Task card (the card's row re-renders), when that
  // card is loaded; otherwise (its Task is on an older page) it is shown as a row so
  // nothing is lost, and nested once the older page comes in.
  const parent = parentToolUseId(m);
  const parentRow = parent ? st.useRow.get(parent) : undefined;
  if (parentRow !== undefined) {
    nestLine(st, m, parent, parentRow);
    return st;
  }
  switch (m.type) {
    case 'user_input':
      st.hasUserInput = true;
      push();
      return st;
    case 'user': {
      const content = m.message?.content;
      if (Array.isArray(content)) {
        for (const c of content) {
          if (c?.type !== 'tool_result' || !c.tool_use_id) continue;
          st.results.set(c.tool_use_id, { content: c.content, is_error: c.is_error });
          const i = st.useRow.get(c.tool_use_id);
          if (i !== undefined) bump(st, i);
        }
      }
      // The CLI may echo what the user typed; our own user_input line already shows it.
      if (!st.hasUserInput && userText(m)) push();
      return st;
    }
    case 'assistant': {
      const content = m.message?.content;
      if (!Array.isArray(content)) return st;
      let shown = false;
      for (const c of content) {
        if (c?.type === 'tool_use' && c.id) st.useRow.set(c.id, st.rows.length);
        shown ||= c?.type === 'text' || c?.type === 'thinking' || c?.type === 'tool_use';
      }
      if (shown) push();
      return st;
    }
    case 'system': {
      if (m.subtype !== 'init') return st;
      // The CLI reports init at every turn; show it when the session, model or mode changes.
      const id = [m.session_id ?? '', m.model ?? '', m.permissionMode ?? ''].join('|');
      if (id === st.session) return st;
      st.session = id;
      push();
      return st;
    }
    case 'interrupted': {
      // The CLI reports an interrupt as error_during_execution; the app follows it with
      // its own "interrupted" line: the result is not a failure, the divider says it.
      const last = st.rows[st.rows.length - 1];
      if (last?.msg.type === 'result') st.rows.pop();
      push();
      return st;
    }
    case 'session_divider':
      // "New session" (/clear): the next init is a new session, shown even if ids repeat.
      st.session = '';
      push();
      return st;
    case 'result':
    case 'error':
    case 'oversized':
      push();
      return st;
  }
  return st;
}

/** The text a CLI user line carries (a string, or its text parts), '' if none. */
export function userText(m: Msg): string {
  const content = m.message?.content;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((c) => c?.type === 'text' && c.text)
    .map((c) => c.text as string)
    .join('\n');
}

/** One line describing what the tool was asked to do. */
export function summarizeInput(name: string, input: any): string {
  if (!input || typeof input !== 'object') return '';
  switch (name) {
    case 'Bash':
      return input.command ?? '';
    case 'Read':
    case 'Write':
    case 'Edit':
    case 'MultiEdit':
    case 'NotebookEdit':
      return input.file_path ?? input.notebook_path ?? '';
    case 'Glob':
    case 'Grep':
      return [input.pattern, input.path].filter(Boolean).join(' in ');
    case 'WebFetch':
      return input.url ?? '';
    case 'WebSearch':
      return input.query ?? '';
    case 'Task':
      return input.description ?? '';
    case 'TodoWrite':
      return `${(input.todos ?? []).length} items`;
  }
  const first = Object.values(input).find((v) => typeof v === 'string') as string | undefined;
  return first ?? JSON.stringify(input);
}

/** A tool_result's content as text (string, or an array of text/image parts). */
export function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content.map((c) => (c?.type === 'text' ? c.text : c?.type === 'image' ? '[image]' : JSON.stringify(c))).join('\n');
  if (content == null) return '';
  return JSON.stringify(content, null, 2);
}

/**
 * Merges lines that arrived as events while the transcript was being fetched: the
 * fetched copy may or may not contain them, so a line already at the fetched tail is
 * not added twice.
 */
export function mergeTail(fetched: Msg[], arrived: Msg[]): Msg[] {
  if (arrived.length === 0) return fetched;
  const tail = new Set(fetched.slice(-arrived.length - 8).map(sameLineKey));
  return [...fetched, ...arrived.filter((m) => !tail.has(sameLineKey(m)))];
}

// The UI stamps a live line that came without a time with its arrival (_ts); it is the
// same line as the stored one.
function sameLineKey(m: Msg): string {
  if (!('_ts' in m)) return JSON.stringify(m);
  const { _ts: _, ...rest } = m;
  return JSON.stringify(rest);
}

/** When a line was written: the stored ts, else the time the UI received it. */
export function lineTime(m: Msg): string | undefined {
  return typeof m.ts === 'string' ? m.ts : typeof m._ts === 'string' ? m._ts : undefined;
}

/** Stamps a live line that carries no ts with the time it arrived. */
export function stampArrival(m: Msg, now = new Date()): Msg {
  if (!m || typeof m !== 'object' || typeof m.ts === 'string') return m;
  return { ...m, _ts: now.toISOString() };
}

// withQueuedText puts the text of queued messages an interrupt handed back into the
// composer, before what the user has typed since.
export function withQueuedText(current: string, queued: { text: string }[]): string {
  const parts = queued.map((q) => q.text);
  if (current.trim()) parts.push(current);
  return parts.join('\n\n');
}
