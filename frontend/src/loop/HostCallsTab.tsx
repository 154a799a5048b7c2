import { LoopService, SystemService, topics, type HostExecEntry, type Info } from '../api/services';
import { formatBytes, formatTime, InlineError, useEvent, useLoad } from '../ui';

/** Audit of the host CLIs the sandbox asked loopat to run on its behalf. */
export function HostCallsTab({ loopId }: { loopId: string }) {
  const audit = useLoad<HostExecEntry[]>(() => LoopService.HostExecAudit(loopId), [loopId]);
  useEvent(topics.loopHostExec(loopId), (e: HostExecEntry) => audit.update((prev) => [...(prev ?? []), e]));
  const rows = [...(audit.data ?? [])].reverse();
  return (
    <div className="host-calls" data-testid="hostcalls">
      <InlineError text={audit.error} onRetry={() => audit.reload()} />
      {audit.data && rows.length === 0 && <HostCallsEmpty loopId={loopId} />}
      {rows.length > 0 && (
        <table className="table host-table">
          <thead>
            <tr>
              <th>Time</th>
              <th>Command</th>
              <th>Exit</th>
              <th>Duration</th>
              <th>In / out</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={i} className={r.exit !== 0 || r.error ? 'row-fail' : ''}>
                <td className="nowrap" title={formatTime(r.ts)}>
                  {formatClock(r.ts)}
                </td>
                <td>
                  <code>{[r.cli, ...(r.args ?? [])].join(' ')}</code>
                  {r.error && <div className="fail-text small">{r.error}</div>}
                </td>
                <td className="num">{r.exit}</td>
                <td className="num">{formatDuration(r.durationMs)}</td>
                <td className="num nowrap">
                  {formatBytes(r.bytesIn)} / {formatBytes(r.bytesOut)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** No calls yet: how a loop is allowed host CLIs, and what that gives away. */
function HostCallsEmpty({ loopId }: { loopId: string }) {
  const info = useLoad<Info>(() => SystemService.Info(), []);
  const path = `${info.data?.home ? `${info.data.home}/` : ''}loops/${loopId}/mise.toml`;
  return (
    <div className="empty host-empty" data-testid="hostcalls-empty">
      <div className="empty-title">No host calls yet</div>
      <p>
        The agent can run a CLI on your machine (for example <code>gh</code>) only if this loop declares it, in{' '}
        <code className="path">{path}</code>:
      </p>
      <pre className="commands">{'[host]\nclis = ["gh"]'}</pre>
      <p className="warn-text small">
        A declared CLI runs on the host with your rights and your credentials (a logged-in <code>gh</code> can push to your
        repositories). Declare only what this loop needs. Every call is listed here.
      </p>
    </div>
  );
}

function formatClock(ts?: string): string {
  if (!ts) return '';
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : d.toLocaleTimeString();
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}
