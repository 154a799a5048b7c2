import { LoopService, topics, type HostExecEntry } from '../api/services';
import { formatBytes, formatTime, InlineError, useEvent, useLoad } from '../ui';

/** Audit of the host CLIs the sandbox asked loopat to run on its behalf. */
export function HostCallsTab({ loopId }: { loopId: string }) {
  const audit = useLoad<HostExecEntry[]>(() => LoopService.HostExecAudit(loopId), [loopId]);
  useEvent(topics.loopHostExec(loopId), (e: HostExecEntry) => audit.update((prev) => [...(prev ?? []), e]));
  const rows = [...(audit.data ?? [])].reverse();
  return (
    <div className="host-calls" data-testid="hostcalls">
      <InlineError text={audit.error} onRetry={() => audit.reload()} />
      {audit.data && rows.length === 0 && (
        <div className="muted pad">No host calls yet. When the agent runs an allowed host CLI (e.g. gh), it is listed here.</div>
      )}
      {rows.length > 0 && (
        <table className="table">
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
                <td>{formatTime(r.ts)}</td>
                <td>
                  <code>{[r.cli, ...(r.args ?? [])].join(' ')}</code>
                  {r.error && <div className="fail-text small">{r.error}</div>}
                </td>
                <td>{r.exit}</td>
                <td>{r.durationMs} ms</td>
                <td>
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
