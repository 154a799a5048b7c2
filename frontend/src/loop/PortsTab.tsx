import { useEffect, useRef, useState } from 'react';
import { call } from '../api/rpc';
import { ConfirmButton, InlineError, useAction, useEvent, useLoad, useToasts } from '../ui';
import { canPreview, forwardURL, openInBrowser, PortPreview } from './PortPreview';
import './ports.css';

export { openInBrowser } from './PortPreview';

/** One port of a loop (ports.Forward in Go). */
export interface PortForward {
  containerPort: number;
  hostPort: number;
  url: string;
  process?: string;
  detected: boolean;
  network: boolean;
  error?: string;
}

/** The loop's static share (ports.Shared in Go). */
export interface WorkdirShared {
  sub: string;
  url: string;
  network: boolean;
}

const list = (p: Promise<PortForward[] | null>) => p.then((x) => x ?? []);

export const PortsApi = {
  Ports: (id: string) => list(call('LoopService', 'Ports', id)),
  Forward: (id: string, port: number) => list(call('LoopService', 'ForwardPort', id, port)),
  Stop: (id: string, port: number) => list(call('LoopService', 'StopForwarding', id, port)),
  OnNetwork: (id: string, port: number, on: boolean) => list(call('LoopService', 'SharePortOnNetwork', id, port, on)),
  Share: (id: string, sub: string, network: boolean): Promise<WorkdirShared> => call('LoopService', 'ShareWorkdir', id, sub, network),
  Shared: (id: string): Promise<WorkdirShared> => call('LoopService', 'WorkdirShare', id),
  StopShare: (id: string) => call('LoopService', 'StopWorkdirShare', id),
};

/** The bus topic of a loop's ports (events.LoopPorts). */
export const portsTopic = (id: string) => `loop:${id}:ports`;

/**
 * The ports the loop's processes listen on and where each is forwarded on this
 * computer (loopback only). New ports raise a toast.
 */
