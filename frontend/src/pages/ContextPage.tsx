// The Context view: knowledge (read-only, changed through reviewed proposals), notes and
// personal repositories. Browse and search, read markdown, edit notes/personal files
// (each save is a commit), sync with the origin, and review knowledge proposals.
import { useEffect, useMemo, useState } from 'react';
import Markdown from 'react-markdown';
import remarkGfm from 'remark-gfm';
import { NavLink, Navigate, useParams } from 'react-router-dom';
import { RECONNECTED } from '../api/client';
import {
  ContextService,
  moreTopics,
  REPOS,
  type ContextEntry,
  type ContextFile,
  type Proposal,
  type SearchHit,
  type SyncStatus,
} from '../api/more';
import { editable, isMarkdown, normalizeNewPath, parseDiff } from '../context/diff';
import { ConfirmButton, formatBytes, formatTime, InlineError, Spinner, useAction, useEvent, useLoad, useToasts } from '../ui';
import '../styles-more.css';

const TAB_LABEL: Record<string, string> = { knowledge: 'Knowledge', notes: 'Notes', personal: 'Personal' };
const TAB_HINT: Record<string, string> = {
  knowledge: 'Shared team knowledge. Loops read it; their changes arrive as proposals you review below.',
  notes: 'Team notes and boards. Each save is one commit; push to share it.',
  personal: 'Your own notes, never shared with the team. Each save is one commit.',
};

export function ContextPage() {
  const { repo = '' } = useParams();
  if (!REPOS.includes(repo as never)) return <Navigate to="/context/knowledge" replace />;
  return (
    <div className="page context-page" data-testid="context-page" data-repo={repo}>
      <div className="page-head">
        <div>
          <h1>Context</h1>
          <p className="muted">{TAB_HINT[repo]}</p>
        </div>
      </div>
      <nav className="tabs context-tabs" role="tablist">
        {REPOS.map((r) => (
          <NavLink key={r} to={`/context/${r}`} className={({ isActive }) => `tab ${isActive ? 'active' : ''}`} data-testid={`context-tab-${r}`}>
            {TAB_LABEL[r]}
          </NavLink>
        ))}
      </nav>
      {/* The same bar, in the same place, on every tab. */}
      <SyncBar key={`sync-${repo}`} repo={repo} />
      {/* key: a fresh browser per repository, no stale selection */}
      <RepoBrowser key={repo} repo={repo} />
      {repo === 'knowledge' && <Proposals />}
    </div>
  );
}

function SyncBar({ repo }: { repo: string }) {
  const status = useLoad<SyncStatus>(() => ContextService.Status(repo), [repo]);
  const { busy, run } = useAction();
  const toasts = useToasts();
  useEvent(moreTopics.contextChanged, (d: { repo?: string }) => {
    if (!d?.repo || d.repo === repo) status.reload();
  });
  useEvent(RECONNECTED, () => status.reload());
  const act = async (what: 'Pull' | 'Push') => {
    const res = await run(() => (what === 'Pull' ? ContextService.Pull(repo) : ContextService.Push(repo)));
    if (res) {
      status.set(res);
      toasts.info(what === 'Pull' ? `Pulled ${repo}.` : `Pushed ${repo}.`);
    }
  };
  const s = status.data;
  // The personal repository with only this workspace's own origin is never shared: there
  // is nothing to push it to or pull from.
  const neverShared = repo === 'personal' && !!s?.solo;
  return (
    <div className="sync-bar" data-testid="sync-status">
      {status.loading && !s && <Spinner label="Checking sync…" />}
      {s && (
        <span className="sync-text" data-ahead={s.ahead} data-behind={s.behind}>
          <span title="local commits the origin does not have">↑ {s.ahead}</span>{' '}
          <span title="origin commits not pulled yet">↓ {s.behind}</span>{' '}
          <span className="muted">
            {s.branch || 'no branch'} ·{' '}
            {s.solo ? (
              <span title="No team remote is set for this repository: its origin is a copy on this computer.">kept on this computer only</span>
            ) : (
              <span title="The team remote">{s.remote}</span>
            )}
          </span>
          {s.dirty && <span className="muted"> · uncommitted changes</span>}
        </span>
      )}
      {s?.fetchError && <span className="inline-error small">fetch failed: {s.fetchError}</span>}
      {status.error && !s && <InlineError text={status.error} onRetry={() => status.reload()} />}
      <span className="grow" />
      {neverShared ? (
        <span className="muted small" data-testid="sync-private">
          Private: never pushed
        </span>
      ) : (
        <>
          <button className="btn btn-small" disabled={busy || !s || s.behind === 0} onClick={() => act('Pull')} data-testid="sync-pull">
            Pull
          </button>
          <button
            className="btn btn-small"
            disabled={busy || !s || s.ahead === 0 || s.behind > 0}
            title={s && s.behind > 0 ? 'Pull first: the origin has commits you do not have' : undefined}
            onClick={() => act('Push')}
            data-testid="sync-push"
          >
            Push
          </button>
        </>
      )}
      <button className="icon-btn" title="Refresh" aria-label="Refresh sync status" onClick={() => status.reload()}>
        ↻
      </button>
    </div>
  );
}

