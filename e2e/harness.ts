// What the e2e scenarios share: the demo's vite dev server on 127.0.0.1, Chromium started as a child process we
// own (so a scenario can SIGKILL it mid-upgrade and relaunch it on the same profile) and driven over CDP by
// playwright-core, and screenshots kept in e2e/artifacts/.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { build, createServer, preview, type ViteDevServer } from 'vite';
import { CHROMIUM_ARGS, CHROMIUM_BINARY, assertExecutable } from '../test/browser-env/engines';
import type { DemoApi } from '../demo/api';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const ARTIFACTS = path.join(ROOT, 'e2e', 'artifacts');

export type { DemoApi };

/** A port nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface DemoServer {
  readonly url: string;
  readonly origin: string;
  close(): Promise<void>;
}

/**
 * Builds the demo for production into a temporary folder (demo/vite.config.ts, then the one-file service worker of
 * demo/vite.sw.config.ts, as `npm run demo:build` does) and serves the build with `vite preview`.
 */
export async function startBuiltDemo(): Promise<DemoServer> {
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'idb-evolve-demo-build-'));
  for (const config of ['vite.config.ts', 'vite.sw.config.ts']) {
    await build({
      configFile: path.join(ROOT, 'demo', config),
      logLevel: 'warn',
      build: { outDir, emptyOutDir: false },
    });
  }
  const port = await freePort();
  const server = await preview({
    configFile: path.join(ROOT, 'demo', 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir },
    preview: { host: '127.0.0.1', port, strictPort: true },
  });
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/`,
    origin,
    close: async () => {
      await server.close();
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}

/** Starts the demo's dev server (demo/vite.config.ts) on 127.0.0.1 and a free port. */
export async function startDemoServer(): Promise<DemoServer> {
  const port = await freePort();
  const server: ViteDevServer = await createServer({
    configFile: path.join(ROOT, 'demo', 'vite.config.ts'),
    logLevel: 'warn',
    server: { host: '127.0.0.1', port, strictPort: true, hmr: false },
  });
  await server.listen();
  const origin = `http://127.0.0.1:${port}`;
  return { url: `${origin}/`, origin, close: () => server.close() };
}

export interface Chromium {
  readonly browser: Browser;
  readonly context: BrowserContext;
  readonly userDataDir: string;
  readonly pid: number;
  /** SIGKILLs the browser and every process it started (a crash, as far as the profile can tell). */
  kill(): Promise<void>;
  /** Closes the browser normally. */
  close(): Promise<void>;
}

const headlessArgs = [
  '--headless',
  '--remote-debugging-port=0',
  '--remote-debugging-address=127.0.0.1',
  '--no-default-browser-check',
  '--password-store=basic',
  '--use-mock-keychain',
  '--hide-scrollbars',
  '--mute-audio',
];

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/**
 * Launches Debian's Chromium headless with the args of docs (browsers.md) on `userDataDir` (a fresh temp folder
 * by default, deleted by close/kill unless it was given), and connects playwright-core to it over CDP.
 */
export async function launchChromium(
  options: { userDataDir?: string; extraArgs?: readonly string[] } = {},
): Promise<Chromium> {
  assertExecutable(CHROMIUM_BINARY, 'Chromium', 'chromium');
  const ownDir = options.userDataDir === undefined;
  const userDataDir = options.userDataDir ?? mkdtempSync(path.join(os.tmpdir(), 'idb-evolve-e2e-'));
  const args = [
    ...CHROMIUM_ARGS,
    ...headlessArgs,
    `--user-data-dir=${userDataDir}`,
    ...(options.extraArgs ?? []),
    'about:blank',
  ];
  // Its own process group, so that kill() reaches the renderers and helpers too.
  const child = spawn(CHROMIUM_BINARY, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(
      () => reject(new Error(`Chromium did not start within 20 s:\n${output.slice(-2000)}`)),
      20_000,
    );
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`Chromium exited (${code ?? signal}) before it listened:\n${output.slice(-2000)}`));
    });
  });
  // Keep draining stderr so that Chromium never blocks on a full pipe.
  child.stderr!.resume();
  const browser = await chromium.connectOverCDP(endpoint);
  const context = browser.contexts()[0]!;
  const pid = child.pid!;
  const cleanup = () => {
    if (ownDir) rmSync(userDataDir, { recursive: true, force: true });
  };
  return {
    browser,
    context,
    userDataDir,
    pid,
    kill: async () => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      await exited(child);
      await browser.close().catch(() => {});
      cleanup();
    },
    close: async () => {
      await browser.close().catch(() => {});
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }, 5000);
      await exited(child);
      clearTimeout(timer);
      cleanup();
    },
  };
}

/** Opens the demo in a new tab and waits until `window.demo` is there; logs the page's errors to the test output. */
export async function openDemo(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 1000 });
  page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
  // E2E_VERBOSE=1 prints the demo's event log (phases with timings, errors) as it happens.
  if (process.env.E2E_VERBOSE) {
    const started = Date.now();
    page.on('console', (message) => {
      if (message.text().startsWith('[demo]'))
        console.log(`+${((Date.now() - started) / 1000).toFixed(1)}s ${message.text()}`);
    });
  }
  await page.goto(url);
  await page.waitForFunction(() => typeof window.demo === 'object', undefined, { timeout: 30_000 });
  return page;
}

/** Saves a full-page screenshot as e2e/artifacts/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  // A background tab paints no frames: the screenshot would wait forever.
  await page.bringToFront();
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Waits until the page's latest upgrade progress satisfies `predicate` (polled; the page stays busy meanwhile). */
export async function waitForProgress(page: Page, phase: string, minDone = 0, timeout = 120_000): Promise<void> {
  await page.waitForFunction(
    ([p, min]) => {
      const progress = window.demo.progress;
      return progress !== null && progress.phase === p && progress.done >= min;
    },
    [phase, minDone] as const,
    { polling: 20, timeout },
  );
}
