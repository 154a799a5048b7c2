// Helpers for the end-to-end tests: start `loopat serve` on a temp workspace and a
// Debian Chromium driven by playwright-core (no browser download, ever).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const artifactsDir = join(repoRoot, 'artifacts');

export function loopatBin() {
  const bin = process.env.LOOPAT_BIN;
  if (!bin) {
    throw new Error(
      'LOOPAT_BIN is not set: point it at a built loopat binary (make test-e2e does), e.g. ' +
        'go build -tags remote,exclude_graphdriver_btrfs,containers_image_openpgp -o /tmp/loopat . && LOOPAT_BIN=/tmp/loopat node --test',
    );
  }
  return resolve(bin);
}

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Spawns a process and resolves with the first stdout/stderr match of `pattern`.
 * Rejects if the process exits first or `timeoutMs` passes; the output so far is in the message.
 */
export function spawnAndWait(cmd, args, { env, cwd, pattern, timeoutMs = 30_000 }) {
  const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const done = new Promise((resolveP, rejectP) => {
    const timer = setTimeout(() => rejectP(new Error(`${cmd} did not print ${pattern} within ${timeoutMs} ms; output:\n${output}`)), timeoutMs);
    const onData = (buf) => {
      output += buf.toString();
      const m = output.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolveP(m);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      rejectP(new Error(`${cmd} exited (code ${code}, signal ${sig}) before printing ${pattern}; output:\n${output}`));
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      rejectP(e);
    });
  });
  return { child, match: done, output: () => output };
}

/** Stops a process group started by spawnAndWait: SIGTERM, then SIGKILL after 5 s. */
export async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const t = setTimeout(() => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 5000);
  await exited;
  clearTimeout(t);
}

/** Starts `loopat serve` on a fresh LOOPAT_HOME; returns {url, origin, token, home, child, close}. */
export async function startServe({ home, extraEnv = {}, bin = loopatBin() } = {}) {
  const loopatHome = home ?? join(tempDir('loopat-e2e-'), 'ws-e2e');
  mkdirSync(loopatHome, { recursive: true });
  const env = { ...process.env, LOOPAT_HOME: loopatHome, ...extraEnv };
  const proc = spawnAndWait(bin, ['serve', '--addr', '127.0.0.1:0'], {
    env,
    pattern: /(http:\/\/127\.0\.0\.1:\d+)\/\?token=([0-9a-fA-F]+)/,
    timeoutMs: 60_000,
  });
  const m = await proc.match;
  return {
    url: m[0],
    origin: m[1],
    token: m[2],
    home: loopatHome,
    env,
    child: proc.child,
    output: proc.output,
    async close() {
      await stop(proc.child);
    },
  };
}

/** Launches Debian's Chromium with a fresh profile; returns {context, page, close}. */
export async function launchBrowser() {
  const profile = tempDir('loopat-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 820 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  // Uncaught exceptions and the app's own console.error calls; tests assert this stays
  // empty. The browser's own lines about a failed request or socket ("Failed to load
  // resource: ... 409", a WebSocket to a stopped server) are left out: the app reports
  // those failures to the user, and the tests assert what it shows. Nor are the browser's
  // own refusals (a CORS block, a CSP frame-ancestors block): those are our defences
  // working against the attacker pages of crossorigin.test.mjs, which assert them.
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    if (/^Failed to load resource\b|^WebSocket connection to .* failed/.test(text)) return;
    if (/has been blocked by CORS policy|violates the following Content Security Policy directive/.test(text)) return;
    consoleErrors.push(`console.error: ${text}`);
  });
  return {
    context,
    page,
    consoleErrors,
    // A page that logged errors fails its test file, whether or not the test asserted
    // consoleErrors itself: the exit code marks the file failed under node --test. Not a
    // throw, so the caller's clean-up after close() (stopping loopat serve) still runs.
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
      if (consoleErrors.length > 0) {
        console.error(`e2e: the page logged errors:\n${consoleErrors.join('\n')}`);
        process.exitCode = 1;
      }
    },
  };
}

export async function screenshot(page, name) {
  mkdirSync(artifactsDir, { recursive: true });
  const path = join(artifactsDir, name);
  await page.screenshot({ path, fullPage: false });
  return path;
}

