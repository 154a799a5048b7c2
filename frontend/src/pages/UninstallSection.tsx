// Settings → Uninstall: the exact plan (what goes, what stays and how to remove it by
// hand), a confirmation by typing the workspace name, then live progress and the result.
import { useEffect, useState } from 'react';
import { client, RECONNECTED } from '../api/client';
import {
  moreTopics,
  UninstallService,
  type UninstallDone,
  type UninstallPlan,
  type UninstallStep,
} from '../api/more';
import { LoopService, type LoopMeta } from '../api/services';
import { formatBytes, InlineError, Spinner, useAction, useEvent, useLoad } from '../ui';
import '../styles-more.css';

const STEP_LABELS: Record<string, string> = {
  'stop-loops': 'Stop running loops',
  containers: 'Remove sandbox containers',
  images: 'Remove images',
  networks: 'Remove networks',
  keychain: 'Delete keychain items',
  'podman-service': 'Stop the podman service loopat started',
  data: 'Remove files',
};

type Phase = 'plan' | 'running' | 'done';

export function UninstallSection() {
  const [keepData, setKeepData] = useState(true);
  const [typed, setTyped] = useState('');
  const [phase, setPhase] = useState<Phase>('plan');
  const [steps, setSteps] = useState<UninstallStep[]>([]);
  const [done, setDone] = useState<UninstallDone | null>(null);
  const plan = useLoad<UninstallPlan>(() => UninstallService.Plan(keepData), [keepData]);
  const { busy, run } = useAction();

  // A reloaded screen picks up a run that is still going.
  const checkRunning = () =>
    UninstallService.Running().then(
      (r) => r && setPhase((p) => (p === 'plan' ? 'running' : p)),
      () => {},
    );
  useEffect(() => {
    checkRunning();
  }, []);
  useEvent(RECONNECTED, checkRunning);

  useEvent(moreTopics.uninstallProgress, (s: UninstallStep) => {
    setPhase((p) => (p === 'done' ? p : 'running'));
    setSteps((all) => {
      const i = all.findIndex((x) => x.step === s.step);
      if (i < 0) return [...all, s];
      const next = all.slice();
      next[i] = s;
      return next;
    });
  });
  useEvent(moreTopics.uninstallDone, (d: UninstallDone) => {
    setDone(d);
    setPhase('done');
    if (d.result?.steps?.length) setSteps(d.result.steps);
  });

  const workspace = plan.data?.workspace ?? '';
  const confirmed = workspace !== '' && typed.trim() === workspace;

  const start = async () => {
    setSteps([]);
    setDone(null);
    const ok = await run(async () => {
      await UninstallService.Run(typed, keepData);
      return true;
    });
    if (ok) setPhase((p) => (p === 'done' ? p : 'running'));
  };

  return (
    <section className="uninstall" data-testid="uninstall">
      <h1>Uninstall loopat from this machine</h1>
      <p className="muted">
        Removes this workspace's sandboxes, images, networks, keychain items and files. Nothing outside what is listed
        here is touched.
      </p>

      {phase === 'plan' && (
        <>
          <label className="check-row">
            <input
              type="checkbox"
              checked={keepData}
              onChange={(e) => setKeepData(e.target.checked)}
              data-testid="uninstall-keep-data"
            />{' '}
            Keep my data (transcripts, workdirs, context repositories and config.toml)
          </label>
          {plan.loading && !plan.data && <Spinner label="Working out what would be removed…" />}
          <InlineError text={plan.error} onRetry={() => plan.reload()} />
          {plan.data && <PlanView plan={plan.data} />}
          {plan.data && (
            <div className="uninstall-confirm card">
              <label htmlFor="uninstall-name">
                Type the workspace name <code>{workspace}</code> to confirm:
              </label>
              <div className="row">
                <input
                  id="uninstall-name"
                  className="input"
                  autoComplete="off"
                  spellCheck={false}
                  value={typed}
                  onChange={(e) => setTyped(e.target.value)}
                  placeholder="workspace name"
                  aria-label={`Type ${workspace} to confirm`}
                  data-testid="uninstall-name"
                />
                <button
                  className="btn btn-danger-solid"
                  disabled={!confirmed || busy || plan.loading}
                  onClick={start}
                  data-testid="uninstall-run"
                >
                  {keepData ? 'Uninstall (keep my data)' : 'Uninstall and delete all data'}
                </button>
              </div>
            </div>
          )}
        </>
      )}

      {phase !== 'plan' && (
        <div className="card" data-testid="uninstall-progress">
          <h2>{phase === 'running' ? 'Uninstalling…' : 'Uninstall finished'}</h2>
          {phase === 'running' && steps.length === 0 && <Spinner label="Starting…" />}
          <ul className="step-list">
            {steps.map((s) => (
              <li key={s.step} className={`step step-${s.status}`} data-testid={`uninstall-step-${s.step}`} data-status={s.status}>
                <span className="step-icon" aria-hidden>
                  {s.status === 'running' ? '…' : s.status === 'done' ? '✓' : s.status === 'failed' ? '✗' : '–'}
                </span>
                <span className="step-name">{STEP_LABELS[s.step] ?? s.step}</span>
                <span className="muted step-status">{s.status}</span>
                {s.detail && <div className="muted step-detail">{s.detail}</div>}
              </li>
            ))}
          </ul>
        </div>
      )}

      {phase === 'done' && done && <ResultView done={done} />}
    </section>
  );
}