export function PortsTab({ loopId }: { loopId: string }) {
  const ports = useLoad<PortForward[]>(() => PortsApi.Ports(loopId), [loopId]);
  useEvent(portsTopic(loopId), (p: PortForward[] | null) => ports.update(() => p ?? []));
  const act = useAction();
  const [manual, setManual] = useState('');
  const [preview, setPreview] = useState<string | null>(null);
  // Shown addresses go through forwardURL: in a browser the forward is another host than the UI.
  const rows = (ports.data ?? []).map((r) => ({ ...r, url: forwardURL(r.url) }));

  const forward = (port: number) =>
    act.run(async () => {
      const l = await PortsApi.Forward(loopId, port);
      ports.update(() => l);
    });
  const stop = (port: number) =>
    act.run(async () => {
      const l = await PortsApi.Stop(loopId, port);
      ports.update(() => l);
      if (preview && rows.some((r) => r.containerPort === port && r.url === preview)) setPreview(null);
    });
  const onNetwork = (port: number, on: boolean) =>
    act.run(async () => {
      const l = await PortsApi.OnNetwork(loopId, port, on);
      ports.update(() => l);
    });

  return (
    <div className="ports" data-testid="ports">
      <InlineError text={ports.error} onRetry={() => ports.reload()} />
      {ports.data && rows.length === 0 && (
        <div className="empty" data-testid="ports-empty">
          <div className="empty-title">No ports yet</div>
          <p>
            When something in this loop listens on a TCP port (<code>npm run dev</code>, <code>python3 -m http.server</code>), it
            shows up here and is forwarded to <code>127.0.0.1</code> on this computer. Only this computer can reach it.
          </p>
        </div>
      )}
      {rows.length > 0 && (
        <table className="table ports-table">
          <thead>
            <tr>
              <th>Port</th>
              <th>Process</th>
              <th>On this computer</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.containerPort} data-testid={`port-${r.containerPort}`}>
                <td className="num">{r.containerPort}</td>
                <td>{r.process || (r.detected ? '' : <span className="small">not listening</span>)}</td>
                <td>
                  {r.url ? (
                    <a
                      href={r.url}
                      data-testid="port-url"
                      onClick={(e) => {
                        e.preventDefault();
                        openInBrowser(r.url);
                      }}
                    >
                      {r.url}
                    </a>
                  ) : (
                    <span className="small">{r.error || 'not forwarded'}</span>
                  )}
                </td>
                <td className="nowrap">
                  {r.url ? (
                    <>
                      <button className="btn small" onClick={() => void navigator.clipboard?.writeText(r.url)} title="Copy the URL">
                        Copy
                      </button>{' '}
                      <button className="btn small" onClick={() => openInBrowser(r.url)} data-testid="port-open">
                        Open
                      </button>{' '}
                      {canPreview() && (
                        <>
                          <button className="btn small" onClick={() => setPreview(r.url)} data-testid="port-preview">
                            Preview
                          </button>{' '}
                        </>
                      )}
                      <button className="btn small" disabled={act.busy} onClick={() => stop(r.containerPort)} data-testid="port-stop">
                        Stop
                      </button>{' '}
                      {r.network ? (
                        <>
                          <span className="badge warn" data-testid="port-network" title="Bound on every address of this computer">
                            on the network
                          </span>{' '}
                          <button className="btn small" disabled={act.busy} onClick={() => onNetwork(r.containerPort, false)} data-testid="port-network-off">
                            This computer only
                          </button>
                        </>
                      ) : (
                        <ConfirmButton
                          label="Share on my network"
                          question={`Anyone on your network (Wi-Fi, office, café) can then open port ${r.containerPort}: whatever the agent serves there, with no password. Until the forward stops.`}
                          confirmLabel="Share"
                          disabled={act.busy}
                          onConfirm={() => onNetwork(r.containerPort, true)}
                          testid="port-network-on"
                        />
                      )}
                    </>
                  ) : (
                    <button className="btn small" disabled={act.busy} onClick={() => forward(r.containerPort)} data-testid="port-forward">
                      Forward
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form
        className="ports-add row"
        onSubmit={(e) => {
          e.preventDefault();
          const n = Number(manual);
          if (Number.isInteger(n) && n >= 1 && n <= 65535) {
            forward(n);
            setManual('');
          }
        }}
      >
        <input
          className="input small"
          inputMode="numeric"
          placeholder="Forward another port, e.g. 8080"
          value={manual}
          onChange={(e) => setManual(e.target.value.replace(/[^0-9]/g, '').slice(0, 5))}
          data-testid="port-add"
        />
        <button className="btn small" type="submit" disabled={!manual || act.busy}>
          Forward
        </button>
      </form>
      <WorkdirShare loopId={loopId} onPreview={canPreview() ? setPreview : undefined} />
      {preview && <PortPreview url={preview} onClose={() => setPreview(null)} />}
    </div>
  );
}

/** Serve the workdir (or a folder of it) read-only on this computer, or on the network. */
function WorkdirShare({ loopId, onPreview }: { loopId: string; onPreview?: (url: string) => void }) {
  const shared = useLoad(() => PortsApi.Shared(loopId), [loopId]);
  const act = useAction();
  const [sub, setSub] = useState('');
  const [network, setNetwork] = useState(false);
  const url = forwardURL(shared.data?.url ?? '');
  return (
    <div className="ports-share" data-testid="ports-share">
      <div className="empty-title">Static share</div>
      <p className="small">
        Serves the workdir's files read-only on this computer, never <code>.git</code>, <code>.env</code> files, <code>.ssh</code>,{' '}
        <code>.claude</code> or <code>node_modules</code>, and never through a link.
      </p>
      {url ? (
        <div className="row">
          <a
            href={url}
            data-testid="share-url"
            onClick={(e) => {
              e.preventDefault();
              openInBrowser(url);
            }}
          >
            {url}
          </a>{' '}
          <code className="small">{shared.data?.sub === '.' ? 'workdir' : shared.data?.sub}</code>{' '}
          {shared.data?.network && (
            <>
              <span className="badge warn" data-testid="share-network">
                on the network
              </span>{' '}
            </>
          )}
          <button className="btn small" onClick={() => void navigator.clipboard?.writeText(url)}>
            Copy
          </button>{' '}
          {onPreview && (
            <button className="btn small" onClick={() => onPreview(url)} data-testid="share-preview">
              Preview
            </button>
          )}{' '}
          <button
            className="btn small"
            disabled={act.busy}
            onClick={() =>
              act.run(async () => {
                await PortsApi.StopShare(loopId);
                shared.reload();
              })
            }
            data-testid="share-stop"
          >
            Stop sharing
          </button>
        </div>
      ) : (
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            act.run(async () => {
              const sh = await PortsApi.Share(loopId, sub.trim(), network);
              shared.set(sh);
            });
          }}
        >
          <input className="input small" placeholder="Folder (empty: the whole workdir), e.g. dist" value={sub} onChange={(e) => setSub(e.target.value)} data-testid="share-sub" />
          <label className="small" title="Bind on every address of this computer instead of 127.0.0.1">
            <input type="checkbox" checked={network} onChange={(e) => setNetwork(e.target.checked)} data-testid="share-network-on" /> Share on my
            network
          </label>
          <button className="btn small" type="submit" disabled={act.busy} data-testid="share-start">
            Share
          </button>
          {network && (
            <p className="small warn" data-testid="share-network-warning">
              Anyone on your network can read these files, with no password. Refused for a folder that holds <code>.git</code>,{' '}
              <code>.env</code> files, <code>.ssh</code>, <code>.claude</code> or <code>node_modules</code> anywhere: share a build output such
              as <code>dist</code>.
            </p>
          )}
        </form>
      )}
    </div>
  );
}

/** Toasts when a loop gets a new port (mounted by the loop page for the open loop). */
export function usePortToasts(loopId: string) {
  const toasts = useToasts();
  const known = useRef<Set<number> | null>(null);
  useEffect(() => {
    known.current = null;
    void PortsApi.Ports(loopId)
      .then((l) => (known.current = new Set(l.filter((p) => p.hostPort).map((p) => p.containerPort))))
      .catch(() => (known.current = new Set()));
  }, [loopId]);
  useEvent(portsTopic(loopId), (p: PortForward[] | null) => {
    const now = (p ?? []).filter((x) => x.hostPort);
    if (known.current) {
      for (const x of now) if (!known.current.has(x.containerPort)) toasts.info(`Port ${x.containerPort} is open: ${forwardURL(x.url)}`);
    }
    known.current = new Set(now.map((x) => x.containerPort));
  });
}
