import { Navigate } from 'react-router-dom';
import { SystemService, type DoctorCheck } from '../api/services';
import { Spinner, useLoad } from '../ui';

// The checklist is shown first when something fails, once per app start:
// after that Home is reachable even with failing checks.
let redirectedOnce = false;

export function Home() {
  const doctor = useLoad<DoctorCheck[]>(() => SystemService.Doctor(), []);
  if (doctor.loading && !doctor.data) return <div className="page pad"><Spinner label="Checking your setup…" /></div>;
  const failing = (doctor.data ?? []).filter((c) => !c.ok);
  if (failing.length > 0 && !redirectedOnce) {
    redirectedOnce = true;
    return <Navigate to="/onboarding" replace />;
  }
  return (
    <div className="page home" data-testid="home">
      <div className="hero">
        <h1>Loops run Claude Code in their own sandbox.</h1>
        <p className="muted">
          Each loop gets a container, a working copy of its repository and the secrets of one vault. Pick a loop on the
          left, or start a new one.
        </p>
        {failing.length > 0 && (
          <p className="inline-error">
            {failing.length} setup check{failing.length > 1 ? 's' : ''} failing — <a href="#/onboarding">see the checklist</a>.
          </p>
        )}
      </div>
    </div>
  );
}
