import { describe, expect, it } from 'vitest';
import { editable, isMarkdown, normalizeNewPath, parseDiff } from './diff';

describe('parseDiff', () => {
  it('splits files and classifies lines', () => {
    const text = [
      'diff --git a/team/a.md b/team/a.md',
      'index 1111111..2222222 100644',
      '--- a/team/a.md',
      '+++ b/team/a.md',
      '@@ -1,2 +1,2 @@',
      ' keep',
      '-old',
      '+new',
      'diff --git a/b.md b/b.md',
      'new file mode 100644',
      '--- /dev/null',
      '+++ b/b.md',
      '@@ -0,0 +1 @@',
      '+hello',
      '',
    ].join('\n');
    const files = parseDiff(text);
    expect(files.map((f) => f.path)).toEqual(['team/a.md', 'b.md']);
    expect(files[0].added).toBe(1);
    expect(files[0].removed).toBe(1);
    expect(files[0].lines.map((l) => l.kind)).toEqual(['meta', 'meta', 'meta', 'hunk', 'ctx', 'del', 'add']);
    expect(files[1].added).toBe(1);
    expect(files[1].lines.at(-1)).toEqual({ kind: 'add', text: '+hello' });
  });
  it('returns nothing for an empty diff', () => {
    expect(parseDiff('')).toEqual([]);
  });
});

describe('paths', () => {
  it('adds .md and the current folder, refuses escapes', () => {
    expect(normalizeNewPath('todo', 'team')).toEqual({ path: 'team/todo.md' });
    expect(normalizeNewPath('/x/y.txt')).toEqual({ path: 'x/y.txt' });
    expect(normalizeNewPath('../etc/passwd').error).toBeTruthy();
    expect(normalizeNewPath('.git/config').error).toBeTruthy();
    expect(normalizeNewPath('  ').error).toBeTruthy();
  });
  it('knows which repos are editable and which files are markdown', () => {
    expect(editable('knowledge')).toBe(false);
    expect(editable('notes')).toBe(true);
    expect(editable('personal')).toBe(true);
    expect(isMarkdown('a/B.MD')).toBe(true);
    expect(isMarkdown('a.txt')).toBe(false);
  });
});
