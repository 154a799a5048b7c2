import { RECONNECTED } from '../api/client';
import { SystemService, topics, type DoctorCheck } from '../api/services';
import { InlineError, Spinner, useEvent, useLoad } from '../ui';
import { MachinePanel } from './MachinePanel';

export function Onboarding() {
  const doctor = useLoad<DoctorCheck[]>(() => SystemService.Doctor(), []);
  // Engine changes flip checks (e.g. the machine came up): re-run them.
  useEvent(topics.engineState, () => doctor.reload());
  useEvent(RECONNECTED, () => doctor.reload());
  const checks = doctor.data ?? [];
  const failing = checks.filter((c) => !c.ok).length;
  return (
    <div className="page onboarding" data-testid="onboarding">
      <div className="page-head">
        <div>
          <h1>Setup checklist</h1>
          <p className="muted">
            {doctor.data
              ? failing === 0
                ? 'Everything loopat needs is in place.'
                : `${failing} of ${checks.length} checks need attention. Fix them, then re-check.`
              : 'Checking what loopat needs on this machine…'}
          </p>
        </div>
        <button className="btn" data-testid="doctor-recheck" disabled={doctor.loading} onClick={() => doctor.reload()}>
          {doctor.loading ? 'Checking…' : 'Re-check'}
        </button>
      </div>
      <InlineError text={doctor.error} onRetry={() => doctor.reload()} />
      {doctor.loading && !doctor.data && <Spinner />}
      <ul className="checklist" data-testid="doctor-list">
        {checks.map((c) => (
          <li key={c.id} className={`check ${c.ok ? 'ok' : 'fail'}`} data-testid={`doctor-${c.id}`} data-ok={c.ok}>
            <span className="check-mark" aria-label={c.ok ? 'passed' : 'failed'}>
              {c.ok ? '✓' : '✗'}
            </span>
            <div>
              <div className="check-label">{c.label}</div>
              {!c.ok && c.hint && <div className="check-hint">{c.hint}</div>}
            </div>
          </li>
        ))}
      </ul>
      <section className="card">
        <h2>Container engine</h2>
        <MachinePanel />
      </section>
    </div>
  );
}
