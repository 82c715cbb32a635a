// Engine adapters for the bench driver (run.mjs): launch a browser engine, open a page (an origin of its own),
// call `globalThis.bench.<method>(...args)` in it, and read the CPU seconds of that engine's processes. Heap is
// only measurable in Chromium (CDP); the other adapters have no `heap`. Plain ESM (Node 20 runs it as is); the
// launch recipes are those of test/browser-env (see /work/shared/browsers.md): nothing here downloads a browser.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  CHROMIUM_ARGS as TEST_CHROMIUM_ARGS,
  CHROMIUM_BINARY,
  FIREFOX_BINARY,
  WEBKIT_DRIVER_BINARY,
  WEBKIT_LAUNCHER,
  XVFB_BINARY,
} from '../test/browser-env/binaries.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const ENGINES = ['chromium', 'firefox', 'webkit'];

// A page call can take many minutes (a 1M-record migration); no driver timeout may cut it.
const CALL_TIMEOUT_MS = 4 * 60 * 60 * 1000;

/** The tests' flags, and exact heap figures for the heap sampler. */
export const CHROMIUM_ARGS = [...TEST_CHROMIUM_ARGS, '--enable-precise-memory-info'];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- CPU seconds from /proc -----------------------------------------------------------------------------------

const CLOCK_TICKS = 100;

/** Every process as { pid, ppid, cmdline, seconds (utime + stime) }; Linux only (else an empty list). */
function processes() {
  if (process.platform !== 'linux') return [];
  const list = [];
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the parenthesised command name: ppid is the 2nd, utime and stime the 12th and 13th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      list.push({
        pid: Number(pid),
        ppid: Number(fields[1]),
        cmdline,
        seconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS,
      });
    } catch {
      // The process ended while we looked.
    }
  }
  return list;
}

/** The processes whose ancestors include `root` (and root itself). */
function tree(root, all = processes()) {
  const children = new Map();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const found = [];
  const stack = all.filter((p) => p.pid === root);
  while (stack.length) {
    const p = stack.pop();
    found.push(p);
    stack.push(...(children.get(p.pid) ?? []));
  }
  return found;
}

/** Sums seconds by kind; `renderer` is always the process running the page's JavaScript. */
function totals(list, kindOf) {
  const sums = { total: 0 };
  for (const p of list) {
    const kind = kindOf(p.cmdline);
    sums[kind] = (sums[kind] ?? 0) + p.seconds;
    sums.total += p.seconds;
  }
  return sums;
}

function chromiumKind(cmdline) {
  const type = /--type=([a-z-]+)/.exec(cmdline)?.[1];
  if (type === undefined) return 'browser';
  if (type === 'utility') return /StorageService/.test(cmdline) ? 'storage' : 'utility';
  return type;
}

// Firefox: the parent process runs IndexedDB (its own threads); `-contentproc ... tab` processes run the pages.
function firefoxKind(cmdline) {
  if (!cmdline.includes('-contentproc')) return 'parent';
  const type = /\s(tab|rdd|socket|gpu|utility|gmplugin|forkserver)(\s|$)/.exec(cmdline)?.[1] ?? 'content';
  return type === 'tab' ? 'renderer' : type;
}

// WebKitGTK: the WebProcess runs the page, the NetworkProcess runs IndexedDB and OPFS.
function webkitKind(cmdline) {
  if (cmdline.includes('WebKitWebProcess')) return 'renderer';
  if (cmdline.includes('WebKitNetworkProcess')) return 'storage';
  if (cmdline.includes('WebKitWebDriver')) return 'driver';
  return 'browser';
}

// ---- Chromium: playwright-core, CDP ------------------------------------------------------------------------------

