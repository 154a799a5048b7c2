import { memo, useEffect, useMemo, useState } from 'react';
import { NavLink, useNavigate } from 'react-router-dom';
import { on, RECONNECTED } from '../api/client';
import { LoopService, topics, VaultService, type LoopMeta } from '../api/services';
import { useAction, useEvent, useLoad } from '../ui';
import { Modal } from './Modal';
import { listLoops } from './loopList';
import { useRowWindow } from './rowWindow';

export function Sidebar() {
  const loops = useLoad<LoopMeta[]>(listLoops, []);
  useEvent(topics.loopsChanged, () => loops.reload());
  useEvent(RECONNECTED, () => loops.reload());
  const [query, setQuery] = useState('');
  const [showArchived, setShowArchived] = useState(false);
  const [creating, setCreating] = useState(false);

  const all = loops.data ?? [];
  const visible = useMemo(() => {
    const q = query.trim().toLowerCase();
    return all
      .filter((l) => showArchived || !l.archived)
      .filter((l) => !q || l.title.toLowerCase().includes(q) || (l.repo ?? '').toLowerCase().includes(q))
      .sort((a, b) => (b.created ?? '').localeCompare(a.created ?? ''));
  }, [all, query, showArchived]);
  const archivedCount = all.filter((l) => l.archived).length;
  const live = useLiveStatuses(all);
  // A long list renders only the rows in view (and a margin): 500 loops cost what 40 do.
  const { scrollerRef, start, end, padTop, padBottom, measureRef } = useRowWindow(visible.length);

  return (
    <aside className="sidebar" data-testid="sidebar">
      <div className="sidebar-top">
        <button className="btn btn-primary btn-block" data-testid="new-loop" onClick={() => setCreating(true)}>
          + New loop
        </button>
        {all.length > 0 && (
          <input
            className="input search"
            placeholder="Search loops"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            data-testid="loop-search"
          />
        )}
      </div>
      <nav className="loop-list" ref={scrollerRef} data-count={loops.data ? visible.length : undefined} data-testid="loop-list">
        {loops.loading && !loops.data && <div className="muted pad">Loading loops…</div>}
        {loops.error && !loops.data && (
          <div className="inline-error pad">
            Could not load loops.{' '}
            <button className="btn btn-small" onClick={() => loops.reload()}>
              Retry
            </button>
          </div>
        )}
        {loops.data && all.length === 0 && (
          <div className="empty" data-testid="empty-state">
            <div className="empty-title">No loops yet</div>
            <p>Create one to start a Claude Code session in its own sandbox.</p>
            <button className="btn" data-testid="empty-new-loop" onClick={() => setCreating(true)}>
              Create your first loop
            </button>
          </div>
        )}
        {all.length > 0 && visible.length === 0 && <div className="muted pad">No loop matches “{query}”.</div>}
        {padTop > 0 && <div style={{ height: padTop }} aria-hidden />}
        {visible.slice(start, end).map((l, i) => (
          <LoopItem key={l.id} loop={l} status={live.get(l.id) ?? l.status} measureRef={i === 0 ? measureRef : undefined} />
        ))}
        {padBottom > 0 && <div style={{ height: padBottom }} aria-hidden />}
      </nav>
      {archivedCount > 0 && (
        <label className="sidebar-foot">
          <input type="checkbox" checked={showArchived} onChange={(e) => setShowArchived(e.target.checked)} /> Show
          archived ({archivedCount})
        </label>
      )}
      {creating && <NewLoopDialog onClose={() => setCreating(false)} onCreated={() => loops.reload()} />}
    </aside>
  );
}

/**
 * Every listed loop's live status between list refreshes, by id: subscribed here for all
 * loops, not per row, because a row out of view is not mounted and would miss its changes.
 * Kept across refreshes, as a mounted row kept it: a status is saved behind its event.
 */
function useLiveStatuses(all: LoopMeta[]): Map<string, string> {
  const [live, setLive] = useState<Map<string, string>>(() => new Map());
  const ids = useMemo(() => all.map((l) => l.id).join(','), [all]);
  useEffect(() => {
    const offs = ids
      .split(',')
      .filter(Boolean)
      .map((id) =>
        on(topics.loopStatus(id), (s: { status?: string } | undefined) => {
          if (s?.status) setLive((m) => new Map(m).set(id, s.status!));
        }),
      );
    return () => offs.forEach((off) => off());
  }, [ids]);
  return live;
}

/** One loop row. */
const LoopItem = memo(function LoopItem({ loop, status, measureRef }: { loop: LoopMeta; status: string; measureRef?: (el: HTMLElement | null) => void }) {
  return (
    <NavLink
      ref={measureRef}
      to={`/loops/${loop.id}`}
      className={({ isActive }) => `loop-item ${isActive ? 'active' : ''} ${loop.archived ? 'archived' : ''}`}
      data-testid={`loop-item-${loop.id}`}
      title={[loop.title || 'Untitled loop', loop.repo && shortRepo(loop.repo)].filter(Boolean).join('\n')}
    >
      <span className={`status-dot status-${status}`} />
      <span className="loop-item-text">
        <span className="loop-item-title">{loop.title || 'Untitled loop'}</span>
        <span className="loop-item-sub" data-testid="loop-item-sub">
          {status === 'waiting' ? 'needs input' : status}
          {loop.repo && <span className="loop-item-repo"> · {repoName(loop.repo)}</span>}
        </span>
      </span>
    </NavLink>
  );
});

function shortRepo(repo: string): string {
  return repo.replace(/^https?:\/\//, '').replace(/\.git$/, '');
}

/** The repository's last path element ("github.com/me/app.git" → "app"). */
function repoName(repo: string): string {
  return shortRepo(repo).replace(/\/+$/, '').split('/').pop() || repo;
}

export function NewLoopDialog({ onClose, onCreated }: { onClose: () => void; onCreated: () => void }) {
  const nav = useNavigate();
  const vaults = useLoad<string[]>(() => VaultService.Vaults(), []);
  const [title, setTitle] = useState('');
  const [repo, setRepo] = useState('');
  const [vault, setVault] = useState('');
  const { busy, run } = useAction();
  const submit = async () => {
    const meta = await run(() =>
      LoopService.Create({ title: title.trim(), repo: repo.trim() || undefined, vault: vault || undefined }),
    );
    if (meta) {
      onCreated();
      onClose();
      nav(`/loops/${meta.id}`);
    }
  };
  return (
    <Modal title="New loop" onClose={onClose}>
      <form
        className="form"
        data-testid="new-loop-form"
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <label>
          <span>
            Title <span className="muted">(optional: named after your first message)</span>
          </span>
          <input
            className="input"
            autoFocus
            value={title}
            onChange={(e) => setTitle(e.target.value)}
            placeholder="What should this loop work on?"
            data-testid="new-loop-title"
          />
        </label>
        <label>
          Repository <span className="muted">(optional: git URL or local path)</span>
          <input
            className="input"
            value={repo}
            onChange={(e) => setRepo(e.target.value)}
            placeholder="https://github.com/you/project.git"
            data-testid="new-loop-repo"
          />
        </label>
        <label>
          Vault <span className="muted">(secrets available in the sandbox)</span>
          <select className="input" value={vault} onChange={(e) => setVault(e.target.value)}>
            <option value="">default</option>
            {(vaults.data ?? []).filter((v) => v !== 'default').map((v) => (
              <option key={v} value={v}>
                {v}
              </option>
            ))}
          </select>
        </label>
        <div className="form-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy} data-testid="new-loop-create">
            {busy ? 'Creating…' : 'Create loop'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