function RepoBrowser({ repo }: { repo: string }) {
  const [selected, setSelected] = useState<string | null>(null);
  const [folder, setFolder] = useState('');
  const [query, setQuery] = useState('');
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [creating, setCreating] = useState<string | null>(null);
  const [treeGen, setTreeGen] = useState(0);
  const { busy: searching, run } = useAction();
  useEvent(moreTopics.contextChanged, (d: { repo?: string }) => {
    if (!d?.repo || d.repo === repo) setTreeGen((g) => g + 1);
  });

  const search = async (e?: React.FormEvent) => {
    e?.preventDefault();
    const q = query.trim();
    if (!q) return setHits(null);
    const res = await run(() => ContextService.Search(repo, q));
    if (res) setHits(res);
  };

  return (
    <div className="context-body">
      <aside className="context-side">
        <form className="row" onSubmit={search}>
          <input
            className="input"
            placeholder={`Search ${TAB_LABEL[repo].toLowerCase()}`}
            value={query}
            onChange={(e) => {
              setQuery(e.target.value);
              if (!e.target.value.trim()) setHits(null);
            }}
            data-testid="context-search"
          />
        </form>
        {searching && <Spinner label="Searching…" />}
        {hits && (
          <div className="search-hits" data-testid="context-hits">
            <div className="muted small">
              {hits.length === 0 ? `Nothing matches “${query}”.` : `${hits.length} match${hits.length === 1 ? '' : 'es'}`}{' '}
              <button className="link-btn" onClick={() => setHits(null)}>
                clear
              </button>
            </div>
            {hits.map((h, i) => (
              <button key={i} className={`hit ${selected === h.path ? 'active' : ''}`} onClick={() => setSelected(h.path)}>
                <span className="hit-path">
                  {h.path}
                  {h.line > 0 && <span className="muted">:{h.line}</span>}
                </span>
                {h.line > 0 && <span className="hit-text muted">{h.text}</span>}
              </button>
            ))}
          </div>
        )}
        {!hits && (
          <>
            <div className="tree-head">
              <span className="muted small">Files</span>
              {editable(repo) && (
                <button className="btn btn-small" onClick={() => setCreating(folder)} data-testid="context-new-file">
                  + New file
                </button>
              )}
            </div>
            <Tree
              repo={repo}
              path=""
              gen={treeGen}
              selected={selected}
              onSelect={(p) => setSelected(p)}
              onFolder={setFolder}
            />
          </>
        )}
      </aside>
      <section className="context-main">
        {creating !== null ? (
          <NewFile
            repo={repo}
            folder={creating}
            onCancel={() => setCreating(null)}
            onCreated={(p) => {
              setCreating(null);
              setSelected(p);
              setTreeGen((g) => g + 1);
            }}
          />
        ) : selected ? (
          <FileView key={selected} repo={repo} path={selected} gen={treeGen} />
        ) : (
          <div className="empty" data-testid="context-no-file">
            <div className="empty-title">No file open</div>
            <p>
              Pick a file on the left{editable(repo) ? ', or create one with “+ New file”' : ''}.{' '}
              {repo === 'knowledge' && 'Knowledge is read-only here: ask a loop to write it, then merge its proposal.'}
            </p>
          </div>
        )}
      </section>
    </div>
  );
}

