// Per-run scratch directory for browser profiles, shared by the browser providers and the WebKit
// global setup. Everything lives in the main vitest process, but the config bundle and the global
// setup are separate module instances, so the directory is handed over through the environment.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ENV_KEY = 'IDB_EVOLVE_BROWSER_RUN_DIR';
const PREFIX = `run-`;
const CLEANUP_FLAG = Symbol.for('idb-evolve.browser-run-dir.cleanup');

/** Parent of all run directories: `$TMPDIR/idb-evolve-browser-tests`. */
export function runRoot(): string {
  return join(tmpdir(), 'idb-evolve-browser-tests');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM means the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Processes a run may leave behind when vitest itself is killed; a recorded pid is only
// killed if its command line still names one of these (pids get reused).
const KILLABLE = ['Xvfb', 'WebKitWebDriver', 'webkitgtk-launcher', 'firefox'];

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** Sends SIGKILL to `pid` if it is alive and still one of the browser-side processes. */
export function killIfOurs(pid: number): void {
  if (!Number.isInteger(pid) || pid <= 1) return;
  const cmd = commandLine(pid);
  if (!KILLABLE.some((name) => cmd.includes(name))) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Kills the processes recorded by `recordPid` (and the WebKit launchers' `pid` files) under `dir`. */
export function killRecordedProcesses(dir: string): void {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true, recursive: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.isFile() || !(entry.name === 'pid' || entry.name.endsWith('.pid'))) continue;
    try {
      killIfOurs(Number(readFileSync(join(entry.parentPath, entry.name), 'utf8').trim()));
    } catch {
      // Unreadable pid file: nothing to kill.
    }
  }
}

/** Records a child process so a later run can kill it if this run dies without cleaning up. */
export function recordPid(name: string, pid: number | undefined): void {
  if (pid !== undefined) writeFileSync(join(runDir(), `${name}.pid`), String(pid));
}

/**
 * Removes run directories left by vitest processes that no longer exist (killed runs, SIGKILLed
 * WebKit launchers), after killing any browser-side process recorded in them. Directories of live processes are kept: other runs may share this machine.
 */
export function sweepStaleRunDirs(): string[] {
  const root = runRoot();
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return removed;
  }
  for (const entry of entries) {
    const match = /^run-(\d+)-/.exec(entry);
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    killRecordedProcesses(join(root, entry));
    rmSync(join(root, entry), { recursive: true, force: true, maxRetries: 2 });
    removed.push(entry);
  }
  return removed;
}

/**
 * This process's run directory, created (after a sweep of stale ones) on first use and removed
 * when the process exits.
 */
export function runDir(): string {
  const existing = process.env[ENV_KEY];
  if (existing?.includes(`${PREFIX}${process.pid}-`)) return existing;

  sweepStaleRunDirs();
  mkdirSync(runRoot(), { recursive: true });
  const dir = mkdtempSync(join(runRoot(), `${PREFIX}${process.pid}-`));
  process.env[ENV_KEY] = dir;

  const flags = globalThis as typeof globalThis & { [CLEANUP_FLAG]?: boolean };
  if (!flags[CLEANUP_FLAG]) {
    flags[CLEANUP_FLAG] = true;
    process.on('exit', () => {
      const dirToRemove = process.env[ENV_KEY];
      if (dirToRemove?.includes(`${PREFIX}${process.pid}-`)) {
        try {
          rmSync(dirToRemove, { recursive: true, force: true });
        } catch {
          // A browser may still be writing; the next run's sweep removes what is left.
        }
      }
    });
  }
  return dir;
}

/** A fresh subdirectory of the run directory, e.g. one browser profile. */
export function runSubdir(prefix: string): string {
  return mkdtempSync(join(runDir(), `${prefix}-`));
}
