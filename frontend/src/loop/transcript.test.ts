import { describe, expect, it } from 'vitest';
import type { Msg } from '../api/services';
import {
  appendLine,
  applyDelta,
  buildTranscript,
  lineTime,
  linesOf,
  mergeTail,
  NO_STREAM,
  prependLines,
  resultText,
  stampArrival,
  summarizeInput,
  withQueuedText,
} from './transcript';

const toolUse = (id: string): Msg => ({ type: 'assistant', message: { content: [{ type: 'tool_use', id, name: 'Bash', input: { command: 'ls' } }] } });
const toolResult = (id: string, content: unknown, is_error = false): Msg => ({
  type: 'user',
  message: { content: [{ type: 'tool_result', tool_use_id: id, content, is_error }] },
});
const init = (session: string, model = 'm'): Msg => ({ type: 'system', subtype: 'init', session_id: session, model, permissionMode: 'default' });
const text = (t: string): Msg => ({ type: 'assistant', message: { content: [{ type: 'text', text: t }] } });

describe('transcript logic', () => {
  it('accumulates streamed deltas per kind', () => {
    let s = NO_STREAM;
    s = applyDelta(s, { kind: 'thinking', text: 'hmm ' });
    s = applyDelta(s, { kind: 'text', text: 'Hel' });
    s = applyDelta(s, { kind: 'text', text: 'lo' });
    s = applyDelta(s, { kind: 'tool_input', text: '{"command"' });
    s = applyDelta(s, null);
    expect(s).toEqual({ thinking: 'hmm ', text: 'Hello', tool: '{"command"' });
  });

  it('summarises tool inputs by tool', () => {
    expect(summarizeInput('Bash', { command: 'npm test' })).toBe('npm test');
    expect(summarizeInput('Edit', { file_path: '/w/a.go', old_string: 'x' })).toBe('/w/a.go');
    expect(summarizeInput('Grep', { pattern: 'TODO', path: 'src' })).toBe('TODO in src');
    expect(summarizeInput('TodoWrite', { todos: [{}, {}] })).toBe('2 items');
    expect(summarizeInput('mcp__x', { q: 'find it', n: 3 })).toBe('find it');
    expect(summarizeInput('Bash', null)).toBe('');
  });
});