/** One folder level; sub-folders load when opened. */
function Tree({
  repo,
  path,
  gen,
  selected,
  onSelect,
  onFolder,
  depth = 0,
}: {
  repo: string;
  path: string;
  gen: number;
  selected: string | null;
  onSelect: (p: string) => void;
  onFolder: (p: string) => void;
  depth?: number;
}) {
  const entries = useLoad<ContextEntry[]>(() => ContextService.Tree(repo, path), [repo, path, gen]);
  const [open, setOpen] = useState<Record<string, boolean>>({});
  const items = useMemo(
    () =>
      (entries.data ?? [])
        .filter((e) => e.name !== '.git')
        .sort((a, b) => (a.dir === b.dir ? a.name.localeCompare(b.name) : a.dir ? -1 : 1)),
    [entries.data],
  );
  // A folder holding the selected file (a new file, a search hit) opens by itself.
  const isOpen = (p: string) => open[p] ?? !!selected?.startsWith(p + '/');
  if (entries.loading && !entries.data) return <div className="muted small tree-pad">Loading…</div>;
  if (entries.error && !entries.data) return <InlineError text={entries.error} onRetry={() => entries.reload()} />;
  if (depth === 0 && items.length === 0)
    return (
      <div className="empty small" data-testid="context-empty">
        <div className="empty-title">Empty repository</div>
        <p>
          {repo === 'knowledge'
            ? 'No knowledge yet. Loops add knowledge as proposals; merge them below.'
            : 'Nothing here yet. Create a file with “+ New file”.'}
        </p>
      </div>
    );
  return (
    <ul className="tree" data-testid={depth === 0 ? 'context-tree' : undefined}>
      {items.map((e) => (
        <li key={e.path}>
          {e.dir ? (
            <>
              <button
                className="tree-item tree-dir"
                style={{ paddingLeft: 6 + depth * 14 }}
                onClick={() => {
                  setOpen((o) => ({ ...o, [e.path]: !isOpen(e.path) }));
                  onFolder(e.path);
                }}
                data-testid="context-dir"
                data-path={e.path}
              >
                <span className="tree-caret">{isOpen(e.path) ? '▾' : '▸'}</span> {e.name}
              </button>
              {isOpen(e.path) && (
                <Tree repo={repo} path={e.path} gen={gen} selected={selected} onSelect={onSelect} onFolder={onFolder} depth={depth + 1} />
              )}
            </>
          ) : (
            <button
              className={`tree-item ${selected === e.path ? 'active' : ''}`}
              style={{ paddingLeft: 20 + depth * 14 }}
              onClick={() => onSelect(e.path)}
              ref={(el) => {
                if (el && selected === e.path) el.scrollIntoView({ block: 'nearest' });
              }}
              aria-current={selected === e.path ? 'true' : undefined}
              title={`${e.path} · ${formatBytes(e.size)}`}
              data-testid="context-file"
              data-path={e.path}
            >
              {e.name}
            </button>
          )}
        </li>
      ))}
    </ul>
  );
}

