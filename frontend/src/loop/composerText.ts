// Pure helpers of the composer: which menu the caret is in, filtering, inserting a pick,
// ↑/↓ history steps, the context meter and pasted data URLs. Tested in composerText.test.ts.

/** The word being typed that opens a menu: a slash command at the start, or an @path. */
export interface Trigger {
  kind: 'slash' | 'at';
  query: string; // after the / or @
  start: number; // index of the / or @
  end: number; // the caret
}

/** The trigger the caret is in, or null. A slash command only counts as the first word. */
export function triggerAt(text: string, caret: number): Trigger | null {
  const before = text.slice(0, caret);
  const slash = /^\/([^\s/]*)$/.exec(before);
  if (slash) return { kind: 'slash', query: slash[1], start: 0, end: caret };
  const at = /(^|\s)@([^\s@]*)$/.exec(before);
  if (at) return { kind: 'at', query: at[2], start: caret - at[2].length - 1, end: caret };
  return null;
}

/** Commands matching query: prefix matches first, then those containing it; at most max. */
export function filterCommands(commands: string[], query: string, max = 12): string[] {
  const q = query.toLowerCase();
  const prefix = commands.filter((c) => c.toLowerCase().startsWith(q));
  const inner = commands.filter((c) => !c.toLowerCase().startsWith(q) && c.toLowerCase().includes(q));
  return [...prefix, ...inner].slice(0, max);
}

/** Replaces the trigger with the pick ("/name " or "@path "), returning the text and the new caret. */
export function applyPick(text: string, t: Trigger, pick: string): { text: string; caret: number } {
  const inserted = (t.kind === 'slash' ? '/' : '@') + pick + (pick.endsWith('/') ? '' : ' ');
  const rest = text.slice(t.end).replace(/^\S*/, ''); // the rest of a word being replaced goes too
  const out = text.slice(0, t.start) + inserted + rest.replace(/^ /, '');
  return { text: out, caret: t.start + inserted.length };
}

/**
 * One ↑ (dir -1) or ↓ (dir +1) step through history. index === history.length is the
 * draft being typed; null means the step does nothing (already at an end).
 */
export function historyStep(history: string[], index: number, dir: -1 | 1): number | null {
  const next = index + dir;
  if (next < 0 || next > history.length) return null;
  return next;
}

/** Whether ↑/↓ should recall history: the caret on the first (↑) or last (↓) line. */
export function caretOnEdgeLine(text: string, caret: number, dir: -1 | 1): boolean {
  return dir < 0 ? !text.slice(0, caret).includes('\n') : !text.slice(caret).includes('\n');
}

/** The context meter: share of the window used, and a level for its colour. */
export function contextMeter(used: number, window: number): { percent: number; shown: string; level: 'ok' | 'warn' | 'full'; label: string } {
  const w = window > 0 ? window : 200_000;
  const percent = Math.max(0, Math.min(100, Math.round((used / w) * 100)));
  const level = percent >= 90 ? 'full' : percent >= 70 ? 'warn' : 'ok';
  const shown = percent === 0 && used > 0 ? '<1%' : `${percent}%`;
  return { percent, shown, level, label: `${short(used)} / ${short(w)} tokens (${shown})` };
}

function short(n: number): string {
  if (n >= 1_000_000) return `${+(n / 1_000_000).toFixed(1)}M`;
  if (n >= 1000) return `${+(n / 1000).toFixed(1)}k`;
  return String(n);
}

/** Image types the model takes as content blocks. */
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
export const MAX_IMAGE_BYTES = 3 << 20;
export const MAX_IMAGES = 4;
export const MAX_UPLOAD_BYTES = 5 << 20;

/** Splits a base64 data URL into its media type and data; null if it is not one. */
export function splitDataUrl(url: string): { mediaType: string; data: string } | null {
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  return m ? { mediaType: m[1], data: m[2] } : null;
}