async function launchChromium({ profile, log }) {
  const { chromium } = await import('playwright-core');
  const executable = CHROMIUM_BINARY;
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: executable,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const openPage = async (url) => {
    const page = await context.newPage();
    page.on('pageerror', (error) => log(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') log(`page ${message.type()}: ${message.text()}`);
    });
    await page.goto(url);
    await page.waitForFunction(() => globalThis.bench !== undefined);
    const cdp = await context.newCDPSession(page);
    return {
      call: (method, ...args) => page.evaluate(([m, a]) => globalThis.bench[m](...a), [method, args]),
      heap: {
        collect: () => cdp.send('HeapProfiler.collectGarbage'),
        used: async () => (await cdp.send('Runtime.getHeapUsage')).usedSize,
      },
      close: async () => {
        await cdp.detach().catch(() => {});
        await page.close().catch(() => {});
      },
    };
  };
  // The user agent is reduced (156.0.0.0); the browser's own report has the full version.
  const probe = await context.newPage();
  const product = await (await context.newCDPSession(probe)).send('Browser.getVersion').then(
    (v) => v.product,
    () => 'unknown',
  );
  await probe.close();
  return {
    name: 'Chromium (headless)',
    version: product,
    executable,
    args: CHROMIUM_ARGS,
    driver: `playwright-core (CDP), launchPersistentContext`,
    openPage,
    // This run's processes are the ones started with its unique --user-data-dir.
    cpu: () =>
      totals(
        processes().filter((p) => p.cmdline.includes(profile)),
        chromiumKind,
      ),
    versionOf: (product) => /Chrome\/([\d.]+)/.exec(product)?.[1] ?? 'unknown',
    close: () => context.close(),
  };
}

// ---- Firefox ESR: puppeteer-core, WebDriver BiDi --------------------------------------------------------------------

async function launchFirefox({ profile, log }) {
  const { default: puppeteer } = await import('puppeteer-core');
  const executable = FIREFOX_BINARY;
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: executable,
    headless: true,
    userDataDir: profile,
    // BiDi commands (a script evaluation among them) time out after protocolTimeout: a migration can take minutes.
    protocolTimeout: CALL_TIMEOUT_MS,
    // No slow-script interruption of a long page call.
    extraPrefsFirefox: { 'dom.max_script_run_time': 0, 'dom.max_chrome_script_run_time': 0 },
    timeout: 60_000,
  });
  const root = browser.process()?.pid;
  const openPage = async (url) => {
    const page = await browser.newPage();
    page.on('pageerror', (error) => log(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warn') log(`page ${message.type()}: ${message.text()}`);
    });
    await page.goto(url);
    await page.waitForFunction(() => globalThis.bench !== undefined, { timeout: 60_000 });
    return {
      call: (method, ...args) => page.evaluate((m, a) => globalThis.bench[m](...a), method, args),
      close: () => page.close().catch(() => {}),
    };
  };
  return {
    name: 'Firefox ESR (headless)',
    executable,
    args: [],
    driver: 'puppeteer-core (WebDriver BiDi)',
    openPage,
    cpu: () => totals(root === undefined ? [] : tree(root), firefoxKind),
    version: await browser.version(),
    versionOf: (product) => /([\d.]+(esr)?)$/.exec(product)?.[1] ?? product,
    close: () => browser.close(),
  };
}

// ---- WebKitGTK: Xvfb + WebKitWebDriver (W3C classic) + webdriverio -------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts a child, rejecting if it exits before `ready()` says it is up (polled every 50 ms, 15 s at most). */
async function startChild(command, args, env, ready) {
  const child = spawn(command, args, { stdio: 'ignore', env: { ...process.env, ...env } });
  const exited = new Promise((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`${command} exited early (${code ?? signal})`)));
  });
  exited.catch(() => {});
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) await exited;
    if (await ready().catch(() => false)) return child;
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`${command} did not start within 15 s`);
}

