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
  /** Every loaded line (kept to rebuild rows when an older page is prepended). */
  lines: Msg[];
  rows: Row[];
  /** tool_use id → result; mutated in place, rows read it when they render. */
  results: Map<string, ToolResult>;
  /** tool_use id → index in rows of the assistant row that made the call. */
  useRow: Map<string, number>;
  /** Identity of the last "Session started" shown, so a session's pill shows once. */
  session: string;
  hasUserInput: boolean;
  firstKey: number;
  nextKey: number;
}

export function emptyTranscript(firstKey = 0): TranscriptState {
  return { lines: [], rows: [], results: new Map(), useRow: new Map(), session: '', hasUserInput: false, firstKey, nextKey: firstKey };
}

/** Builds the state for lines (oldest first), the first one keyed firstKey. */
export function buildTranscript(lines: Msg[], firstKey = 0): TranscriptState {
  let st = emptyTranscript(firstKey);
  const rows: Row[] = [];
  st = { ...st, rows };
  for (const m of lines) st = addLine(st, m, true);
  return st;
}

/** Appends one line (a live event) and returns the new state; unchanged rows keep their identity. */
export function appendLine(st: TranscriptState, m: Msg): TranscriptState {
  return addLine({ ...st, rows: st.rows.slice() }, m, false);
}

/** Puts an older page in front: rows are rebuilt once (O(n) per page, not per event). */
export function prependLines(st: TranscriptState, older: Msg[]): TranscriptState {
  if (older.length === 0) return st;
  return buildTranscript([...older, ...st.lines], st.firstKey - older.length);
}

// addLine mutates st.rows (already a private copy) and the maps, and returns st.
function addLine(st: TranscriptState, m: Msg, building: boolean): TranscriptState {
  const key = st.nextKey;
  st.nextKey++;
  if (!building) st.lines = [...st.lines, m];
  else st.lines.push(m);
  const push = () => st.rows.push({ key, msg: m, rev: 0 });
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
          if (i !== undefined && st.rows[i]) st.rows[i] = { ...st.rows[i], rev: st.rows[i].rev + 1 };
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
