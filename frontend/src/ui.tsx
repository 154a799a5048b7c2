// Small shared building blocks: toasts (every failed call is shown), data loading,
// event subscriptions and a few visual primitives.
import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { on, RpcError } from './api/client';

interface Toast {
  id: number;
  kind: 'error' | 'info';
  text: string;
  hint?: string;
  where?: string;
}
interface ToastApi {
  error(e: unknown): void;
  info(text: string): void;
}

/** How long an error toast stays (ms). */
export const ERROR_TOAST_MS = 10_000;

const ToastContext = createContext<ToastApi>({ error: console.error, info: console.info });

export function useToasts(): ToastApi {
  return useContext(ToastContext);
}

// describeError is what the user reads: the message and the hint; `where` (the internal
// call name) is only a tooltip for bug reports.
export function describeError(e: unknown): { text: string; hint?: string; where?: string } {
  if (e instanceof RpcError) return { text: e.message, hint: e.hint, where: `${e.service}.${e.method}` };
  if (e instanceof Error) return { text: e.message };
  return { text: String(e) };
}

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);
  const dismiss = (id: number) => setToasts((t) => t.filter((x) => x.id !== id));
  const push = useCallback((t: Omit<Toast, 'id'>) => {
    const id = next.current++;
    // A failure repeated by a background refresh shows once, not as a stack.
    setToasts((all) =>
      all.some((x) => x.kind === t.kind && x.text === t.text && x.where === t.where) ? all : [...all.slice(-4), { ...t, id }],
    );
    // Notes fade soon, errors after long enough to read them (they are also kept inline
    // where a view failed to load).
    setTimeout(() => dismiss(id), t.kind === 'info' ? 4000 : ERROR_TOAST_MS);
  }, []);
  // A toast belongs to the page it was raised on: leaving the page clears them.
  useEffect(() => {
    const clear = () => setToasts([]);
    window.addEventListener('hashchange', clear);
    return () => window.removeEventListener('hashchange', clear);
  }, []);
  const api = useRef<ToastApi>({
    error: (e) => push({ kind: 'error', ...describeError(e) }),
    info: (text) => push({ kind: 'info', text }),
  });
  return (
    <ToastContext.Provider value={api.current}>
      {children}
      <div className="toasts" role="status">
        {toasts.map((t) => (
          <div key={t.id} className={`toast toast-${t.kind}`} data-testid={`toast-${t.kind}`}>
            <div className="toast-body" title={t.where}>
              <div>{t.text}</div>
              {t.hint && (
                <div className="toast-hint" data-testid="toast-hint">
                  {t.hint}
                </div>
              )}
            </div>
            <button className="icon-btn" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}

/** Loads data with fn; failures are toasted and kept in `error` for inline display. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]) {
  const toasts = useToasts();
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const gen = useRef(0);
  const reload = useCallback(() => {
    const mine = ++gen.current;
    setState((s) => ({ ...s, loading: true }));
    return fn().then(
      (data) => {
        if (mine === gen.current) setState({ data, loading: false });
        return data;
      },
      (e) => {
        if (mine === gen.current) setState((s) => ({ ...s, error: describeError(e).text, loading: false }));
        toasts.error(e);
        return undefined;
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    reload();
  }, [reload]);
  const set = (data: T) => setState({ data, loading: false });
  /** Functional update, safe when several events arrive before a re-render. */
  const update = (fn: (prev: T | undefined) => T) => setState((s) => ({ ...s, data: fn(s.data), loading: false }));
  return { ...state, reload, set, update };
}

/** Runs an action, toasting failures; `busy` is true while it runs. */
export function useAction() {
  const toasts = useToasts();
  const [busy, setBusy] = useState(false);
  const run = useCallback(
    async <R,>(fn: () => Promise<R>): Promise<R | undefined> => {
      setBusy(true);
      try {
        return await fn();
      } catch (e) {
        toasts.error(e);
        return undefined;
      } finally {
        setBusy(false);
      }
    },
    [toasts],
  );
  return { busy, run };
}

/** Subscribes to a bus topic for the component's lifetime (null topic = none). */
export function useEvent(topic: string | null, cb: (data: any) => void) {
  const ref = useRef(cb);
  ref.current = cb;
  useEffect(() => {
    if (!topic) return;
    return on(topic, (d) => ref.current(d));
  }, [topic]);
}

export function ProgressBar({ percent, label, testid }: { percent?: number; label?: string; testid?: string }) {
  const known = typeof percent === 'number' && percent >= 0;
  return (
    <div className="progress" data-testid={testid}>
      <div
        className={`progress-track ${known ? '' : 'indeterminate'}`}
        role="progressbar"
        aria-valuenow={known ? Math.round(percent!) : undefined}
        aria-valuemin={0}
        aria-valuemax={100}
      >
        <div className="progress-fill" style={known ? { width: `${Math.min(100, percent!)}%` } : undefined} />
      </div>
      {label && <div className="progress-label">{label}</div>}
    </div>
  );
}

export function Spinner({ label }: { label?: string }) {
  return (
    <span className="spinner-wrap">
      <span className="spinner" aria-hidden />
      {label && <span className="muted">{label}</span>}
    </span>
  );
}

export function InlineError({ text, onRetry }: { text?: string; onRetry?: () => void }) {
  if (!text) return null;
  return (
    <div className="inline-error">
      <span>{text}</span>
      {onRetry && (
        <button className="btn btn-small" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatTime(s?: string): string {
  if (!s) return '';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toLocaleString();
}

/**
 * A destructive action asked inline (window.confirm is not reliable in every webview):
 * the first click shows the question with Confirm and Cancel.
 */
export function ConfirmButton({
  label,
  question,
  confirmLabel = 'Delete',
  onConfirm,
  disabled,
  testid,
}: {
  label: string;
  question: string;
  confirmLabel?: string;
  onConfirm: () => void;
  disabled?: boolean;
  testid?: string;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button className="btn btn-small btn-danger" disabled={disabled} onClick={() => setAsking(true)} data-testid={testid}>
        {label}
      </button>
    );
  return (
    <span className="confirm-inline" role="alertdialog" aria-label={question}>
      <span>{question}</span>
      <button
        className="btn btn-small btn-danger-solid"
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
        data-testid={testid ? `${testid}-confirm` : undefined}
      >
        {confirmLabel}
      </button>
      <button className="btn btn-small" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}
