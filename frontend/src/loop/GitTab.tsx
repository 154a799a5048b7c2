import { useState } from 'react';
import { topics, WorkdirService, type GitStatus } from '../api/services';
import { InlineError, Spinner, useAction, useEvent, useLoad, useToasts } from '../ui';
import { CodeView } from './CodeView';

export function GitTab({ loopId }: { loopId: string }) {
  const status = useLoad<GitStatus>(() => WorkdirService.GitStatus(loopId), [loopId]);
  useEvent(topics.loopStatus(loopId), (s: { status: string }) => {
    if (s.status !== 'working' && s.status !== 'starting') status.reload();
  });
  const [selected, setSelected] = useState<string | null>(null);
  const diff = useLoad<string>(() => (selected === null ? Promise.resolve('') : WorkdirService.GitDiff(loopId, selected)), [loopId, selected]);
  const [message, setMessage] = useState('');
  const { busy, run } = useAction();
  const toasts = useToasts();
  const files = status.data?.files ?? [];
  const startRepo = async () => {
    const st = await run(() => WorkdirService.InitRepo(loopId));
    if (st) {
      status.set(st);
      toasts.info('Started a git repository in this loop.');
    }
  };
  const commit = async () => {
    const res = await run(() => WorkdirService.Commit(loopId, message.trim()));
    if (res) {
      toasts.info(`Committed ${res.hash.slice(0, 8)}.`);
      setMessage('');
      setSelected(null);
      status.reload();
    }
  };
  return (
    <div className="git" data-testid="git">
      <InlineError text={status.error} onRetry={() => status.reload()} />
      {status.loading && !status.data && <Spinner />}
      {status.data && status.data.isRepo === false && (
        <div className="empty git-norepo" data-testid="git-norepo">
          <div className="empty-title">This loop has no repository</div>
          <p>
            Its working directory is a plain folder, so there is nothing to diff or commit yet. Start a git repository here to track
            the agent's changes (nothing is pushed anywhere).
          </p>
          <button className="btn btn-primary" disabled={busy} onClick={startRepo} data-testid="git-init">
            {busy ? 'Starting…' : 'Start a repository'}
          </button>
        </div>
      )}
      {status.data && status.data.isRepo !== false && (
        <>
          <div className="git-head">
            <span>
              {status.data.branch ? (
                <>
                  On <code>{status.data.branch}</code>
                </>
              ) : (
                'Detached HEAD'
              )}
              {!status.data.head && status.data.branch && <span className="muted small"> · no commits yet</span>}
            </span>
            <button className="btn btn-small" onClick={() => status.reload()}>
              Refresh
            </button>
          </div>
          {files.length === 0 ? (
            <div className="muted pad">No changes.</div>
          ) : (
            <ul className="git-files">
              <li>
                <button className={`tree-row ${selected === '' ? 'active' : ''}`} onClick={() => setSelected('')}>
                  All changes ({files.length})
                </button>
              </li>
              {files.map((f) => (
                <li key={f.path}>
                  <button className={`tree-row ${selected === f.path ? 'active' : ''}`} onClick={() => setSelected(f.path)}>
                    <span className={`git-st git-st-${f.status.trim().charAt(0) || 'x'}`}>{f.status}</span> {f.path}
                  </button>
                </li>
              ))}
            </ul>
          )}
          {selected !== null && (
            <div className="diff">
              {diff.loading ? <Spinner /> : <CodeView code={diff.data || '(no diff)'} lang="diff" testid="git-diff" />}
            </div>
          )}
          <form
            className="commit-box"
            onSubmit={(e) => {
              e.preventDefault();
              commit();
            }}
          >
            <textarea
              className="input"
              rows={2}
              placeholder="Commit message"
              value={message}
              onChange={(e) => setMessage(e.target.value)}
              data-testid="commit-message"
            />
            <button className="btn btn-primary" disabled={busy || !message.trim() || files.length === 0} data-testid="commit">
              {busy ? 'Committing…' : 'Commit all'}
            </button>
          </form>
        </>
      )}
    </div>
  );
}