/** Kills a child and everything under it (the driver leaves its WebKit processes behind otherwise). */
function killTree(child) {
  if (child?.pid === undefined) return;
  for (const p of tree(child.pid).reverse()) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

async function launchWebKit({ profile, log }) {
  const { remote } = await import('webdriverio');
  // WebKitGTK has no headless mode: a private X display. A fixed display number from the pid avoids collisions
  // with the test suite's Xvfb (-displayfd there).
  const display = `:${200 + (process.pid % 500)}`;
  const xvfb = await startChild(
    XVFB_BINARY,
    [display, '-nolisten', 'tcp', '-noreset', '-screen', '0', '1280x1024x24'],
    {},
    async () => readdirSync('/tmp/.X11-unix').includes(`X${display.slice(1)}`),
  );
  const port = await freePort();
  let driver;
  let session;
  try {
    driver = await startChild(
      WEBKIT_DRIVER_BINARY,
      [`--port=${port}`, '--host=local'],
      // The launcher puts its per-session profile under this root; WebKit's createWritable temp files go to TMPDIR.
      { DISPLAY: display, IDB_EVOLVE_WEBKIT_PROFILE_ROOT: profile, TMPDIR: profile, NO_AT_BRIDGE: '1' },
      async () => (await fetch(`http://127.0.0.1:${port}/status`, { signal: AbortSignal.timeout(1000) })).ok,
    );
    session = await remote({
      hostname: '127.0.0.1',
      port,
      logLevel: 'silent',
      // A page call is one HTTP request to the driver: it may last as long as the longest migration. Never retried.
      connectionRetryTimeout: CALL_TIMEOUT_MS,
      connectionRetryCount: 0,
      capabilities: {
        browserName: 'safari',
        'wdio:enforceWebDriverClassic': true,
        'webkitgtk:browserOptions': { binary: WEBKIT_LAUNCHER, args: ['--automation'] },
      },
    });
    await session.setTimeout({ script: CALL_TIMEOUT_MS, pageLoad: 60_000 });
  } catch (error) {
    killTree(driver);
    killTree(xvfb);
    throw error;
  }
  // One window: each origin is a navigation of it (WebDriver classic has no cheap new tab).
  const openPage = async (url) => {
    await session.url(url);
    await session.waitUntil(() => session.execute(() => globalThis.bench !== undefined), { timeout: 60_000 });
    return {
      call: async (method, ...args) => {
        const result = await session.executeAsync(
          (m, a, done) => {
            Promise.resolve()
              .then(() => globalThis.bench[m](...a))
              .then(
                (value) => done({ value: value ?? null }),
                (error) => done({ error: String(error?.stack ?? error) }),
              );
          },
          method,
          args,
        );
        if (result.error !== undefined) throw new Error(result.error);
        return result.value;
      },
      close: async () => {
        // Leave the origin: its connections close with the page.
        await session.url('about:blank').catch((error) => log(`about:blank: ${error.message}`));
      },
    };
  };
  return {
    name: 'WebKitGTK (WebKitWebDriver, Xvfb)',
    executable: `${WEBKIT_DRIVER_BINARY} + ${path.relative(repo, WEBKIT_LAUNCHER)}`,
    args: ['--automation'],
    driver: 'webdriverio (W3C WebDriver classic), WebKitWebDriver',
    openPage,
    // The driver starts the launcher, which starts the WebKit web and network processes.
    cpu: () => totals(tree(driver.pid), webkitKind),
    version: `WebKitGTK ${session.capabilities.browserVersion ?? 'unknown'}`,
    versionOf: (product) => /([\d.]+)$/.exec(product)?.[1] ?? product,
    close: async () => {
      await session.deleteSession().catch(() => {});
      killTree(driver);
      killTree(xvfb);
    },
  };
}

const launchers = { chromium: launchChromium, firefox: launchFirefox, webkit: launchWebKit };

/**
 * Launches `engine` with a fresh profile in `profile`. The adapter: `openPage(url)` -> { call(method, ...args),
 * heap? (Chromium), close() }, `cpu()` -> CPU seconds so far by process kind (`renderer` runs the page, `total`
 * all of them), `close()`.
 */
export function launchEngine(engine, options) {
  const launch = launchers[engine];
  if (launch === undefined) throw new Error(`Unknown engine "${engine}" (one of ${ENGINES.join(', ')}, all)`);
  return launch(options);
}
