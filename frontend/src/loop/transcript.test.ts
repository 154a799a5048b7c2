import { describe, expect, it } from 'vitest';
import { applyDelta, collectToolResults, interruptedResults, mergeTail, NO_STREAM, resultText, summarizeInput, withQueuedText } from './transcript';

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

  it('pairs tool results with their tool_use ids', () => {
    const results = collectToolResults([
      { type: 'assistant', message: { content: [{ type: 'tool_use', id: 'a', name: 'Bash', input: { command: 'ls' } }] } },
      { type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: 'a', content: 'x.txt', is_error: false }] } },
      { type: 'user', message: { content: 'plain text turn' } },
      { type: 'user', message: { content: [{ type: 'tool_result', tool_use_id: 'b', content: [{ type: 'text', text: 'boom' }], is_error: true }] } },
    ]);
    expect(results.get('a')).toEqual({ content: 'x.txt', is_error: false });
    expect(results.get('b')?.is_error).toBe(true);
    expect(resultText(results.get('b')?.content)).toBe('boom');
    expect(results.size).toBe(2);
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

describe('mergeTail', () => {
  it('keeps lines that arrived during the fetch once', () => {
    const a = { type: 'user_input', text: 'hi', ts: '1' };
    const b = { type: 'assistant', message: { content: [{ type: 'text', text: 'hello' }] } };
    const c = { type: 'result', subtype: 'success' };
    expect(mergeTail([a, b], [b, c])).toEqual([a, b, c]);
    expect(mergeTail([a], [])).toEqual([a]);
    expect(mergeTail([], [a])).toEqual([a]);
  });

  it('hides the error result of an interrupted turn, not of a failed one', () => {
    const msgs = [
      { type: 'user_input', text: 'a' },
      { type: 'result', subtype: 'error_during_execution', is_error: true },
      { type: 'interrupted' },
      { type: 'user_input', text: 'b' },
      { type: 'result', subtype: 'error_during_execution', is_error: true },
    ];
    expect([...interruptedResults(msgs)]).toEqual([1]);
  });

  it('puts queued text back before what was typed since', () => {
    expect(withQueuedText('', [{ text: 'one' }, { text: 'two' }])).toBe('one\n\ntwo');
    expect(withQueuedText('new', [{ text: 'one' }])).toBe('one\n\nnew');
    expect(withQueuedText('  ', [])).toBe('');
  });
});

