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

/** tool_use id → its tool_result, taken from the user lines that carry results. */
export function collectToolResults(messages: Msg[]): Map<string, ToolResult> {
  const out = new Map<string, ToolResult>();
  for (const m of messages) {
    const content = m.type === 'user' ? m.message?.content : null;
    if (!Array.isArray(content)) continue;
    for (const c of content) {
      if (c?.type === 'tool_result' && c.tool_use_id) out.set(c.tool_use_id, { content: c.content, is_error: c.is_error });
    }
  }
  return out;
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
  const tail = new Set(fetched.slice(-arrived.length - 8).map((m) => JSON.stringify(m)));
  return [...fetched, ...arrived.filter((m) => !tail.has(JSON.stringify(m)))];
}

// interruptedResults are the indexes of result lines that end an interrupted turn (the
// CLI reports an interrupt as error_during_execution; the app follows it with its own
// "interrupted" line): they are not failures, and the "interrupted" line says it.
export function interruptedResults(messages: Msg[]): Set<number> {
  const out = new Set<number>();
  messages.forEach((m, i) => {
    if (m.type === 'result' && messages[i + 1]?.type === 'interrupted') out.add(i);
  });
  return out;
}

// withQueuedText puts the text of queued messages an interrupt handed back into the
// composer, before what the user has typed since.
export function withQueuedText(current: string, queued: { text: string }[]): string {
  const parts = queued.map((q) => q.text);
  if (current.trim()) parts.push(current);
  return parts.join('\n\n');
}
