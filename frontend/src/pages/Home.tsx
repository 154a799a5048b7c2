import { useState } from 'react';
import { Navigate } from 'react-router-dom';
import { SystemService, topics, type DoctorCheck, type LoopMeta } from '../api/services';
import { NewLoopDialog } from '../components/Sidebar';
import { listLoops } from '../components/loopList';
import { Spinner, useEvent, useLoad } from '../ui';

// The checklist is shown first when something fails, once per app start:
// after that Home is reachable even with failing checks.
let redirectedOnce = false;

export function Home() {
  const doctor = useLoad<DoctorCheck[]>(() => SystemService.Doctor(), []);
  const loops = useLoad<LoopMeta[]>(listLoops, []);
  useEvent(topics.loopsChanged, () => loops.reload());
  const [creating, setCreating] = useState(false);
  if (doctor.loading && !doctor.data) return <div className="page pad"><Spinner label="Checking your setup…" /></div>;
  const failing = (doctor.data ?? []).filter((c) => !c.ok);
  if (failing.length > 0 && !redirectedOnce) {
    redirectedOnce = true;
    return <Navigate to="/onboarding" replace />;
  }
  const firstRun = loops.data !== undefined && (loops.data ?? []).length === 0;
  return (
    <div className="page home" data-testid="home">
      <div className="hero">
        <h1>{firstRun ? 'Start your first loop' : 'Loops run Claude Code in their own sandbox.'}</h1>
        <p className="muted">
          A loop is one task for Claude Code, in its own container with a working copy of your repository and the secrets of
          one vault. It keeps its chat, files and terminal until you delete it.
        </p>
        {firstRun ? (
          <div className="hero-cta">
            <button className="btn btn-primary btn-large" onClick={() => setCreating(true)} data-testid="home-new-loop">
              + New loop
            </button>
            <p className="muted small">Give it a repository (optional), then say what you want done.</p>
          </div>
        ) : (
          <p className="muted">Pick a loop on the left, or start a new one.</p>
        )}
        {failing.length > 0 && (
          <p className="inline-error">
            {failing.length} setup check{failing.length > 1 ? 's' : ''} failing — <a href="#/onboarding">see the checklist</a>.
          </p>
        )}
      </div>
      {creating && <NewLoopDialog onClose={() => setCreating(false)} onCreated={() => loops.reload()} />}
    </div>
  );
}
