// Where the real browser engines live on this (Debian) machine and how each is started (the binaries and Chromium's
// flags are in binaries.mjs, shared with the bench). Nothing here downloads a browser: only the distribution
// binaries are used.
import { accessSync, constants, readFileSync } from 'node:fs';

export {
  CHROMIUM_ARGS,
  CHROMIUM_BINARY,
  FIREFOX_BINARY,
  WEBKIT_DRIVER_BINARY,
  WEBKIT_LAUNCHER,
  XVFB_BINARY,
} from './binaries.mjs';

/** Environment keys the WebKit global setup uses to hand the driver over to the provider. */
export const WEBKIT_DRIVER_PORT_ENV = 'IDB_EVOLVE_WEBKIT_DRIVER_PORT';
export const WEBKIT_DRIVER_LOG_ENV = 'IDB_EVOLVE_WEBKIT_DRIVER_LOG';
export const WEBKIT_PROFILE_ROOT_ENV = 'IDB_EVOLVE_WEBKIT_PROFILE_ROOT';

/** Throws a readable error when a browser binary is missing, naming the Debian package. */
export function assertExecutable(path: string, what: string, debianPackage: string): void {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(
      `${what}: ${path} is missing or not executable. Install it with ` +
        `\`apt-get install -y ${debianPackage}\` (browsers cannot be downloaded by the test tools here).`,
    );
  }
}

/** Last lines of a log file, for error messages. */
export function logTail(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