// Starts the mock Anthropic API on loopback (model traffic leaves the sandbox through
// loopat's gateway on the host, which holds the key) and writes a config.toml in home that
// uses it as the default provider. Returns the mock process handle.
// record: a file the mock writes every request into (JSON lines) when it is stopped.
export async function startAgentWorkspace(home, { chunkDelay, record } = {}) {
  const mockCmd = process.env.LOOPAT_E2E_MOCK_BIN
    ? [process.env.LOOPAT_E2E_MOCK_BIN, []]
    : ['go', ['run', './internal/testkit/cmd/mock-anthropic']];
  const extra = chunkDelay ? ['--chunk-delay', chunkDelay] : [];
  if (record) extra.push('--record', record);
  const mock = spawnAndWait(mockCmd[0], [...mockCmd[1], '--addr', '127.0.0.1:0', ...extra], {
    cwd: repoRoot,
    env: process.env,
    pattern: /https?:\/\/\S+:(\d+)/,
    timeoutMs: 180_000,
  });
  const port = (await mock.match)[1];
  mkdirSync(home, { recursive: true });
  // Corporate TLS proxies: image builds trust the host's extra CAs (sandbox.extra_ca_certs).
  const caDir = process.env.LOOPAT_E2E_CA_CERTS ?? '/usr/local/share/ca-certificates';
  const cas = existsSync(caDir) && readdirSync(caDir).length > 0 ? [caDir] : [];
  writeFileSync(
    join(home, 'config.toml'),
    [
      '[sandbox]',
      `extra_ca_certs = ${JSON.stringify(cas)}`,
      '[agent]',
      'permission_mode = "bypassPermissions"',
      'default_provider = "mock"',
      'default_model = "claude-sonnet-4-5"',
      '[[providers]]',
      'name = "mock"',
      `base_url = "http://127.0.0.1:${port}"`,
      'models = ["claude-sonnet-4-5"]',
      'key = "ANTHROPIC_API_KEY"',
      '',
    ].join('\n'),
  );
  return mock;
}

/**
 * The set-up of an e2e file that talks to a real agent: a temp folder holding a workspace
 * named ws-<name>-<pid>, the mock Messages API as its provider (requests recorded when
 * record is set), `loopat serve` on it and, unless browser is false, a Chromium page.
 * permissionMode replaces the workspace's permission mode and beforeServe(home) runs before
 * serve starts. close()
 * stops all of it and removes what the app left in podman for the workspace; it is safe
 * after a failed start.
 */
export async function startAgentServe(name, { browser = true, record = false, permissionMode, beforeServe } = {}) {
  const root = tempDir(`loopat-${name}-`);
  const fx = { root, home: join(root, `ws-${name}-${process.pid}`) };
  if (record) fx.record = join(root, 'mock-requests.jsonl');
  fx.close = async () => {
    await fx.browser?.close();
    await fx.serve?.close();
    await stop(fx.mock?.child);
    removeWorkspaceResources(fx.home);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    fx.mock = await startAgentWorkspace(fx.home, { record: fx.record });
    if (permissionMode) {
      const cfg = join(fx.home, 'config.toml');
      writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('permission_mode = "bypassPermissions"', `permission_mode = "${permissionMode}"`));
    }
    await beforeServe?.(fx.home);
    fx.serve = await startServe({ home: fx.home });
    if (browser) fx.browser = await launchBrowser();
  } catch (e) {
    await fx.close();
    throw e;
  }
  return fx;
}

/**
 * Removes what a test workspace left in podman: its containers and networks (by the
 * loopat.workspace label, whose value is the workspace's id, not its name) and its
 * per-workspace image tags. Uninstall does this for users; tests that do not uninstall
 * call it so no loop container keeps running into the suites after them.
 */
export function removeWorkspaceResources(home) {
  let id = '';
  try {
    id = readFileSync(join(home, 'workspace-id'), 'utf8').split('\n')[0].trim();
  } catch {
    return; // never opened: nothing was made
  }
  if (!/^[A-Za-z0-9-]+$/.test(id)) return;
  const label = `label=loopat.workspace=${id}`;
  const ids = (args) => spawnSync('podman', args, { encoding: 'utf8' }).stdout?.split('\n').filter(Boolean) ?? [];
  const containers = ids(['ps', '-aq', '--filter', label]);
  if (containers.length) spawnSync('podman', ['rm', '-f', '-t', '0', ...containers]);
  const networks = ids(['network', 'ls', '-q', '--filter', label]);
  if (networks.length) spawnSync('podman', ['network', 'rm', '-f', ...networks]);
  for (const ref of ids(['images', '--format', '{{.Repository}}:{{.Tag}}'])) {
    if (ref.endsWith(`:ws-${id}`)) spawnSync('podman', ['untag', ref, ref]);
  }
}

/**
 * As a user's first steps in the serve UI: open the printed link, store the mock's
 * provider key through Settings → Vault, and create a loop titled title. Resolves when
 * the loop page shows.
 */
export async function storeKeyAndCreateLoop(page, serve, title) {
  await page.goto(serve.url); // carries the session token
  await page.goto(`${serve.origin}/#/settings/vault`);
  await page.getByTestId('vault-name').fill('ANTHROPIC_API_KEY');
  await page.getByTestId('vault-value').fill('sk-mock-e2e');
  await page.getByTestId('vault-save').click();
  await page.getByTestId('vault-entries').getByText('ANTHROPIC_API_KEY').waitFor({ timeout: 20_000 });
  await page.goto(`${serve.origin}/#/`);
  await page.getByTestId('new-loop').click();
  await page.getByTestId('new-loop-title').fill(title);
  await page.getByTestId('new-loop-create').click();
  await page.getByTestId('loop-page').waitFor({ timeout: 60_000 });
}
