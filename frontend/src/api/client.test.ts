import { describe, expect, it, vi } from 'vitest';
import { createClient, RECONNECTED, reportWindowErrors, RpcError, serveToken, type ClientDeps } from './client';
import { fromBase64, toBase64 } from './services';

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

class FakeSocket {
  static all: FakeSocket[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  closed = false;
  constructor(
    readonly url: string,
    readonly protocols?: string[],
  ) {
    FakeSocket.all.push(this);
  }
  close() {
    this.closed = true;
  }
  open() {
    this.onopen?.({});
  }
  send(topic: string, data: unknown) {
    this.onmessage?.({ data: JSON.stringify({ topic, data, time: new Date().toISOString() }) });
  }
  drop() {
    this.onclose?.({});
  }
}

function httpDeps(fetchImpl: ClientDeps['fetch'], timers: Array<() => void> = []): ClientDeps {
  FakeSocket.all = [];
  return {
    win: { location: { protocol: 'http:', host: '127.0.0.1:4321' } },
    fetch: fetchImpl,
    WebSocket: FakeSocket,
    token: 'tok123',
    setTimeout: (fn) => timers.push(fn),
    clearTimeout: () => {},
  };
}

describe('transport selection', () => {
  it('uses Wails bindings when window.go exists', async () => {
    const Info = vi.fn(async (...a: unknown[]) => ({ workspace: 'w', args: a }));
    const fetchSpy = vi.fn();
    const c = createClient({ win: { go: { services: { SystemService: { Info } } } }, fetch: fetchSpy as any });
    expect(c.transport).toBe('wails');
    const res = await c.call<{ workspace: string; args: unknown[] }>('SystemService', 'Info', 1, 'two');
    expect(res).toEqual({ workspace: 'w', args: [1, 'two'] });
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it('uses HTTP RPC when window.go is absent', async () => {
    const fetchSpy = vi.fn(async (..._a: unknown[]) => jsonResponse(200, { result: { phase: 'ready' } }));
    const c = createClient(httpDeps(fetchSpy as any));
    expect(c.transport).toBe('http');
    const res = await c.call('EngineService', 'State');
    expect(res).toEqual({ phase: 'ready' });
    const [url, init] = fetchSpy.mock.calls[0] as [string, RequestInit];
    expect(url).toBe('/api/rpc/EngineService/State');
    expect(init.method).toBe('POST');
    expect(init.credentials).toBe('omit'); // no cookie ever: the token is the Bearer header
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer tok123');
    expect(init.body).toBe('[]');
  });

  it('sends positional arguments as a JSON array', async () => {
    const fetchSpy = vi.fn(async (..._a: unknown[]) => jsonResponse(200, { result: null }));
    const c = createClient(httpDeps(fetchSpy as any));
    await c.call('VaultService', 'SetEnv', 'default', 'TOKEN', 's3cret');
    expect(JSON.parse((fetchSpy.mock.calls[0][1] as RequestInit).body as string)).toEqual(['default', 'TOKEN', 's3cret']);
  });
});

describe('RPC error mapping', () => {
  it('maps an HTTP error body to RpcError with the server message and status', async () => {
    const c = createClient(httpDeps((async () => jsonResponse(500, { error: 'engine: podman not running' })) as any));
    const err = await failure(c.call('LoopService', 'Create', { title: 'x' }));
    expect(err).toBeInstanceOf(RpcError);
    expect(err.message).toBe('engine: podman not running');
    expect(err.status).toBe(500);
    expect(err.service).toBe('LoopService');
    expect(err.method).toBe('Create');
  });

  it('keeps the server hint beside the message of a 4xx', async () => {
    const c = createClient(httpDeps((async () => jsonResponse(409, { error: 'This loop is archived.', hint: 'Unarchive it to continue.' })) as any));
    const err = await failure(c.call('LoopService', 'Send', 'id', 'x'));
    expect(err.status).toBe(409);
    expect(err.message).toBe('This loop is archived.');
    expect(err.hint).toBe('Unarchive it to continue.');
  });

  it('names the call and status when the body is not JSON', async () => {
    const c = createClient(httpDeps((async () => new Response('gateway down', { status: 502, statusText: 'Bad Gateway' })) as any));
    const err = await failure(c.call('ImageService', 'Build'));
    expect(err).toBeInstanceOf(RpcError);
    expect(err.message).toContain('ImageService.Build failed: HTTP 502');
  });

  it('reports an unreachable server as RpcError, not a hang or TypeError', async () => {
    const c = createClient(httpDeps((async () => {
      throw new TypeError('Failed to fetch');
    }) as any));
    const err = await failure(c.call('SystemService', 'Info'));
    expect(err).toBeInstanceOf(RpcError);
    expect(err.message).toMatch(/cannot reach the loopat server: Failed to fetch/);
  });

  it('enters the final restarted state on a 401 and stops reconnecting', async () => {
    const timers: Array<() => void> = [];
    const fetchImpl = vi.fn(async () => jsonResponse(401, { error: 'missing or wrong access token' }));
    const c = createClient(httpDeps(fetchImpl as any, timers));
    const states: string[] = [];
    c.onConnection((s) => states.push(s));
    c.on('x', () => {});
    FakeSocket.all[0].open();
    FakeSocket.all[0].drop();
    await new Promise((r) => setTimeout(r, 0));
    expect(fetchImpl).toHaveBeenCalledWith('/api/health', expect.anything());
    expect(c.connection()).toBe('restarted');
    const before = FakeSocket.all.length;
    timers.splice(0).forEach((t) => t());
    expect(FakeSocket.all.length).toBe(before); // no futile reconnect
    const err = await failure(c.call('SystemService', 'Info'));
    expect(err.hint).toContain('loopat was restarted');
    expect(c.connection()).toBe('restarted');
  });

  it('maps 401 to RpcError with the token hint', async () => {
    const c = createClient(httpDeps((async () => jsonResponse(401, { error: 'missing or wrong access token' })) as any));
    const err = await failure(c.call('SystemService', 'Info'));
    expect(err.status).toBe(401);
    expect(err.message).toContain('access token');
  });

  it('wraps Wails string rejections in RpcError', async () => {
    const c = createClient({
      win: { go: { services: { LoopService: { Get: async () => Promise.reject('loop "x" not found') } } } },
      fetch: vi.fn() as any,
    });
    const err = await failure(c.call('LoopService', 'Get', 'x'));
    expect(err).toBeInstanceOf(RpcError);
    expect(err.message).toBe('loop "x" not found');
  });

  // Go's rpc.WailsError is the desktop ErrorFormatter: Wails rejects with new Error(<its JSON>).
  it('gives one error shape {message, hint, kind, status} from either transport', async () => {
    const payload = { message: 'This loop is archived.', hint: 'Unarchive it to continue.', kind: 'conflict' };
    const wails = createClient({
      win: { go: { services: { LoopService: { Send: async () => Promise.reject(new Error(JSON.stringify(payload))) } } } },
      fetch: vi.fn() as any,
    });
    const http = createClient(
      httpDeps((async () => jsonResponse(409, { error: payload.message, hint: payload.hint, kind: 'conflict' })) as any),
    );
    const shape = (e: RpcError) => ({ message: e.message, hint: e.hint, kind: e.kind, status: e.status });
    const fromWails = shape(await failure(wails.call('LoopService', 'Send', 'id', 'x')));
    const fromHttp = shape(await failure(http.call('LoopService', 'Send', 'id', 'x')));
    expect(fromWails).toEqual({ message: payload.message, hint: payload.hint, kind: 'conflict', status: 409 });
    expect(fromHttp).toEqual(fromWails);
  });

  it('reads a Wails JSON rejection given as a bare string, and an HTTP error without kind by status', async () => {
    const wails = createClient({
      win: { go: { services: { VaultService: { SetFile: async () => Promise.reject('{"message":"Bad mode.","kind":"invalid"}') } } } },
      fetch: vi.fn() as any,
    });
    const w = await failure(wails.call('VaultService', 'SetFile', 'v', 'p', 384, 'x'));
    expect([w.message, w.hint, w.kind, w.status]).toEqual(['Bad mode.', undefined, 'invalid', 400]);
    const http = createClient(httpDeps((async () => jsonResponse(404, { error: 'No such loop.' })) as any));
    const h = await failure(http.call('LoopService', 'Get', 'x'));
    expect([h.message, h.kind, h.status]).toEqual(['No such loop.', 'not_found', 404]);
  });

  it('keeps a Wails-internal rejection that is not our JSON as its text, kind internal', async () => {
    const c = createClient({
      win: { go: { services: { LoopService: { Get: async () => Promise.reject(new Error('{not json')) } } } },
      fetch: vi.fn() as any,
    });
    const err = await failure(c.call('LoopService', 'Get', 'x'));
    expect([err.message, err.kind, err.status, err.hint]).toEqual(['{not json', 'internal', 500, undefined]);
  });

  it('fails clearly for a method the Wails build does not bind', async () => {
    const c = createClient({ win: { go: { services: {} } }, fetch: vi.fn() as any });
    const err = await failure(c.call('NopeService', 'X'));
    expect(err).toBeInstanceOf(RpcError);
    expect(err.message).toContain('NopeService.X is not available');
  });
});

describe('event subscription', () => {
  it('opens one WebSocket to /api/events and dispatches by topic', () => {
    const c = createClient(httpDeps(vi.fn() as any));
    const engine: unknown[] = [];
    const loop: unknown[] = [];
    c.on('engine:state', (d) => engine.push(d));
    c.on('loop:*', (d) => loop.push(d));
    expect(FakeSocket.all).toHaveLength(1);
    expect(FakeSocket.all[0].url).toBe('ws://127.0.0.1:4321/api/events');
    expect(FakeSocket.all[0].protocols).toEqual(['loopat', 'loopat.token.tok123']);
    const ws = FakeSocket.all[0];
    ws.open();
    ws.send('engine:state', { phase: 'ready' });
    ws.send('loop:abc:status', { status: 'working' });
    ws.send('image:progress', { step: 1 });
    expect(engine).toEqual([{ phase: 'ready' }]);
    expect(loop).toEqual([{ status: 'working' }]);
  });

  it('stops delivering after unsubscribe', () => {
    const c = createClient(httpDeps(vi.fn() as any));
    const got: unknown[] = [];
    const off = c.on('loops:changed', (d) => got.push(d));
    const ws = FakeSocket.all[0];
    ws.open();
    ws.send('loops:changed', 1);
    off();
    ws.send('loops:changed', 2);
    expect(got).toEqual([1]);
  });

  it('reconnects with growing backoff, reports connection state and announces the reconnect', () => {
    const timers: Array<() => void> = [];
    const c = createClient(httpDeps(vi.fn() as any, timers));
    const states: string[] = [];
    c.onConnection((s) => states.push(s));
    const reconnected: unknown[] = [];
    c.on(RECONNECTED, (d) => reconnected.push(d));
    FakeSocket.all[0].open();
    FakeSocket.all[0].drop();
    expect(c.connection()).toBe('closed');
    expect(timers).toHaveLength(1);
    timers.shift()!();
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.all[1].drop(); // fails before opening: next wait is scheduled
    expect(timers).toHaveLength(1);
    timers.shift()!();
    FakeSocket.all[2].open();
    expect(states).toEqual(['open', 'closed', 'connecting', 'closed', 'connecting', 'open']);
    expect(reconnected).toHaveLength(1);
    c.close();
    expect(FakeSocket.all[2].closed).toBe(true);
  });

  it('uses window.runtime.EventsOn under Wails and returns its unsubscribe', () => {
    const listeners = new Map<string, (...d: unknown[]) => void>();
    const offSpy = vi.fn();
    const c = createClient({
      win: {
        go: { services: {} },
        runtime: {
          EventsOn: (t, cb) => {
            listeners.set(t, cb);
            return offSpy;
          },
          EventsOff: vi.fn(),
        },
      },
      fetch: vi.fn() as any,
    });
    const got: unknown[] = [];
    const off = c.on('engine:state', (d) => got.push(d));
    listeners.get('engine:state')!({ phase: 'starting' });
    expect(got).toEqual([{ phase: 'starting' }]);
    off();
    expect(offSpy).toHaveBeenCalledOnce();
    expect(c.connection()).toBe('open');
  });

  it('ignores malformed frames without breaking the stream', () => {
    const c = createClient(httpDeps(vi.fn() as any));
    const got: unknown[] = [];
    c.on('x', (d) => got.push(d));
    const ws = FakeSocket.all[0];
    ws.onmessage!({ data: 'not json' });
    ws.send('x', 42);
    expect(got).toEqual([42]);
  });
});

describe('base64 helpers', () => {
  it('round-trips UTF-8 text', () => {
    const b64 = toBase64('ls -la ✓\n');
    expect(new TextDecoder().decode(fromBase64(b64))).toBe('ls -la ✓\n');
  });
});

async function failure(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    return e as RpcError;
  }
  throw new Error('expected the call to fail');
}

describe('desktop error reporting', () => {
  it('sends uncaught errors and unhandled rejections to the app log via Wails LogError', () => {
    const listeners: Record<string, (e: unknown) => void> = {};
    const logged: string[] = [];
    reportWindowErrors({
      addEventListener: ((type: string, cb: (e: unknown) => void) => {
        listeners[type] = cb;
      }) as any,
      runtime: { EventsOn: () => () => {}, EventsOff: () => {}, LogError: (m: string) => logged.push(m) },
    });
    listeners.error({ error: new Error('boom'), message: 'boom' });
    listeners.unhandledrejection({ reason: 'no such loop' });
    expect(logged).toHaveLength(2);
    expect(logged[0]).toMatch(/^frontend: uncaught .*boom/);
    expect(logged[1]).toBe('frontend: unhandled rejection: no such loop');
  });
});

describe('serveToken', () => {
  const fakeWin = (href: string, stored: Record<string, string> = {}) => {
    const replaced: string[] = [];
    return {
      replaced,
      stored,
      location: { href },
      history: { replaceState: (_d: unknown, _u: string, url: string) => replaced.push(url) },
      localStorage: { getItem: (k: string) => stored[k] ?? null, setItem: (k: string, v: string) => void (stored[k] = v) },
    };
  };

  it('takes ?token= from the printed link, keeps it in this origin\'s storage and drops it from the address', () => {
    const w = fakeWin('http://127.0.0.1:4321/?token=abc&x=1#/loops/7');
    expect(serveToken(w)).toBe('abc');
    expect(w.stored.loopat_token).toBe('abc');
    expect(w.replaced).toEqual(['/?x=1#/loops/7']);
  });

  it('reads the stored token on later loads, and a new link replaces it', () => {
    expect(serveToken(fakeWin('http://127.0.0.1:4321/#/', { loopat_token: 'old' }))).toBe('old');
    const w = fakeWin('http://127.0.0.1:4321/?token=new', { loopat_token: 'old' });
    expect(serveToken(w)).toBe('new');
    expect(w.stored.loopat_token).toBe('new');
  });

  it('has none without a link or storage', () => {
    expect(serveToken(fakeWin('http://127.0.0.1:4321/'))).toBeUndefined();
  });
});
