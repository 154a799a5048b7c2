import { useRef, useState } from 'react';
import { topics, WorkdirService, type FileContent, type TreeEntry } from '../api/services';
import { formatBytes, InlineError, Spinner, useEvent, useLoad, useToasts } from '../ui';
import { CodeView } from './CodeView';
import { languageFor } from './highlight';

export function FilesTab({ loopId }: { loopId: string }) {
  const [file, setFile] = useState<FileContent | null>(null);
  const [loading, setLoading] = useState('');
  const toasts = useToasts();
  // The agent changes files during a turn: re-read the tree when it finishes one.
  const [version, setVersion] = useState(0);
  useEvent(topics.loopStatus(loopId), (s: { status: string }) => {
    if (s.status !== 'working' && s.status !== 'starting') setVersion((v) => v + 1);
  });
  const open = async (path: string) => {
    setLoading(path);
    try {
      setFile(await WorkdirService.Read(loopId, path));
    } catch (e) {
      toasts.error(e);
    } finally {
      setLoading('');
    }
  };
  const [treeWidth, startResize, nudge] = useTreeWidth();
  return (
    <div className="files" data-testid="files" style={{ gridTemplateColumns: `${treeWidth}px 6px 1fr` }}>
      <div className="file-tree" data-testid="file-tree">
        <button className="tree-refresh btn btn-small" onClick={() => setVersion((v) => v + 1)} data-testid="files-refresh">
          Refresh
        </button>
        <Dir loopId={loopId} path="" depth={0} onOpen={open} selected={file?.path ?? loading} version={version} />
      </div>
      <div
        className="splitter"
        role="separator"
        aria-orientation="vertical"
        aria-label="Resize the file tree"
        aria-valuenow={treeWidth}
        tabIndex={0}
        onPointerDown={startResize}
        onKeyDown={(e) => {
          if (e.key === 'ArrowLeft') nudge(-20);
          if (e.key === 'ArrowRight') nudge(20);
        }}
        data-testid="files-splitter"
      />
      <div className="file-view loop-file-view">
        {loading && <Spinner label={`Opening ${loading}…`} />}
        {!loading && !file && <div className="muted pad">Pick a file to view it.</div>}
        {!loading && file && (
          <>
            <div className="file-path">
              <code>{file.path}</code>
              {file.truncated && <span className="tag">truncated</span>}
            </div>
            {file.binary ? (
              <div className="muted pad">Binary file — not shown.</div>
            ) : (
              <CodeView code={file.content} lang={languageFor(file.path)} testid="file-content" lineNumbers />
            )}
          </>
        )}
      </div>
    </div>
  );
}

const TREE_WIDTH_KEY = 'loopat.files.treeWidth';
const MIN_TREE = 140;
const MAX_TREE = 600;

/** The file tree's width: dragged with the splitter (or arrow keys), kept across loops. */
function useTreeWidth(): [number, (e: React.PointerEvent) => void, (delta: number) => void] {
  const clamp = (w: number) => Math.min(MAX_TREE, Math.max(MIN_TREE, Math.round(w)));
  const [width, setWidth] = useState(() => clamp(Number(localStorage.getItem(TREE_WIDTH_KEY)) || 220));
  const latest = useRef(width);
  const set = (w: number) => {
    latest.current = clamp(w);
    setWidth(latest.current);
  };
  const save = () => localStorage.setItem(TREE_WIDTH_KEY, String(latest.current));
  const start = (e: React.PointerEvent) => {
    e.preventDefault();
    const x0 = e.clientX;
    const w0 = latest.current;
    const move = (ev: PointerEvent) => set(w0 + ev.clientX - x0);
    const up = () => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
      document.body.classList.remove('resizing');
      save();
    };
    document.body.classList.add('resizing');
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  };
  const nudge = (d: number) => {
    set(latest.current + d);
    save();
  };
  return [width, start, nudge];
}

function Dir({
  loopId,
  path,
  depth,
  onOpen,
  selected,
  version,
}: {
  loopId: string;
  path: string;
  depth: number;
  onOpen: (p: string) => void;
  selected: string;
  version: number;
}) {
  const entries = useLoad<TreeEntry[]>(() => WorkdirService.Tree(loopId, path), [loopId, path, version]);
  const [open, setOpen] = useState<Record<string, boolean>>({});
  if (entries.loading && !entries.data) return <div className="muted small" style={{ paddingLeft: depth * 12 + 8 }}>…</div>;
  if (entries.error && !entries.data) return <InlineError text={entries.error} onRetry={() => entries.reload()} />;
  const list = [...(entries.data ?? [])].sort((a, b) => Number(b.dir) - Number(a.dir) || a.name.localeCompare(b.name));
  if (depth === 0 && list.length === 0) return <div className="muted pad">The working directory is empty.</div>;
  return (
    <ul className="tree">
      {list.map((e) => (
        <li key={e.path}>
          <button
            className={`tree-row ${selected === e.path ? 'active' : ''}`}
            data-testid={`tree-${e.path}`}
            style={{ paddingLeft: depth * 12 + 8 }}
            onClick={() => (e.dir ? setOpen((o) => ({ ...o, [e.path]: !o[e.path] })) : onOpen(e.path))}
            title={e.dir ? e.path : `${e.path} · ${formatBytes(e.size)}`}
          >
            <span className="tree-icon">{e.dir ? (open[e.path] ? '▾' : '▸') : ' '}</span>
            {e.name}
          </button>
          {e.dir && open[e.path] && <Dir loopId={loopId} path={e.path} depth={depth + 1} onOpen={onOpen} selected={selected} version={version} />}
        </li>
      ))}
    </ul>
  );
}
