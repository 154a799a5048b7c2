// Subagent output (issue 17) and batched appends (issue 16) in the incremental transcript model.
import { describe, expect, it } from 'vitest';
import type { Msg } from '../api/services';
import { appendLine, appendLines, buildTranscript, linesOf, parentToolUseId, prependLines } from './transcript';

const task = (id: string): Msg => ({
  type: 'assistant',
  message: { content: [{ type: 'tool_use', id, name: 'Task', input: { description: 'explore', prompt: 'look around' } }] },
});
const sub = (parent: string, content: any[], type = 'assistant'): Msg => ({ type, parent_tool_use_id: parent, message: { content } });
const result = (id: string, content: unknown, extra: Partial<Msg> = {}): Msg => ({
  type: 'user',
  ...extra,
  message: { content: [{ type: 'tool_result', tool_use_id: id, content }] },
});
const text = (t: string): Msg => ({ type: 'assistant', message: { content: [{ type: 'text', text: t }] } });

describe('subagent lines nest under their Task card', () => {
  it('files child lines under the Task, not as rows, and indexes their tool results', () => {
    const lines: Msg[] = [
      { type: 'user_input', text: 'go' },
      task('task1'),
      sub('task1', [{ type: 'text', text: 'look around' }], 'user'), // the subagent's prompt
      sub('task1', [{ type: 'tool_use', id: 'c1', name: 'Grep', input: { pattern: 'TODO' } }]),
      sub('task1', [{ type: 'tool_result', tool_use_id: 'c1', content: 'a.go:3' }], 'user'),
      sub('task1', [{ type: 'text', text: 'found one TODO' }]),
      result('task1', 'one TODO in a.go'),
      text('done'),
    ];
    const st = buildTranscript(lines);
    // user_input, the Task's row, the final reply: no loose subagent lines.
    expect(st.rows.map((r) => r.msg)).toEqual([lines[0], lines[1], lines[7]]);
    expect(st.children.get('task1')).toEqual(lines.slice(2, 6));
    expect(st.results.get('c1')?.content).toBe('a.go:3');
    expect(st.results.get('task1')?.content).toBe('one TODO in a.go');
    expect(parentToolUseId(lines[3])).toBe('task1');
    expect(parentToolUseId(lines[1])).toBe('');
    expect(parentToolUseId({ type: 'assistant', parent_tool_use_id: null })).toBe('');
  });

  it('re-renders only the Task row when a live child line or a nested result arrives', () => {
    let st = buildTranscript([{ type: 'user_input', text: 'go' }, task('t'), text('started a subagent')]);
    const before = st.rows;
    st = appendLine(st, sub('t', [{ type: 'tool_use', id: 'c1', name: 'Bash', input: { command: 'ls' } }]));
    expect(st.rows.length).toBe(3);
    expect(st.rows[1]).not.toBe(before[1]);
    expect(st.rows[1].rev).toBe(1);
    expect(st.rows[0]).toBe(before[0]);
    expect(st.rows[2]).toBe(before[2]);
    const kids = st.children.get('t');
    // A nested call's result bumps the card that shows it, and gets a new child list.
    st = appendLine(st, sub('t', [{ type: 'tool_result', tool_use_id: 'c1', content: 'x' }], 'user'));
    expect(st.rows[1].rev).toBe(2);
    expect(st.children.get('t')).not.toBe(kids);
    expect(st.children.get('t')?.length).toBe(2);
    expect(st.results.get('c1')?.content).toBe('x');
  });

  it('nests a subagent of a subagent inside the same top-level card', () => {
    const st = buildTranscript([
      task('outer'),
      sub('outer', [{ type: 'tool_use', id: 'inner', name: 'Task', input: { description: 'deeper' } }]),
      sub('inner', [{ type: 'text', text: 'deep work' }]),
      result('inner', 'deep done', { parent_tool_use_id: 'outer' }),
    ]);
    expect(st.rows.length).toBe(1);
    expect(st.children.get('outer')?.length).toBe(2);
    expect(st.children.get('inner')?.map((m) => m.message.content[0].text)).toEqual(['deep work']);
    expect(st.results.get('inner')?.content).toBe('deep done');
  });

  it('shows a child whose Task is on an older page as a row, and nests it once that page loads', () => {
    const older = [{ type: 'user_input', text: 'go' }, task('t')];
    const child = sub('t', [{ type: 'text', text: 'orphan for now' }]);
    let st = buildTranscript([child, text('after')], 100);
    expect(st.rows.map((r) => r.msg)).toEqual([child, st.rows[1].msg]);
    st = prependLines(st, older);
    expect(st.rows.map((r) => r.msg.type)).toEqual(['user_input', 'assistant', 'assistant']);
    expect(st.children.get('t')).toEqual([child]);
  });

  it('files a line once when a state update runs twice (React StrictMode)', () => {
    const st = buildTranscript([task('t')]);
    const line = sub('t', [{ type: 'text', text: 'once' }]);
    appendLines(st, [line]);
    const again = appendLines(st, [line]);
    expect(again.children.get('t')).toEqual([line]);
  });
});

describe('batched appends', () => {
  it('equal one-by-one appends, with one copy per batch and earlier states untouched', () => {
    const start = buildTranscript([{ type: 'user_input', text: 'go' }, task('t')]);
    const batch = [text('a'), sub('t', [{ type: 'text', text: 'child' }]), result('t', 'ok'), text('b')];
    let oneByOne = start;
    for (const m of batch) oneByOne = appendLine(oneByOne, m);
    const batched = appendLines(start, batch);
    expect(batched.rows.map((r) => [r.key, r.msg, r.rev])).toEqual(oneByOne.rows.map((r) => [r.key, r.msg, r.rev]));
    expect(linesOf(batched)).toEqual(linesOf(oneByOne));
    expect(start.rows.length).toBe(2);
    expect(linesOf(start)).toEqual([{ type: 'user_input', text: 'go' }, task('t')]);
    // Appending to a state that is no longer the tip copies instead of overwriting the branch.
    const branch = appendLines(start, [text('other')]);
    expect(linesOf(branch).map((m) => m.message?.content?.[0]?.text ?? m.type)).toEqual(['user_input', 'assistant', 'other']);
    expect(linesOf(batched).length).toBe(6);
    expect(appendLines(start, [])).toBe(start);
  });
});
