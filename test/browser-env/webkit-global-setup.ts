// Global setup of the `webkit` project: WebKitGTK has no headless mode, so this starts a private
// Xvfb display and a WebKitWebDriver bound to 127.0.0.1 on a free port, hands both to the
// provider (webkit-provider.ts) through the environment, and stops them at teardown or when the
// vitest process exits. Only runs when the webkit project has tests to run.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import {
  assertExecutable,
  logTail,
  WEBKIT_DRIVER_BINARY,
  WEBKIT_DRIVER_LOG_ENV,
  WEBKIT_DRIVER_PORT_ENV,
  WEBKIT_LAUNCHER,
  WEBKIT_PROFILE_ROOT_ENV,
  XVFB_BINARY,
} from './engines';
import { killRecordedProcesses, recordPid, runDir } from './run-dir';

const STEP_TIMEOUT_MS = 15_000;

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function stop(child: ChildProcess | undefined, graceMs = 2000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

function checkLauncher(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(WEBKIT_LAUNCHER, ['--check'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error) =>
      reject(new Error(`WebKit launcher ${WEBKIT_LAUNCHER} could not be started: ${error.message}`)),
    );
    child.on('exit', (code) => {
      if (code === 0) resolve(output.trim());
      else
        reject(
          new Error(
            `WebKit launcher preflight \`${WEBKIT_LAUNCHER} --check\` failed (exit ${code}); it needs ` +
              `/usr/bin/python3 with gir1.2-webkit2-4.1 and python3-gi:\n${output.trim()}`,
          ),
        );
    });
  });
}

/** Starts Xvfb on the first free display (`-displayfd`), so parallel runs do not collide. */
function startXvfb(logPath: string): Promise<{ child: ChildProcess; display: string }> {
  return new Promise((resolve, reject) => {
    const log = openSync(logPath, 'a');
    const child = spawn(
      XVFB_BINARY,
      ['-displayfd', '3', '-nolisten', 'tcp', '-noreset', '-screen', '0', '1280x1024x24'],
      { stdio: ['ignore', log, log, 'pipe'], detached: true },
    );
    closeSync(log);
    const displayFd = child.stdio[3];
    let displayOut = '';
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      displayFd?.destroy();
      child.kill('SIGKILL');
      reject(new Error(`Xvfb (${XVFB_BINARY}) ${message}. Log ${logPath}:\n${logTail(logPath)}`));
    };
    const timer = setTimeout(() => fail(`did not report a display within ${STEP_TIMEOUT_MS} ms`), STEP_TIMEOUT_MS);
    child.on('error', (error) => fail(`could not be started (${error.message})`));
    child.once('exit', (code, signal) => fail(`exited early (code ${code}, signal ${signal})`));
    displayFd?.on('data', (chunk: Buffer) => {
      displayOut += chunk.toString();
      if (settled || !displayOut.includes('\n')) return;
      settled = true;
      clearTimeout(timer);
      // Xvfb writes the display number once; closing our end keeps the event loop free.
      displayFd.destroy();
      resolve({ child, display: `:${displayOut.trim()}` });
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function driverReady(port: number, child: ChildProcess, logPath: string): Promise<void> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `WebKitWebDriver (${WEBKIT_DRIVER_BINARY} --port=${port}) exited early ` +
          `(code ${child.exitCode}, signal ${child.signalCode}). Log ${logPath}:\n${logTail(logPath)}`,
      );
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/status`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `WebKitWebDriver (${WEBKIT_DRIVER_BINARY} --port=${port}) did not answer /status within ` +
      `${STEP_TIMEOUT_MS} ms. Log ${logPath}:\n${logTail(logPath)}`,
  );
}

async function startDriver(
  display: string,
  profileRoot: string,
  tmpDir: string,
  logPath: string,
): Promise<{ child: ChildProcess; port: number }> {
  let lastError: unknown;
  // A free port can be taken between probing and binding; try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const log = openSync(logPath, 'a');
    const child = spawn(WEBKIT_DRIVER_BINARY, [`--port=${port}`, '--host=local'], {
      stdio: ['ignore', log, log],
      detached: true,
      env: {
        ...process.env,
        DISPLAY: display,
        [WEBKIT_PROFILE_ROOT_ENV]: profileRoot,
        // WebKit leaves a FileSystemWritableStream-XXXXXX temp file in $TMPDIR for every
        // createWritable(); keep them inside the run directory, which is removed afterwards.
        TMPDIR: tmpDir,
        // Quiet the accessibility bus lookup, which has no D-Bus session here.
        NO_AT_BRIDGE: '1',
      },
    });
    closeSync(log);
    child.on('error', () => {
      // Reported through exitCode / driverReady.
    });
    try {
      await driverReady(port, child, logPath);
      return { child, port };
    } catch (error) {
      lastError = error;
      await stop(child, 500);
    }
  }
  throw lastError;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  assertExecutable(XVFB_BINARY, 'Xvfb (virtual display for WebKitGTK)', 'xvfb');
  assertExecutable(WEBKIT_DRIVER_BINARY, 'WebKitWebDriver', 'webkit2gtk-driver');
  assertExecutable(WEBKIT_LAUNCHER, 'WebKitGTK launcher script', 'gir1.2-webkit2-4.1 python3-gi');

  const dir = join(runDir(), 'webkit');
  const profileRoot = join(dir, 'profiles');
  const tmpDir = join(dir, 'tmp');
  mkdirSync(profileRoot, { recursive: true });
  mkdirSync(tmpDir, { recursive: true });
  const logPath = join(dir, 'webkit-driver.log');

  let xvfb: ChildProcess | undefined;
  let driver: ChildProcess | undefined;
  const killNow = () => {
    driver?.kill('SIGKILL');
    killRecordedProcesses(profileRoot);
    xvfb?.kill('SIGKILL');
  };
  process.on('exit', killNow);

  try {
    const [check, started] = await Promise.allSettled([checkLauncher(), startXvfb(join(dir, 'xvfb.log'))]);
    if (started.status === 'fulfilled') {
      xvfb = started.value.child;
      recordPid('xvfb', xvfb.pid);
    }
    if (check.status === 'rejected') throw check.reason;
    if (started.status === 'rejected') throw started.reason;
    const ready = await startDriver(started.value.display, profileRoot, tmpDir, logPath);
    driver = ready.child;
    recordPid('webkit-driver', driver.pid);
    process.env[WEBKIT_DRIVER_PORT_ENV] = String(ready.port);
    process.env[WEBKIT_DRIVER_LOG_ENV] = logPath;
  } catch (error) {
    killNow();
    process.off('exit', killNow);
    throw error;
  }
  // Neither child may keep the vitest process alive; the exit hook stops them if teardown does not run.
  xvfb?.unref();
  driver?.unref();

  return async () => {
    // Vitest tears global setups down before it closes the browser providers: end the WebDriver
    // session first (the provider's close() is idempotent), or the later close hits a dead driver.
    try {
      await project.browser?.provider.close();
    } catch {
      // The driver is stopped below either way.
    }
    delete process.env[WEBKIT_DRIVER_PORT_ENV];
    await stop(driver);
    // The driver SIGKILLs the launcher at session end; anything still alive (a session that was
    // never deleted) is killed through the pid file each launcher writes into its profile.
    killRecordedProcesses(profileRoot);
    await stop(xvfb);
    process.off('exit', killNow);
  };
}
