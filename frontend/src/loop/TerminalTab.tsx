import { useEffect, useRef, useState } from 'react';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import { on } from '../api/client';
import { fromBase64, TerminalService, toBase64, topics } from '../api/services';
import { describeError, useToasts } from '../ui';

/** An interactive shell in the loop's container (exec with a TTY). */
export function TerminalTab({ loopId, visible }: { loopId: string; visible: boolean }) {
  const el = useRef<HTMLDivElement>(null);
  const fitRef = useRef<FitAddon | null>(null);
  const toasts = useToasts();
  const [state, setState] = useState<'opening' | 'open' | 'exited' | 'failed'>('opening');
  const [message, setMessage] = useState('');
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    if (!el.current) return;
    const term = new Terminal({
      fontFamily: 'ui-monospace, "JetBrains Mono", "DejaVu Sans Mono", monospace',
      fontSize: 13,
      cursorBlink: true,
      theme: { background: '#15171c', foreground: '#d8dbe2' },
    });
    const fit = new FitAddon();
    fitRef.current = fit;
    term.loadAddon(fit);
    term.open(el.current);
    try {
      fit.fit();
    } catch {
      /* not laid out yet */
    }
    let sid = '';
    let disposed = false;
    const offs: Array<() => void> = [];
    setState('opening');
    TerminalService.Open(loopId, term.cols || 80, term.rows || 24).then(
      (id) => {
        if (disposed) {
          TerminalService.Close(id).catch(() => {});
          return;
        }
        sid = id;
        setState('open');
        offs.push(on(topics.termData(id), (b64: string) => term.write(fromBase64(b64))));
        offs.push(
          on(topics.termExit(id), (d: { code?: number }) => {
            setState('exited');
            setMessage(`Shell exited${d?.code !== undefined ? ` with code ${d.code}` : ''}.`);
          }),
        );
        term.focus();
      },
      (e) => {
        if (disposed) return;
        setState('failed');
        setMessage(describeError(e).text);
        toasts.error(e);
      },
    );
    // Keystrokes must reach the shell in order, but RPCs over HTTP may overtake each
    // other: one write in flight at a time, later keystrokes batched behind it.
    let pending = '';
    let inFlight = false;
    const flush = () => {
      if (inFlight || !pending || !sid || disposed) return;
      const chunk = pending;
      pending = '';
      inFlight = true;
      TerminalService.Write(sid, toBase64(chunk))
        .catch((e) => toasts.error(e))
        .finally(() => {
          inFlight = false;
          flush();
        });
    };
    const dataSub = term.onData((d) => {
      pending += d;
      flush();
    });
    const resizeSub = term.onResize(({ cols, rows }) => {
      if (sid) TerminalService.Resize(sid, cols, rows).catch(() => {});
    });
    const ro = new ResizeObserver(() => {
      try {
        fit.fit();
      } catch {
        /* hidden */
      }
    });
    ro.observe(el.current);
    return () => {
      disposed = true;
      ro.disconnect();
      dataSub.dispose();
      resizeSub.dispose();
      offs.forEach((off) => off());
      if (sid) TerminalService.Close(sid).catch(() => {});
      term.dispose();
      fitRef.current = null;
    };
  }, [loopId, attempt, toasts]);

  useEffect(() => {
    if (visible) requestAnimationFrame(() => fitRef.current?.fit());
  }, [visible]);

  return (
    <div className="terminal-tab">
      {(state === 'opening' || state === 'exited' || state === 'failed') && (
        <div className={`terminal-status ${state === 'failed' ? 'inline-error' : 'muted'}`}>
          {state === 'opening' ? 'Starting a shell in the sandbox…' : message}
          {state !== 'opening' && (
            <button className="btn btn-small" onClick={() => setAttempt((a) => a + 1)}>
              New shell
            </button>
          )}
        </div>
      )}
      <div className="terminal" ref={el} data-testid="terminal" data-state={state} />
    </div>
  );
}
