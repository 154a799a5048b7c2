import { lazy, Suspense, useEffect, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { RECONNECTED } from '../api/client';
import { LoopService, topics, type LoopMeta, type LoopStatus, type QueueItem } from '../api/services';
import { ConfirmButton, InlineError, Spinner, useAction, useEvent, useLoad } from '../ui';
import { Transcript } from './Transcript';
import { PendingCards } from './PendingCard';
import { Composer, ComposerQueue } from './Composer';
import { HostCallsTab } from './HostCallsTab';
import { PortsTab, usePortToasts } from './PortsTab';
import { PromoteButton } from './PromoteButton';
import { useLinkedCard } from '../kanban/linkedCard';
import { takePrefetchedMeta } from './transcriptPrefetch';

const TerminalTab = lazy(() => import('./TerminalTab').then((m) => ({ default: m.TerminalTab })));
// Files and Git carry the syntax highlighter: loaded beside the chat, not before it.
const FilesTab = lazy(() => import('./FilesTab').then((m) => ({ default: m.FilesTab })));
const GitTab = lazy(() => import('./GitTab').then((m) => ({ default: m.GitTab })));

const BUSY: LoopStatus[] = ['working', 'starting'];

export function LoopPage() {
  const { id = '' } = useParams();
  // Remount per loop so no state leaks between loops.
  return <Loop key={id} id={id} />;
}

function Loop({ id }: { id: string }) {
  // The first fetch was started by the router beside the page's code (transcriptPrefetch.ts).
  const meta = useLoad<LoopMeta>(() => takePrefetchedMeta(id) ?? LoopService.Get(id), [id]);
  const queue = useLoad<QueueItem[]>(() => LoopService.Queue(id), [id]);
  const [statusDetail, setStatusDetail] = useState('');
  const [tab, setTab] = useState<'terminal' | 'files' | 'git' | 'host' | 'ports'>('files');
  usePortToasts(id);
  const [panelOpen, setPanelOpen] = useState(true);

  useEvent(topics.loopStatus(id), (s: { status: LoopStatus; detail?: string }) => {
    if (meta.data) meta.update((prev) => (prev ? { ...prev, status: s.status } : prev!));
    else meta.reload();
    setStatusDetail(s.detail ?? '');
  });
  useEvent(topics.loopQueue(id), (q: QueueItem[]) => queue.set(q ?? []));
  useEvent(topics.loopsChanged, () => meta.reload());
  useEvent(RECONNECTED, () => {
    meta.reload();
    queue.reload();
  });

  if (meta.error && !meta.data) {
    return (
      <div className="page pad">
        <InlineError text={`Could not open this loop: ${meta.error}`} onRetry={() => meta.reload()} />
      </div>
    );
  }
  if (!meta.data) return <div className="page pad"><Spinner label="Opening loop…" /></div>;
  const m = meta.data;
  const working = BUSY.includes(m.status);

  return (
    <div className={`loop-page ${panelOpen ? '' : 'panel-closed'}`} data-testid="loop-page">
      <section className="chat">
        <LoopHeader meta={m} detail={statusDetail} onChange={(x) => meta.set(x)} panelOpen={panelOpen} togglePanel={() => setPanelOpen(!panelOpen)} />
        {m.warning && <div className="banner banner-warn">{m.warning}</div>}
        <Transcript
          loopId={id}
          working={working}
          empty={
            <div className="empty chat-empty">
              <div className="empty-title">Say what you want done</div>
              <p>The agent works inside this loop’s sandbox{m.repo ? ` on ${m.repo}` : ''}. Messages sent while it works are queued.</p>
            </div>
          }
        />
        <PendingCards loopId={id} />
        <ComposerQueue id={id} items={queue.data ?? []} onChange={(q) => queue.set(q)} />
        <Composer
          meta={m}
          working={working}
          queued={(queue.data ?? []).length}
          onQueued={() => queue.reload()}
          onQueueTaken={() => queue.set([])}
          onMeta={(x) => meta.set(x)}
        />
      </section>
      {panelOpen && (
        <section className="side-panel">
          <div className="tabs" role="tablist">
            {(
              [
                ['files', 'Files'],
                ['git', 'Git'],
                ['terminal', 'Terminal'],
                ['host', 'Host calls'],
                ['ports', 'Ports'],
              ] as const
            ).map(([t, label]) => (
              <button key={t} role="tab" aria-selected={tab === t} className={`tab ${tab === t ? 'active' : ''}`} onClick={() => setTab(t)} data-testid={`tab-${t}`}>
                {label}
              </button>
            ))}
          </div>
          <div className="tab-body">
            {/* The terminal stays mounted once opened so its session survives tab switches. */}
            <TerminalHost loopId={id} visible={tab === 'terminal'} />
            <Suspense fallback={<Spinner label="Loading…" />}>
              {tab === 'files' && <FilesTab loopId={id} />}
              {tab === 'git' && <GitTab loopId={id} />}
            </Suspense>
            {tab === 'host' && <HostCallsTab loopId={id} />}
            {tab === 'ports' && <PortsTab loopId={id} />}
          </div>
        </section>
      )}
    </div>
  );
}

function TerminalHost({ loopId, visible }: { loopId: string; visible: boolean }) {
  const [opened, setOpened] = useState(false);
  useEffect(() => {
    if (visible) setOpened(true);
  }, [visible]);
  if (!opened) return null;
  return (
    <div style={{ display: visible ? 'flex' : 'none' }} className="terminal-host">
      <Suspense fallback={<Spinner label="Loading terminal…" />}>
        <TerminalTab loopId={loopId} visible={visible} />
      </Suspense>
    </div>
  );
}

function LoopHeader({
  meta,
  detail,
  onChange,
  panelOpen,
  togglePanel,
}: {
  meta: LoopMeta;
  detail: string;
  onChange: (m: LoopMeta) => void;
  panelOpen: boolean;
  togglePanel: () => void;
}) {
  const nav = useNavigate();
  const [editing, setEditing] = useState(false);
  const [title, setTitle] = useState(meta.title);
  const { busy, run } = useAction();
  const rename = async () => {
    setEditing(false);
    const t = title.trim();
    if (!t || t === meta.title) return setTitle(meta.title);
    if ((await run(async () => (await LoopService.Rename(meta.id, t), true))) !== undefined) onChange({ ...meta, title: t });
    else setTitle(meta.title);
  };
  const usage = Object.entries(meta.usage?.byModel ?? {});
  const tokens = usage.reduce((n, [, u]) => n + (u.input ?? 0) + (u.output ?? 0), 0);
  const card = useLinkedCard(meta.id);
  const shownTitle = meta.title || 'Untitled loop';
  // Two rows at most, whatever the width: the title row (title, status, actions, panel
  // toggle) never wraps, the title shrinks instead; the meta row clips. The promote
  // result is a popover, not a row.
  return (
    <div className="loop-header" data-testid="loop-header">
      <div className="loop-title-row">
        {editing ? (
          <input
            className="input title-input"
            autoFocus
            value={title}
            onChange={(e) => setTitle(e.target.value)}
            onBlur={rename}
            onKeyDown={(e) => {
              if (e.key === 'Enter') rename();
              if (e.key === 'Escape') {
                setTitle(meta.title);
                setEditing(false);
              }
            }}
            data-testid="loop-title-input"
          />
        ) : (
          <h1 className="loop-title" title={shownTitle} onClick={() => setEditing(true)} data-testid="loop-title">
            {shownTitle}
          </h1>
        )}
        {!editing && (
          <button className="icon-btn rename-btn" onClick={() => setEditing(true)} title="Rename this loop" aria-label="Rename this loop" data-testid="loop-rename">
            ✎
          </button>
        )}
        <span className={`status-badge status-${meta.status}`} data-testid="loop-status" title={detail ? `${meta.status} · ${detail}` : meta.status}>
          <span className={`status-dot status-${meta.status}`} /> {meta.status}
          {detail && <span className="muted status-detail"> · {detail}</span>}
        </span>
        <span className="grow" />
        <div className="loop-actions">
          <button
            className="btn btn-small"
            disabled={busy}
            onClick={() => run(async () => (await LoopService.Archive(meta.id, !meta.archived), onChange({ ...meta, archived: !meta.archived })))}
            data-testid="loop-archive"
          >
            {meta.archived ? 'Unarchive' : 'Archive'}
          </button>
          <ConfirmButton
            label="Delete"
            question="Delete loop and sandbox?"
            disabled={busy}
            testid="loop-delete"
            onConfirm={async () => {
              if ((await run(async () => (await LoopService.Delete(meta.id), true))) !== undefined) nav('/');
            }}
          />
          <button
            className="btn btn-small panel-toggle"
            onClick={togglePanel}
            title={panelOpen ? 'Hide the side panel' : 'Show the side panel'}
            aria-label={panelOpen ? 'Hide the side panel' : 'Show the side panel'}
            data-testid="panel-toggle"
          >
            {panelOpen ? '⇥' : '⇤'}
          </button>
        </div>
      </div>
      <div className="loop-meta">
        {meta.repo && (
          <span className="loop-meta-repo" title={meta.repo}>
            {meta.repo.replace(/^https?:\/\//, '')}
            {meta.branch && <code> {meta.branch}</code>}
          </span>
        )}
        {meta.model && (
          <span data-testid="loop-model" title="Provider · model">
            {meta.provider ? `${meta.provider} · ` : ''}
            {meta.model}
          </span>
        )}
        {meta.vault && <span>vault: {meta.vault}</span>}
        {tokens > 0 && (
          <span title={usage.map(([k, u]) => `${k}: ${u.input} in, ${u.output} out, ${u.cacheRead} cache read, ${u.cacheWrite} cache write`).join('\n')}>
            {tokens.toLocaleString()} tokens
          </span>
        )}
        {card && (
          <Link to={`/kanban/${encodeURIComponent(card.board)}?card=${encodeURIComponent(card.cardId)}`} title={`Card “${card.text}” on the ${card.board} board`} data-testid="loop-card-link">
            ◧ Focus card
          </Link>
        )}
        <span className="grow" />
        <PromoteButton loopId={meta.id} />
      </div>
    </div>
  );
}