function PlanView({ plan }: { plan: UninstallPlan }) {
  // Containers are named by id; the user knows their loops by title.
  const loops = useLoad<LoopMeta[]>(() => LoopService.List(), []);
  const titles = new Map((loops.data ?? []).map((l) => [l.id, l.title]));
  const rel = (p: string) => (plan.home && p.startsWith(plan.home + '/') ? p.slice(plan.home.length + 1) : p);
  const containers = plan.containers ?? [];
  const images = plan.images ?? [];
  const networks = plan.networks ?? [];
  const keychain = plan.keychain ?? [];
  const folders = plan.folders ?? [];
  const stays = plan.stays ?? [];
  const sockets = plan.service?.sockets ?? [];
  const removeFolders = folders.filter((f) => f.action === 'remove');
  const keepFolders = folders.filter((f) => f.action !== 'remove');
  const bytes =
    images.filter((i) => i.action === 'remove').reduce((n, i) => n + (i.size || 0), 0) +
    removeFolders.reduce((n, f) => n + (f.size || 0), 0);
  return (
    <div className="uninstall-plan" data-testid="uninstall-plan">
      <p>
        Workspace <strong>{plan.workspace}</strong> at <code>{plan.home}</code>. About{' '}
        <strong data-testid="uninstall-bytes">{formatBytes(bytes)}</strong> would be freed.
      </p>
      {(plan.unchecked ?? []).length > 0 && (
        <div className="banner banner-warn" data-testid="uninstall-unchecked">
          Not checked: {(plan.unchecked ?? []).join('; ')}. Run uninstall again once that is available.
        </div>
      )}
      <PlanGroup title="Sandbox containers" testid="plan-containers" empty="No containers.">
        {containers.map((c) => (
          <li key={c.id || c.name} data-testid="plan-container">
            {c.loopId && titles.has(c.loopId) ? (
              <strong>{titles.get(c.loopId) || 'Untitled loop'}</strong>
            ) : c.loopId ? (
              <span>a deleted loop</span>
            ) : (
              <span>not a loop</span>
            )}{' '}
            {c.running && <span className="muted">(running, will be stopped)</span>}
            <span className="muted small">
              {' '}
              · <code title={c.loopId ? `loop ${c.loopId}` : undefined}>{c.name}</code>
            </span>
          </li>
        ))}
      </PlanGroup>
      <PlanGroup title="Images" testid="plan-images" empty="No images.">
        {images.map((i) => (
          <li key={i.id || i.ref}>
            <code>{i.ref}</code> <span className="muted">{formatBytes(i.size)}</span>{' '}
            {i.action !== 'remove' && (
              <span className="muted">
                (only untagged{i.staysFor?.length ? `; still used by ${i.staysFor.join(', ')}` : ''})
              </span>
            )}
          </li>
        ))}
      </PlanGroup>
      <PlanGroup title="Networks" testid="plan-networks" empty="No networks.">
        {networks.map((n) => (
          <li key={n.id || n.name}>
            <code>{n.name}</code>
          </li>
        ))}
      </PlanGroup>
      <PlanGroup title="Keychain items" testid="plan-keychain" empty="No keychain items.">
        {keychain.map((k) => (
          <li key={k.service + '/' + k.account}>
            <code>{k.account}</code> <span className="muted">in {k.service}</span>
            {k.chunks ? <span className="muted"> ({k.chunks} parts)</span> : null}
          </li>
        ))}
      </PlanGroup>
      <PlanGroup title={`Files and folders removed from ${plan.home}`} testid="plan-folders" empty="Nothing.">
        {removeFolders.map((f) => (
          <li key={f.path}>
            <code title={f.path}>{rel(f.path)}</code> <span className="muted">{formatBytes(f.size)}</span>
            {f.why && <span className="muted"> · {f.why}</span>}
          </li>
        ))}
      </PlanGroup>
      {keepFolders.length > 0 && (
        <PlanGroup title={`Files and folders kept in ${plan.home}`} testid="plan-kept">
          {keepFolders.map((f) => (
            <li key={f.path}>
              <code title={f.path}>{rel(f.path)}</code> <span className="muted">{formatBytes(f.size)}</span>
              {f.why && <span className="muted"> · {f.why}</span>}
            </li>
          ))}
        </PlanGroup>
      )}
      {sockets.length > 0 && (
        <PlanGroup title="Podman service" testid="plan-service">
          {sockets.map((s) => (
            <li key={s}>
              <code>{s}</code>{' '}
              <span className="muted">{plan.service.managed ? 'stopped by loopat' : 'not started by loopat'}</span>
            </li>
          ))}
        </PlanGroup>
      )}
      {stays.length > 0 && (
        <div className="plan-group" data-testid="plan-stays">
          <h3>What stays (remove it by hand if you want)</h3>
          <ul>
            {stays.map((s) => (
              <li key={s.what}>
                <strong>{s.what}</strong> <span className="muted">— {s.why}</span>
                {s.commands && s.commands.length > 4 ? (
                  <details>
                    <summary className="muted small">{s.commands.length} commands</summary>
                    <pre className="commands">{s.commands.join('\n')}</pre>
                  </details>
                ) : s.commands?.length ? (
                  <pre className="commands">{s.commands.join('\n')}</pre>
                ) : null}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}

function PlanGroup({
  title,
  testid,
  empty,
  children,
}: {
  title: string;
  testid: string;
  empty?: string;
  children: React.ReactNode[];
}) {
  return (
    <div className="plan-group" data-testid={testid}>
      <h3>
        {title} <span className="muted">({children.length})</span>
      </h3>
      {children.length === 0 ? <p className="muted">{empty}</p> : <ul>{children}</ul>}
    </div>
  );
}

function ResultView({ done }: { done: UninstallDone }) {
  const r = done.result;
  const remaining = r.remaining ?? [];
  const removed = r.removed ?? [];
  const kept = r.kept ?? [];
  return (
    <div className="card" data-testid="uninstall-result" data-complete={remaining.length === 0 ? 'true' : 'false'}>
      {done.quit ? (
        <p data-testid="uninstall-quit">
          <strong>loopat is uninstalled.</strong>{' '}
          {client().transport === 'wails'
            ? 'The app will close now.'
            : 'The desktop app would close now; here, close this tab and stop `loopat serve`.'}{' '}
          To remove the program itself, delete it the way you installed it.
        </p>
      ) : remaining.length === 0 ? (
        <p>
          <strong>Done.</strong> Everything listed was removed.
        </p>
      ) : (
        <p>
          <strong>Some things were not removed.</strong> Fix the reason shown and run uninstall again (or remove them by hand).
        </p>
      )}
      {remaining.length > 0 && (
        <>
          <h3>Not removed</h3>
          <ul data-testid="uninstall-remaining">
            {remaining.map((x, i) => (
              <li key={i}>
                <strong>{x.what}</strong> <span className="muted">— {x.reason}</span>
              </li>
            ))}
          </ul>
        </>
      )}
      {removed.length > 0 && (
        <details>
          <summary>Removed ({removed.length})</summary>
          <ul data-testid="uninstall-removed">
            {removed.map((x) => (
              <li key={x}>
                <code>{x}</code>
              </li>
            ))}
          </ul>
        </details>
      )}
      {kept.length > 0 && (
        <details>
          <summary>Kept ({kept.length})</summary>
          <ul>
            {kept.map((x) => (
              <li key={x}>
                <code>{x}</code>
              </li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}
