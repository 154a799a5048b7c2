// The one API client. In the desktop window Wails binds the Go services as
// window.go.services.<Service>.<Method>() and events via window.runtime; in the
// browser (`loopat serve`) the same calls are POST /api/rpc/<Service>/<Method> and
// events arrive over one WebSocket. Everything in the UI goes through call()/on().

export type Transport = 'wails' | 'http';
// 'restarted': the server answers 401 to this tab's token, i.e. `loopat serve` was
// restarted with a new one; only the new link helps, so it is final.
export type ConnectionState = 'connecting' | 'open' | 'closed' | 'restarted';

/** What a tab whose token is no longer accepted (or that has none) tells the user. */
export const RESTARTED_TEXT = 'loopat was restarted: open the new link printed by `loopat serve`.';
export type EventHandler = (data: any) => void;

/** Whose move a failed call is (Go rpc.Kind): the caller's input, a missing thing, a state that forbids it, or the app's. */
export type ErrorKind = 'invalid' | 'not_found' | 'conflict' | 'internal';

const STATUS_OF: Record<ErrorKind, number> = { invalid: 400, not_found: 404, conflict: 409, internal: 500 };
function kindOf(status: number): ErrorKind {
  if (status === 400) return 'invalid';
  if (status === 404) return 'not_found';
  if (status === 409) return 'conflict';
  return 'internal';
}
const isKind = (k: unknown): k is ErrorKind => typeof k === 'string' && k in STATUS_OF;

