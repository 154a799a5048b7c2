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
      theme: appTerminalTheme(),
    });
    // The terminal follows the app's theme (ui.theme, or the OS when "system").
    const retheme = () => (term.options.theme = appTerminalTheme());
    const themeObserver = new MutationObserver(retheme);
    themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    const media = window.matchMedia?.('(prefers-color-scheme: dark)');
    media?.addEventListener?.('change', retheme);
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
      themeObserver.disconnect();
      media?.removeEventListener?.('change', retheme);
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

// ANSI colours readable on each background (xterm's defaults assume a dark one).
const LIGHT_ANSI = {
  black: '#23262b', red: '#b83a3a', green: '#2e7d4f', yellow: '#8a5a00', blue: '#1f5fa8', magenta: '#8a3ffc', cyan: '#1f6f6b', white: '#6d6f75',
  brightBlack: '#6d6f75', brightRed: '#d04848', brightGreen: '#3a9a62', brightYellow: '#a87000', brightBlue: '#2f74c8', brightMagenta: '#a05cff', brightCyan: '#2a8a85', brightWhite: '#23262b',
};
const DARK_ANSI = {
  black: '#2a2d33', red: '#ec6f6f', green: '#5cc08a', yellow: '#e0a84a', blue: '#7fb4ff', magenta: '#c4a0ff', cyan: '#6fd0c6', white: '#d8dbe2',
  brightBlack: '#6d717a', brightRed: '#ff8a8a', brightGreen: '#7fd29f', brightYellow: '#f0c070', brightBlue: '#a0c8ff', brightMagenta: '#d8c0ff', brightCyan: '#90e0d8', brightWhite: '#ffffff',
};

/** The xterm theme from the app's CSS variables (so it follows light and dark). */
export function appTerminalTheme() {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  const background = v('--panel', '#ffffff');
  const dark = isDark(background);
  return {
    background,
    foreground: v('--text', dark ? '#e4e5e8' : '#23262b'),
    cursor: v('--accent', '#1f6f6b'),
    cursorAccent: background,
    selectionBackground: v('--accent-soft', '#dcecea'),
    ...(dark ? DARK_ANSI : LIGHT_ANSI),
  };
}

function isDark(color: string): boolean {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  if (!m) return false;
  const [r, g, b] = m.slice(1).map((x) => parseInt(x, 16));
  return 0.299 * r + 0.587 * g + 0.114 * b < 128;
}