function FileView({ repo, path, gen }: { repo: string; path: string; gen: number }) {
  const file = useLoad<ContextFile>(() => ContextService.Read(repo, path), [repo, path, gen]);
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState('');
  const { busy, run } = useAction();
  const toasts = useToasts();
  const f = file.data;
  const canEdit = editable(repo) && f && !f.binary && !f.truncated;
  const save = async () => {
    const hash = await run(() => ContextService.Write(repo, path, text));
    if (hash === undefined) return;
    toasts.info(`Saved ${path} (commit ${String(hash).slice(0, 7)}).`);
    setEditing(false);
    file.set({ ...(f as ContextFile), content: text, size: new TextEncoder().encode(text).length });
  };
  return (
    <div className="file-view" data-testid="context-file-view" data-path={path}>
      <div className="file-head">
        <code className="file-path">{path}</code>
        {f && <span className="muted small">{formatBytes(f.size)}</span>}
        <span className="grow" />
        {repo === 'knowledge' && (
          <span className="muted small" data-testid="knowledge-readonly">
            Read-only: knowledge changes through loop proposals so the team reviews them.
          </span>
        )}
        {canEdit && !editing && (
          <button
            className="btn btn-small"
            onClick={() => {
              setText(f!.content);
              setEditing(true);
            }}
            data-testid="context-edit"
          >
            Edit
          </button>
        )}
        {editing && (
          <>
            <button className="btn btn-small" onClick={() => setEditing(false)} disabled={busy}>
              Cancel
            </button>
            <button
              className="btn btn-small btn-primary"
              onClick={save}
              disabled={busy || text === f?.content}
              data-testid="context-save"
            >
              {busy ? 'Saving…' : 'Save (commit)'}
            </button>
          </>
        )}
      </div>
      {file.loading && !f && <Spinner label="Loading…" />}
      <InlineError text={file.error} onRetry={() => file.reload()} />
      {f && f.binary && <div className="muted pad">Binary file ({formatBytes(f.size)}): not shown.</div>}
      {f && f.truncated && <div className="banner banner-warn">Large file: only the beginning is shown; edit it outside loopat.</div>}
      {f && !f.binary && editing && (
        <textarea
          className="input editor"
          value={text}
          onChange={(e) => setText(e.target.value)}
          spellCheck={false}
          data-testid="context-editor"
          onKeyDown={(e) => {
            if ((e.ctrlKey || e.metaKey) && e.key === 's') {
              e.preventDefault();
              if (text !== f.content) save();
            }
          }}
        />
      )}
      {f && !f.binary && !editing &&
        (isMarkdown(path) ? (
          <div className="markdown file-markdown" data-testid="context-markdown">
            <Markdown remarkPlugins={[remarkGfm]}>{f.content}</Markdown>
          </div>
        ) : (
          <pre className="file-text" data-testid="context-text">
            {f.content}
          </pre>
        ))}
    </div>
  );
}

function NewFile({
  repo,
  folder,
  onCancel,
  onCreated,
}: {
  repo: string;
  folder: string;
  onCancel: () => void;
  onCreated: (path: string) => void;
}) {
  const [name, setName] = useState('');
  const [text, setText] = useState('');
  const [error, setError] = useState<string | undefined>();
  const { busy, run } = useAction();
  const toasts = useToasts();
  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    const p = normalizeNewPath(name, folder);
    if (p.error) return setError(p.error);
    setError(undefined);
    // Refuse to overwrite: Read succeeds only when the file exists.
    const exists = await ContextService.Read(repo, p.path!).then(
      () => true,
      () => false,
    );
    if (exists) return setError(`${p.path} already exists: open it and edit instead.`);
    const hash = await run(() => ContextService.Write(repo, p.path!, text));
    if (hash === undefined) return;
    toasts.info(`Created ${p.path} (commit ${String(hash).slice(0, 7)}).`);
    onCreated(p.path!);
  };
  return (
    <form className="file-view" onSubmit={create} data-testid="context-new-form">
      <div className="file-head">
        <input
          className="input"
          autoFocus
          placeholder={folder ? `${folder}/name.md` : 'folder/name.md'}
          value={name}
          onChange={(e) => setName(e.target.value)}
          data-testid="context-new-path"
        />
        <button type="button" className="btn btn-small" onClick={onCancel}>
          Cancel
        </button>
        <button className="btn btn-small btn-primary" disabled={busy} data-testid="context-new-save">
          Create (commit)
        </button>
      </div>
      <InlineError text={error} />
      <textarea
        className="input editor"
        placeholder="# Title&#10;&#10;Markdown text…"
        value={text}
        onChange={(e) => setText(e.target.value)}
        data-testid="context-new-content"
      />
    </form>
  );
}

