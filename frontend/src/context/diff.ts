// Splits a unified diff into per-file sections with typed lines, for the proposal view.

export type DiffLineKind = 'add' | 'del' | 'hunk' | 'meta' | 'ctx';
export interface DiffLine {
  kind: DiffLineKind;
  text: string;
}
export interface DiffFile {
  path: string;
  lines: DiffLine[];
  added: number;
  removed: number;
}

export function parseDiff(text: string): DiffFile[] {
  const files: DiffFile[] = [];
  let cur: DiffFile | null = null;
  for (const line of (text ?? '').replace(/\r\n/g, '\n').split('\n')) {
    if (line.startsWith('diff --git ')) {
      const m = line.match(/^diff --git a\/(.*) b\/(.*)$/);
      cur = { path: m ? m[2] : line.slice(11), lines: [], added: 0, removed: 0 };
      files.push(cur);
      continue;
    }
    if (!cur) {
      if (line === '') continue;
      cur = { path: '', lines: [], added: 0, removed: 0 };
      files.push(cur);
    }
    let kind: DiffLineKind = 'ctx';
    if (line.startsWith('+++ ') || line.startsWith('--- ') || /^(index|new file|deleted file|similarity|rename|old mode|new mode|Binary) /.test(line))
      kind = 'meta';
    else if (line.startsWith('@@')) kind = 'hunk';
    else if (line.startsWith('+')) kind = 'add';
    else if (line.startsWith('-')) kind = 'del';
    if (kind === 'add') cur.added++;
    if (kind === 'del') cur.removed++;
    if (kind === 'meta' && line.startsWith('+++ b/') && !cur.path) cur.path = line.slice(6);
    cur.lines.push({ kind, text: line });
  }
  // A trailing newline leaves one empty context line: drop it.
  for (const f of files) {
    const last = f.lines[f.lines.length - 1];
    if (last && last.kind === 'ctx' && last.text === '') f.lines.pop();
  }
  return files;
}

/** True for files the viewer renders as markdown. */
export function isMarkdown(path: string): boolean {
  return /\.(md|markdown|mdx)$/i.test(path);
}

/** The repositories whose files the user may edit (knowledge changes only through reviewed proposals). */
export function editable(repo: string): boolean {
  return repo === 'notes' || repo === 'personal';
}

/** Cleans a user-typed new file path: slashes, no leading slash, no "..", ".md" added when there is no extension. */
export function normalizeNewPath(input: string, folder = ''): { path?: string; error?: string } {
  let p = input.trim().replace(/\\/g, '/').replace(/^\/+/, '');
  if (!p) return { error: 'Enter a file name.' };
  if (folder && !p.includes('/')) p = `${folder.replace(/\/+$/, '')}/${p}`;
  const segs = p.split('/');
  if (segs.some((s) => s === '..' || s === '.' || s === '')) return { error: `"${input}" is not a valid path.` };
  if (segs.some((s) => s === '.git')) return { error: 'Files inside .git cannot be edited.' };
  if (!/\.[A-Za-z0-9]+$/.test(segs[segs.length - 1])) p += '.md';
  return { path: p };
}
