// Helpers for the end-to-end tests: start `loopat serve` on a temp workspace and a
// Debian Chromium driven by playwright-core (no browser download, ever).
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
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
export async function startServe({ home, extraEnv = {} } = {}) {
  const bin = loopatBin();
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
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  return {
    context,
    page,
    consoleErrors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page, name) {
  mkdirSync(artifactsDir, { recursive: true });
  const path = join(artifactsDir, name);
  await page.screenshot({ path, fullPage: false });
  return path;
}