function Proposals() {
  const proposals = useLoad<Proposal[]>(() => ContextService.Proposals(), []);
  const [open, setOpen] = useState<string | null>(null);
  const { busy, run } = useAction();
  const toasts = useToasts();
  useEvent(moreTopics.contextChanged, (d: { repo?: string }) => {
    if (!d?.repo || d.repo === 'knowledge') proposals.reload();
  });
  const list = proposals.data ?? [];
  useEffect(() => {
    if (open && proposals.data && !proposals.data.some((p) => p.id === open)) setOpen(null);
  }, [proposals.data, open]);
  const act = async (id: string, what: 'merge' | 'discard') => {
    const ok = await run(async () => {
      if (what === 'merge') await ContextService.MergeProposal(id);
      else await ContextService.DiscardProposal(id);
      return true;
    });
    if (ok) {
      toasts.info(what === 'merge' ? 'Proposal merged into knowledge and pushed.' : 'Proposal discarded.');
      setOpen(null);
      proposals.reload();
    }
  };
  return (
    <section className="proposals" data-testid="proposals">
      <h2>
        Proposals <span className="muted">({list.length})</span>
        <button className="icon-btn" title="Refresh" aria-label="Refresh proposals" onClick={() => proposals.reload()}>
          ↻
        </button>
      </h2>
      {proposals.loading && !proposals.data && <Spinner label="Loading proposals…" />}
      <InlineError text={proposals.error} onRetry={() => proposals.reload()} />
      {proposals.data && list.length === 0 && (
        <div className="empty" data-testid="proposals-empty">
          <div className="empty-title">No proposals waiting</div>
          <p>When a loop changes knowledge and you promote its context, the change shows up here for review.</p>
        </div>
      )}
      {list.map((p) => (
        <div key={p.id} className="card proposal" data-testid="proposal" data-id={p.id}>
          <div className="row">
            <button className="link-btn proposal-title" onClick={() => setOpen(open === p.id ? null : p.id)}>
              {open === p.id ? '▾' : '▸'} {p.message || p.branch}
            </button>
            <span className="grow" />
            <span className="muted small">
              loop {p.id} · {formatTime(p.when)} · {(p.files ?? []).length} file{(p.files ?? []).length === 1 ? '' : 's'}
            </span>
            <button className="btn btn-small btn-primary" disabled={busy} onClick={() => act(p.id, 'merge')} data-testid="proposal-merge">
              Merge
            </button>
            <ConfirmButton
              label="Discard"
              question="Discard this proposal? (the loop keeps its own copy)"
              confirmLabel="Discard"
              disabled={busy}
              onConfirm={() => act(p.id, 'discard')}
              testid="proposal-discard"
            />
          </div>
          {open === p.id && <ProposalDiff id={p.id} />}
        </div>
      ))}
    </section>
  );
}

function ProposalDiff({ id }: { id: string }) {
  const diff = useLoad<string>(() => ContextService.ProposalDiff(id), [id]);
  const files = useMemo(() => parseDiff(diff.data ?? ''), [diff.data]);
  if (diff.loading && diff.data === undefined) return <Spinner label="Loading diff…" />;
  if (diff.error) return <InlineError text={diff.error} onRetry={() => diff.reload()} />;
  if (files.length === 0) return <p className="muted">This proposal changes nothing against knowledge.</p>;
  return (
    <div className="diff" data-testid="proposal-diff">
      {files.map((f, i) => (
        <div key={i} className="diff-file">
          <div className="diff-file-head">
            <code>{f.path}</code> <span className="diff-add">+{f.added}</span> <span className="diff-del">−{f.removed}</span>
          </div>
          <pre>
            {f.lines
              .filter((l) => l.kind !== 'meta')
              .map((l, j) => (
                <div key={j} className={`diff-line diff-${l.kind}`}>
                  {l.text || ' '}
                </div>
              ))}
          </pre>
        </div>
      ))}
    </div>
  );
}