/** A failed call, the same shape from either transport: the backend's message, its hint, and where it came from. */
export class RpcError extends Error {
  constructor(
    message: string,
    readonly service: string,
    readonly method: string,
    readonly status?: number,
    /** What to do about it, written for the user (the server's "hint"), shown apart from the message. */
    readonly hint?: string,
    readonly kind?: ErrorKind,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

/**
 * The {message, hint, kind} a Wails call was rejected with: Go's rpc.WailsError sends it as
 * JSON in the Error's message (Wails wraps the formatter's string in new Error). Anything
 * else (a Wails-internal failure) is kept as plain text of kind 'internal'.
 */
export function wailsError(e: unknown): { message: string; hint?: string; kind: ErrorKind } {
  const text = errorMessage(e);
  if (text.startsWith('{')) {
    try {
      const p = JSON.parse(text) as { message?: unknown; hint?: unknown; kind?: unknown };
      if (p && typeof p.message === 'string') {
        return {
          message: p.message,
          hint: typeof p.hint === 'string' && p.hint ? p.hint : undefined,
          kind: isKind(p.kind) ? p.kind : 'internal',
        };
      }
    } catch {
      // not ours: plain text below
    }
  }
  return { message: text, kind: 'internal' };
}

interface WailsWindow {
  go?: { services?: Record<string, Record<string, (...a: unknown[]) => Promise<unknown>>> };
  runtime?: {
    EventsOn(topic: string, cb: (...data: unknown[]) => void): () => void;
    EventsOff(topic: string, ...more: string[]): void;
    LogError?(message: string): void;
  };
}

interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  close(): void;
}

export interface ClientDeps {
  win: WailsWindow & { location?: { protocol: string; host: string } };
  fetch: typeof fetch;
  WebSocket?: new (url: string, protocols?: string[]) => SocketLike;
  /** The serve access token (http transport): see serveToken. */
  token?: string;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (id: any) => void;
}

/** Topic published locally after the event socket reconnects, so views can refetch what they missed. */
export const RECONNECTED = 'client:reconnected';

export interface Client {
  transport: Transport;
  call<T = unknown>(service: string, method: string, ...args: unknown[]): Promise<T>;
  /** Subscribe to a bus topic; a topic ending in '*' matches by prefix. Returns the unsubscribe function. */
  on(topic: string, cb: EventHandler): () => void;
  /** Connection state of the event stream (always 'open' under Wails). */
  connection(): ConnectionState;
  onConnection(cb: (s: ConnectionState) => void): () => void;
  close(): void;
}

export function createClient(deps: ClientDeps): Client {
  const transport: Transport = typeof deps.win.go !== 'undefined' ? 'wails' : 'http';
  return transport === 'wails' ? wailsClient(deps) : httpClient(deps);
}

function errorMessage(e: unknown): string {
  if (typeof e === 'string') return e;
  if (e instanceof Error) return e.message;
  if (e && typeof e === 'object' && 'message' in e) return String((e as { message: unknown }).message);
  try {
    return JSON.stringify(e);
  } catch {
    return String(e);
  }
}

function wailsClient(deps: ClientDeps): Client {
  const win = deps.win;
  const connListeners = new Set<(s: ConnectionState) => void>();
  return {
    transport: 'wails',
    async call<T>(service: string, method: string, ...args: unknown[]): Promise<T> {
      const fn = win.go?.services?.[service]?.[method];
      if (typeof fn !== 'function') {
        throw new RpcError(`${service}.${method} is not available in this build`, service, method);
      }
      try {
        return (await fn(...args)) as T;
      } catch (e) {
        const err = wailsError(e);
        throw new RpcError(err.message, service, method, STATUS_OF[err.kind], err.hint, err.kind);
      }
    },
    on(topic, cb) {
      if (!win.runtime) return () => {};
      // Wails passes EventsEmit's variadic data; the bus emits exactly one value.
      const off = win.runtime.EventsOn(topic, (...data: unknown[]) => cb(data[0]));
      return typeof off === 'function' ? off : () => win.runtime?.EventsOff(topic);
    },
    connection: () => 'open',
    onConnection(cb) {
      connListeners.add(cb);
      return () => connListeners.delete(cb);
    },
    close() {},
  };
}

function httpClient(deps: ClientDeps): Client {
  const handlers = new Map<string, Set<EventHandler>>();
  const connListeners = new Set<(s: ConnectionState) => void>();
  const setT = deps.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
  const clearT = deps.clearTimeout ?? ((id) => clearTimeout(id));
  const authHeaders: Record<string, string> = deps.token ? { Authorization: `Bearer ${deps.token}` } : {};
  let state: ConnectionState = 'connecting'; // until the first attempt fails: no banner flash at start
  let socket: SocketLike | null = null;
  let retryTimer: unknown = null;
  let backoff = 500;
  let everOpened = false;
  let closed = false;

  const setState = (s: ConnectionState) => {
    if (s === state || state === 'restarted') return;
    state = s;
    connListeners.forEach((cb) => cb(s));
  };

  const dispatch = (topic: string, data: unknown) => {
    handlers.get(topic)?.forEach((cb) => safe(cb, data));
    handlers.forEach((set, key) => {
      if (key.endsWith('*') && topic.startsWith(key.slice(0, -1))) set.forEach((cb) => safe(cb, data));
    });
  };

  const connect = () => {
    if (closed || socket || !deps.WebSocket || state === 'restarted') return;
    const loc = deps.win.location ?? { protocol: 'http:', host: 'localhost' };
    const url = `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/api/events`;
    setState('connecting');
    let ws: SocketLike;
    try {
      // Browsers cannot set headers on a WebSocket: the token rides as a subprotocol
      // offered beside 'loopat' (the server answers 'loopat', never echoing the token).
      ws = new deps.WebSocket(url, deps.token ? ['loopat', `loopat.token.${deps.token}`] : ['loopat']);
    } catch {
      scheduleReconnect();
      return;
    }
    socket = ws;
    ws.onopen = () => {
      backoff = 500;
      setState('open');
      if (everOpened) dispatch(RECONNECTED, null);
      everOpened = true;
    };
    ws.onmessage = (ev) => {
      let msg: { topic?: unknown; data?: unknown };
      try {
        msg = JSON.parse(String(ev.data));
      } catch {
        return; // not ours; ignore rather than break the stream
      }
      if (typeof msg.topic === 'string') dispatch(msg.topic, msg.data);
    };
    ws.onerror = () => {};
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = null;
      setState('closed');
      scheduleReconnect();
      // A WebSocket cannot tell a refused token from a server that is down: ask.
      void checkToken();
    };
  };

  // checkToken reports false (and enters 'restarted', which stops reconnecting) when the server is up but no longer
  // takes this tab's token; an unreachable server is not that (true: keep retrying).
  const checkToken = async (): Promise<boolean> => {
    try {
      const res = await deps.fetch('/api/health', { credentials: 'omit', headers: authHeaders });
      if (res?.status === 401) {
        setState('restarted');
        return false;
      }
    } catch {
      // down or restarting: reconnecting will tell
    }
    return true;
  };

  const scheduleReconnect = () => {
    if (closed || retryTimer !== null) return;
    const wait = backoff;
    backoff = Math.min(backoff * 2, 10_000);
    retryTimer = setT(() => {
      retryTimer = null;
      connect();
    }, wait);
  };

