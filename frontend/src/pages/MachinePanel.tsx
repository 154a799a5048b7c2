import { useState } from 'react';
import { RECONNECTED } from '../api/client';
import { EngineService, topics, type EngineState, type Machine, type MachineProgress } from '../api/services';
import { InlineError, ProgressBar, useAction, useEvent, useLoad } from '../ui';

/** Engine state, podman machines (macOS) and their controls with live progress. */
export function MachinePanel() {
  const state = useLoad<EngineState>(() => EngineService.State(), []);
  const machines = useLoad<Machine[]>(() => EngineService.Machines(), []);
  // The last output line of a running init/start/stop (machine:progress carries lines only;
  // a failure reaches the user as the call's error, a diagnosis with the engine state).
  const [progress, setProgress] = useState<{ line: string } | null>(null);
  const [log, setLog] = useState<string[]>([]);
  const { busy, run } = useAction();

  useEvent(topics.engineState, (s: EngineState) => {
    state.set(s);
    machines.reload();
  });
  useEvent(RECONNECTED, () => {
    state.reload();
    machines.reload();
  });
  useEvent(topics.machineProgress, (p: MachineProgress) => {
    setProgress({ line: p.line });
    if (p.line) setLog((l) => [...l.slice(-200), p.line]);
  });

  const act = (fn: () => Promise<void>) => {
    setLog([]);
    setProgress({ line: 'Starting…' });
    run(fn).then(() => machines.reload());
  };

  const s = state.data;
  const list = machines.data ?? [];
  return (
    <div className="machine" data-testid="machine-panel">
      <dl className="kv">
        <dt>State</dt>
        <dd data-testid="engine-phase">{s?.phase ?? '…'}</dd>
        {s?.reason && (
          <>
            <dt>Reason</dt>
            <dd>
              {s.reason}
              {s.hint && <span className="muted"> — {s.hint}</span>}
            </dd>
          </>
        )}
        {s?.version && (
          <>
            <dt>Podman</dt>
            <dd>{s.version}</dd>
          </>
        )}
        {s?.uri && (
          <>
            <dt>Socket</dt>
            <dd>
              <code>{s.uri}</code>
            </dd>
          </>
        )}
        {s?.source && (
          <>
            <dt>Found via</dt>
            <dd>{s.source}</dd>
          </>
        )}
      </dl>
      <InlineError text={state.error} onRetry={() => state.reload()} />
      <div className="row gap">
        <button className="btn" disabled={busy} onClick={() => run(() => EngineService.Reconnect()).then(() => state.reload())}>
          Reconnect
        </button>
        {list.length === 0 && machines.data && (s?.phase === "absent" || s?.phase === "machine-stopped") && (
          <button className="btn" disabled={busy} data-testid="machine-init" onClick={() => act(EngineService.InitMachine)}>
            Create podman machine
          </button>
        )}
        {list.length > 0 && (
          <>
            <button className="btn btn-primary" disabled={busy} data-testid="machine-start" onClick={() => act(EngineService.StartMachine)}>
              Start machine
            </button>
            <button className="btn" disabled={busy} data-testid="machine-stop" onClick={() => act(EngineService.StopMachine)}>
              Stop machine
            </button>
          </>
        )}
      </div>
      {list.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th>Machine</th>
              <th>State</th>
              <th>CPUs</th>
              <th>Memory</th>
              <th>Disk</th>
            </tr>
          </thead>
          <tbody>
            {list.map((m) => (
              <tr key={m.name}>
                <td>
                  {m.name}
                  {m.default && <span className="tag">default</span>}
                </td>
                <td>{m.running ? 'running' : 'stopped'}</td>
                <td>{m.cpus ?? ''}</td>
                <td>{m.memoryMiB ? `${m.memoryMiB} MiB` : ''}</td>
                <td>{m.diskGiB ? `${m.diskGiB} GiB` : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {machines.data && list.length === 0 && (
        <p className="muted small">No podman machine here (Linux runs containers natively; macOS needs one).</p>
      )}
      {progress && (
        <div className="machine-progress" data-testid="machine-progress">
          {busy && <ProgressBar label={progress.line} />}
          {!busy && s?.diagnosis && (
            <div className="diagnosis">
              <div>
                <strong>Cause:</strong> {s.diagnosis.cause}
              </div>
              <div>
                <strong>Fix:</strong> {s.diagnosis.fix}
              </div>
            </div>
          )}
          {log.length > 0 && <pre className="log">{log.join('\n')}</pre>}
        </div>
      )}
    </div>
  );
}