describe('incremental transcript model', () => {
  it('indexes tool results as they arrive and re-renders only the calling row', () => {
    let st = buildTranscript([{ type: 'user_input', text: 'go', ts: 't0' }, toolUse('a'), text('working on it')]);
    expect(st.rows.map((r) => r.msg.type)).toEqual(['user_input', 'assistant', 'assistant']);
    const before = st.rows;
    st = appendLine(st, toolResult('a', [{ type: 'text', text: 'boom' }], true));
    // The result line itself is not a row; the tool_use row is a new object, the others are kept.
    expect(st.rows.length).toBe(3);
    expect(st.rows[1]).not.toBe(before[1]);
    expect(st.rows[1].rev).toBe(1);
    expect(st.rows[0]).toBe(before[0]);
    expect(st.rows[2]).toBe(before[2]);
    expect(st.results.get('a')?.is_error).toBe(true);
    expect(resultText(st.results.get('a')?.content)).toBe('boom');
    // The previous state's rows array was not changed (React state stays immutable).
    expect(before[1].rev).toBe(0);
  });

  it('shows "Session started" once per session, again when the session or model changes', () => {
    const st = buildTranscript([init('s1'), { type: 'user_input', text: 'a' }, init('s1'), { type: 'user_input', text: 'b' }, init('s1', 'other'), init('s2', 'other')]);
    const pills = st.rows.filter((r) => r.msg.type === 'system').map((r) => `${r.msg.session_id}/${r.msg.model}`);
    expect(pills).toEqual(['s1/m', 's1/other', 's2/other']);
  });

  it('hides the error result of an interrupted turn, not of a failed one', () => {
    const st = buildTranscript([
      { type: 'user_input', text: 'a' },
      { type: 'result', subtype: 'error_during_execution', is_error: true },
      { type: 'interrupted' },
      { type: 'user_input', text: 'b' },
      { type: 'result', subtype: 'error_during_execution', is_error: true },
    ]);
    expect(st.rows.map((r) => r.msg.type)).toEqual(['user_input', 'interrupted', 'user_input', 'result']);
  });

  it('leaves out lines that show nothing (no zero-height rows in the virtual list)', () => {
    const st = buildTranscript([
      { type: 'system', subtype: 'api_retry' },
      { type: 'stream_event' },
      { type: 'user_input', text: 'x' },
      { type: 'user', message: { content: 'echo of x' } },
      { type: 'assistant', message: { content: [{ type: 'redacted' }] } },
      { type: 'oversized', bytes: 5_000_000 },
    ]);
    expect(st.rows.map((r) => r.msg.type)).toEqual(['user_input', 'oversized']);
    // Without our own user_input (an older transcript), the CLI's user text is shown.
    expect(buildTranscript([{ type: 'user', message: { content: [{ type: 'text', text: 'hi' }] } }]).rows.length).toBe(1);
  });

  it('prepends an older page with stable keys and results that pair across pages', () => {
    const newer = buildTranscript([toolResult('a', 'ok'), text('done'), init('s1')], 100);
    expect(newer.rows.map((r) => r.key)).toEqual([101, 102]);
    const all = prependLines(newer, [init('s1'), toolUse('a')]);
    // Keys of the newer rows are unchanged, the duplicate pill of the same session is gone
    // and the tool card now has its result.
    expect(all.rows.map((r) => r.key)).toEqual([98, 99, 101]);
    expect(all.results.get('a')?.content).toBe('ok');
    expect(linesOf(all).length).toBe(5);
    expect(prependLines(newer, [])).toBe(newer);
  });

  it('costs O(1) map work per streamed line at 10k lines', () => {
    const lines: Msg[] = [];
    for (let i = 0; i < 5000; i++) lines.push(toolUse(`t${i}`), toolResult(`t${i}`, `out ${i}`));
    let st = buildTranscript(lines);
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) st = appendLine(st, text(`line ${i}`));
    const perLine = (performance.now() - t0) / 200;
    expect(st.rows.length).toBe(5200);
    expect(perLine).toBeLessThan(5); // a full rebuild of 10k lines is ~10x this
  });
});

describe('mergeTail and times', () => {
  it('keeps lines that arrived during the fetch once, a live stamp does not make a duplicate', () => {
    const a = { type: 'user_input', text: 'hi', ts: '1' };
    const b = { type: 'assistant', message: { content: [{ type: 'text', text: 'hello' }] } };
    const c = { type: 'result', subtype: 'success' };
    expect(mergeTail([a, b], [b, c])).toEqual([a, b, c]);
    expect(mergeTail([a, b], [stampArrival(b), stampArrival(c)]).length).toBe(3);
    expect(mergeTail([a], [])).toEqual([a]);
    expect(mergeTail([], [a])).toEqual([a]);
  });

  it('gives a line the stored time, else its arrival', () => {
    const now = new Date('2026-01-02T03:04:05Z');
    expect(lineTime(stampArrival({ type: 'assistant' }, now))).toBe('2026-01-02T03:04:05.000Z');
    expect(lineTime(stampArrival({ type: 'assistant', ts: 'stored' }, now))).toBe('stored');
    expect(lineTime({ type: 'result' })).toBeUndefined();
  });

  it('puts queued text back before what was typed since', () => {
    expect(withQueuedText('', [{ text: 'one' }, { text: 'two' }])).toBe('one\n\ntwo');
    expect(withQueuedText('new', [{ text: 'one' }])).toBe('one\n\nnew');
    expect(withQueuedText('  ', [])).toBe('');
  });
});
