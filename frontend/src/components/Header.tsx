import { Link, NavLink, useNavigate } from 'react-router-dom';
import { EngineService, topics, type EngineState } from '../api/services';
import { RECONNECTED } from '../api/client';
import { useEvent, useLoad } from '../ui';

const PHASE_TEXT: Record<string, string> = {
  absent: 'No engine',
  'machine-stopped': 'Machine stopped',
  starting: 'Engine starting',
  ready: 'Engine ready',
  error: 'Engine error',
};

export function Header({ workspace }: { workspace?: string }) {
  return (
    <header className="header">
      <Link to="/" className="brand">
        <span className="brand-mark" aria-hidden>
          ∞
        </span>
        <span className="brand-name">loopat</span>
        {workspace && (
          <span className="workspace" data-testid="workspace-name" title="Workspace">
            {workspace}
          </span>
        )}
      </Link>
      <div className="header-right">
        <EnginePill />
        <NavLink to="/kanban" className="header-link" data-testid="kanban-link">
          Focus
        </NavLink>
        <NavLink to="/context" className="header-link" data-testid="context-link">
          Context
        </NavLink>
        <NavLink to="/onboarding" className="header-link">
          Checks
        </NavLink>
        <NavLink to="/settings" className="header-link" data-testid="settings-link">
          Settings
        </NavLink>
      </div>
    </header>
  );
}

/** Live engine state; click goes to the checklist and machine controls. */
export function EnginePill() {
  const nav = useNavigate();
  const state = useLoad<EngineState>(() => EngineService.State(), []);
  useEvent(topics.engineState, (s: EngineState) => state.set(s));
  useEvent(RECONNECTED, () => state.reload());
  const phase = state.data?.phase ?? (state.error ? 'error' : 'unknown');
  const text = state.data ? PHASE_TEXT[phase] ?? phase : state.error ? 'Engine unknown' : 'Checking engine…';
  const title = [state.data?.reason, state.data?.version && `podman ${state.data.version}`, state.data?.uri, state.error]
    .filter(Boolean)
    .join(' · ');
  return (
    <button
      className={`pill pill-${phase}`}
      data-testid="engine-pill"
      data-phase={phase}
      title={title || text}
      onClick={() => nav('/onboarding')}
    >
      <span className="dot" aria-hidden />
      {text}
    </button>
  );
}