  return {
    transport: 'http',
    async call<T>(service: string, method: string, ...args: unknown[]): Promise<T> {
      let res: Response;
      try {
        res = await deps.fetch(`/api/rpc/${encodeURIComponent(service)}/${encodeURIComponent(method)}`, {
          method: 'POST',
          credentials: 'omit',
          headers: { 'Content-Type': 'application/json', ...authHeaders },
          body: JSON.stringify(args),
        });
      } catch (e) {
        throw new RpcError(`cannot reach the loopat server: ${errorMessage(e)}`, service, method);
      }
      let body: { result?: unknown; error?: unknown; hint?: unknown; kind?: unknown } | null = null;
      try {
        body = await res.json();
      } catch {
        body = null;
      }
      if (!res.ok) {
        const msg =
          body && typeof body.error === 'string' && body.error
            ? body.error
            : `${service}.${method} failed: HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''}`;
        let hint = body && typeof body.hint === 'string' && body.hint ? body.hint : undefined;
        if (res.status === 401) {
          setState('restarted');
          hint = RESTARTED_TEXT;
        }
        const kind = body && isKind(body.kind) ? body.kind : kindOf(res.status);
        throw new RpcError(msg, service, method, res.status, hint, kind);
      }
      if (!body || typeof body !== 'object') {
        throw new RpcError(`${service}.${method}: server sent a response that is not JSON`, service, method, res.status);
      }
      return (body.result ?? null) as T;
    },
    on(topic, cb) {
      let set = handlers.get(topic);
      if (!set) handlers.set(topic, (set = new Set()));
      set.add(cb);
      connect();
      return () => {
        set!.delete(cb);
        if (set!.size === 0 && handlers.get(topic) === set) handlers.delete(topic);
      };
    },
    connection: () => state,
    onConnection(cb) {
      connListeners.add(cb);
      connect();
      return () => connListeners.delete(cb);
    },
    close() {
      closed = true;
      if (retryTimer !== null) clearT(retryTimer);
      socket?.close();
      socket = null;
      setState('closed');
    },
  };
}

function safe(cb: EventHandler, data: unknown) {
  try {
    cb(data);
  } catch (e) {
    console.error('event handler failed', e);
  }
}

/**
 * In the desktop window, uncaught errors and rejections go to the app's log through
 * Wails' LogError ("ERR | frontend: …" on stderr): the window has no console anyone reads,
 * and the GUI test fails on them.
 */
export function reportWindowErrors(
  win: Pick<Window, 'addEventListener'> & WailsWindow,
): void {
  const log = (what: string) => win.runtime?.LogError?.(`frontend: ${what}`);
  win.addEventListener('error', (e) => {
    const ev = e as ErrorEvent;
    log(`uncaught ${ev.error instanceof Error ? ev.error.stack ?? ev.error.message : ev.message}`);
  });
  win.addEventListener('unhandledrejection', (e) => {
    const reason = (e as PromiseRejectionEvent).reason;
    // A failed call shown to the user as a toast is handled; only truly unhandled ones land here.
    log(`unhandled rejection: ${reason instanceof Error ? reason.stack ?? reason.message : errorMessage(reason)}`);
  });
}

const TOKEN_KEY = 'loopat_token';

/**
 * serveToken is the `loopat serve` access token of this tab: taken from the ?token= of the
 * printed link (then removed from the address bar and history entry) and kept in this
 * origin's localStorage, so other tabs and reloads of the same origin have it. Never a
 * cookie: browsers send cookies to every port of a host name, so one would reach any
 * loopback server the user opens, such as an agent's dev server behind a port forward;
 * localStorage is this origin's (scheme, host and port) alone.
 */
export function serveToken(win: {
  location: { href: string };
  history?: { replaceState(data: unknown, unused: string, url: string): void };
  localStorage?: { getItem(k: string): string | null; setItem(k: string, v: string): void };
}): string | undefined {
  let fromUrl: string | null = null;
  try {
    const u = new URL(win.location.href);
    fromUrl = u.searchParams.get('token');
    if (fromUrl) {
      u.searchParams.delete('token');
      win.history?.replaceState(null, '', u.pathname + u.search + u.hash);
    }
  } catch {
    /* not a URL we can read: fall back to storage */
  }
  try {
    if (fromUrl) win.localStorage?.setItem(TOKEN_KEY, fromUrl);
    return fromUrl ?? win.localStorage?.getItem(TOKEN_KEY) ?? undefined;
  } catch {
    return fromUrl ?? undefined; // storage disabled: this page load still works
  }
}

let defaultClient: Client | null = null;

/** The app-wide client, created on first use from the real window. */
export function client(): Client {
  if (!defaultClient) {
    defaultClient = createClient({
      win: window as unknown as ClientDeps['win'],
      fetch: window.fetch.bind(window),
      WebSocket: window.WebSocket as unknown as ClientDeps['WebSocket'],
      token: typeof (window as { go?: unknown }).go === 'undefined' ? serveToken(window) : undefined,
    });
    if (defaultClient.transport === 'wails') reportWindowErrors(window as unknown as Window & WailsWindow);
  }
  return defaultClient;
}

export function call<T = unknown>(service: string, method: string, ...args: unknown[]): Promise<T> {
  return client().call<T>(service, method, ...args);
}

export function on(topic: string, cb: EventHandler): () => void {
  return client().on(topic, cb);
}
