import { lazy, Suspense, useEffect, useMemo, useState } from 'react';
import { HashRouter, Navigate, Route, Routes, useNavigate, useParams } from 'react-router-dom';
import { client, on, RESTARTED_TEXT, type ConnectionState } from './api/client';
import { SystemService, type ConfigChange, type Info } from './api/services';
import { applyTheme } from './settings/logic';
import { Header } from './components/Header';
import { Sidebar } from './components/Sidebar';
import { Home } from './pages/Home';
import { prefetchTranscript } from './loop/transcriptPrefetch';
import { Spinner, ToastProvider, useLoad } from './ui';

// The loop view carries the heavy parts (terminal, markdown, highlighting): load it on demand.
const loadLoopPage = () => import('./loop/LoopPage');
const LoopPage = lazy(() => loadLoopPage().then((m) => ({ default: m.LoopPage })));
const Settings = lazy(() => import('./pages/Settings').then((m) => ({ default: m.Settings })));
const Onboarding = lazy(() => import('./pages/Onboarding').then((m) => ({ default: m.Onboarding })));
// Opened straight at a loop (reload, notification, deep link): its code and its chat's
// first page are fetched now, beside the shell's own first fetches, not after them.
const startLoop = /^#\/loops\/([^/?]+)/.exec(window.location.hash);
if (startLoop) {
  void loadLoopPage();
  prefetchTranscript(decodeURIComponent(startLoop[1]));
}

/** The loop route: starts the chat's first page while the loop page loads its header. */
function LoopRoute() {
  const { id = '' } = useParams();
  useMemo(() => prefetchTranscript(id), [id]);
  return (
    <Suspense fallback={<div className="page pad"><Spinner label="Loading…" /></div>}>
      <LoopPage />
    </Suspense>
  );
}
const ContextPage = lazy(() => import('./pages/ContextPage').then((m) => ({ default: m.ContextPage })));
const KanbanPage = lazy(() => import('./pages/KanbanPage').then((m) => ({ default: m.KanbanPage })));

export function App() {
  return (
    <ToastProvider>
      <HashRouter>
        <Shell />
      </HashRouter>
    </ToastProvider>
  );
}

function Shell() {
  const info = useLoad<Info>(() => SystemService.Info(), []);
  const conn = useConnection();
  const navigate = useNavigate();
  // The tray and OS notifications ask the window to open a loop.
  useEffect(() => on('app:open-loop', (d) => {
    const id = (d as { id?: string } | undefined)?.id;
    if (id) navigate(`/loops/${id}`);
  }), [navigate]);
  useTheme();
  useEffect(() => {
    if (info.data?.workspace) document.title = `loopat · ${info.data.workspace}`;
  }, [info.data?.workspace]);
  return (
    // While disconnected, live state (engine pill, loop statuses) is greyed out: it is stale.
    <div className={`shell ${conn === 'closed' || conn === 'restarted' ? 'offline' : ''}`} data-conn={conn}>
      <Header workspace={info.data?.workspace} />
      {conn === 'restarted' && (
        <div className="banner banner-warn" data-testid="restarted-banner" role="alert">
          {RESTARTED_TEXT} Live state below is out of date.
        </div>
      )}
      {conn === 'closed' && (
        <div className="banner banner-warn" data-testid="disconnected-banner">
          Disconnected from the loopat server. Reconnecting… (live updates paused; is <code>loopat serve</code> still
          running?)
        </div>
      )}
      <div className="body">
        <Sidebar />
        <main className="main">
          <Routes>
            <Route path="/" element={<Home />} />
            <Route path="/onboarding" element={<Suspense fallback={<Spinner label="Loading…" />}><Onboarding /></Suspense>} />
            <Route path="/settings" element={<Navigate to="/settings/general" replace />} />
            <Route path="/settings/:section" element={<Suspense fallback={<Spinner label="Loading…" />}><Settings info={info.data} /></Suspense>} />
            <Route path="/loops/:id" element={<LoopRoute />} />
            <Route path="/context" element={<Navigate to="/context/knowledge" replace />} />
            <Route path="/context/:repo" element={<Suspense fallback={<Spinner label="Loading…" />}><ContextPage /></Suspense>} />
            <Route path="/kanban" element={<Suspense fallback={<Spinner label="Loading…" />}><KanbanPage /></Suspense>} />
            <Route path="/kanban/:board" element={<Suspense fallback={<Spinner label="Loading…" />}><KanbanPage /></Suspense>} />
            <Route path="*" element={<Navigate to="/" replace />} />
          </Routes>
        </main>
      </div>
    </div>
  );
}

/** Follows ui.theme: read at start, then on every saved config (no reload). */
function useTheme() {
  useEffect(() => {
    let live = true;
    SystemService.CurrentConfig()
      .then((c) => live && applyTheme(c?.ui?.theme, document.documentElement))
      .catch(() => {}); // an unreachable backend shows its own banner; the OS theme stays
    const off = on('config:changed', (d) => applyTheme((d as ConfigChange | undefined)?.config?.ui?.theme, document.documentElement));
    return () => {
      live = false;
      off();
    };
  }, []);
}

function useConnection(): ConnectionState {
  const c = client();
  const [state, setState] = useState<ConnectionState>(c.connection());
  useEffect(() => c.onConnection(setState), [c]);
  // A brief 'connecting' at start is not worth a banner; only a lost connection is.
  return state;
}
