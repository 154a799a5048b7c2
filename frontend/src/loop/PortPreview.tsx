import { useEffect, useRef, useState } from 'react';

type Runtime = { BrowserOpenURL?: (url: string) => void };

/** Opens url in the user's browser (Wails: the system browser; served: a new tab). */
export function openInBrowser(url: string) {
  const rt = (window as unknown as { runtime?: Runtime }).runtime;
  if (rt?.BrowserOpenURL) rt.BrowserOpenURL(url);
  else window.open(url, '_blank', 'noopener,noreferrer');
}

/**
 * The address the UI shows for a forward (http://127.0.0.1:PORT/ from the backend).
 * Served in a browser, the app's session cookie belongs to the UI's host; cookies
 * ignore ports, so a forward on the same host would receive it (the agent's server
 * would read the user's token). The forward is therefore shown on the other loopback
 * name (localhost <-> 127.0.0.1): another host, another site, no cookie, and a framed
 * page of it is never same-origin with the app. The desktop's system browser holds
 * no app cookie, so there the URL stays as it is.
 */
export function forwardURL(url: string): string {
  return forwardURLFor(url, window.location.hostname, !!(window as unknown as { runtime?: Runtime }).runtime);
}

/** forwardURL for a UI on uiHost (desktop: in the Wails window). */
export function forwardURLFor(url: string, uiHost: string, desktop: boolean): string {
  if (!url || desktop) return url;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url;
  }
  if (u.protocol !== 'http:' || (u.hostname !== '127.0.0.1' && u.hostname !== 'localhost')) return url;
  u.hostname = uiHost === 'localhost' ? '127.0.0.1' : 'localhost';
  return u.toString();
}

/**
 * The in-app preview is offered only when the UI runs in a browser (`loopat serve`):
 * there the agent's page is another origin and another site (forwardURL) and gets
 * nothing from the app. In the desktop webview (Wails v2 on Linux checks a binding
 * call's origin against the window's URL, not the calling frame's) a frame could reach
 * the native bridge, so the desktop opens the system browser instead.
 */
export function canPreview(): boolean {
  return !(window as unknown as { runtime?: Runtime }).runtime;
}

/**
 * A preview of a forwarded page: a sandboxed frame (scripts and its own origin, but no
 * top navigation, no popups) with back/forward, reload, open in the browser and copy.
 * The frame is cross-origin, so back/forward walk the window's joint session history,
 * offered only while the frame itself has navigated.
 */
export function PortPreview({ url, onClose }: { url: string; onClose: () => void }) {
  const frame = useRef<HTMLIFrameElement>(null);
  const [key, setKey] = useState(0);
  const [nav, setNav] = useState({ loads: 0, back: 0, fwd: 0 });
  useEffect(() => setNav({ loads: 0, back: 0, fwd: 0 }), [url, key]);
  const pending = useRef<'back' | 'fwd' | null>(null);

  const onLoad = () =>
    setNav((n) => {
      const p = pending.current;
      pending.current = null;
      if (n.loads === 0) return { ...n, loads: 1 };
      if (p === 'back') return { ...n, back: n.back - 1, fwd: n.fwd + 1 };
      if (p === 'fwd') return { ...n, back: n.back + 1, fwd: n.fwd - 1 };
      return { loads: n.loads + 1, back: n.back + 1, fwd: 0 }; // a link followed in the frame
    });

  return (
    <div className="ports-preview" data-testid="ports-preview">
      <div className="row ports-preview-bar">
        <button
          className="btn small"
          disabled={nav.back <= 0}
          onClick={() => {
            pending.current = 'back';
            window.history.back();
          }}
          title="Back"
          data-testid="preview-back"
        >
          ←
        </button>
        <button
          className="btn small"
          disabled={nav.fwd <= 0}
          onClick={() => {
            pending.current = 'fwd';
            window.history.forward();
          }}
          title="Forward"
          data-testid="preview-forward"
        >
          →
        </button>
        <button className="btn small" onClick={() => setKey((x) => x + 1)} title="Reload" data-testid="preview-reload">
          Reload
        </button>
        <code className="small ports-preview-url">{url}</code>
        <button className="btn small" onClick={() => void navigator.clipboard?.writeText(url)} title="Copy the URL">
          Copy
        </button>
        <button className="btn small" onClick={() => openInBrowser(url)} data-testid="preview-open">
          Open in browser
        </button>
        <button className="btn small" onClick={onClose} data-testid="preview-close">
          Close
        </button>
      </div>
      <iframe
        key={key}
        ref={frame}
        src={url}
        title="Preview"
        sandbox="allow-scripts allow-forms allow-same-origin"
        referrerPolicy="no-referrer"
        onLoad={onLoad}
        data-testid="preview-frame"
        style={{ width: '100%', height: '60vh', border: '1px solid var(--border, #ccc)', background: '#fff' }}
      />
    </div>
  );
}
