// Where the real browser engines live on this (Debian) machine and how each is started.
// Nothing here downloads a browser: only the distribution binaries are used. Each path can be
// overridden through the environment (e.g. IDB_EVOLVE_FIREFOX_BINARY) on other machines.
import { accessSync, constants, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CHROMIUM_BINARY = process.env.IDB_EVOLVE_CHROMIUM_BINARY || '/usr/bin/chromium';
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const FIREFOX_BINARY = process.env.IDB_EVOLVE_FIREFOX_BINARY || '/usr/bin/firefox-esr';

export const XVFB_BINARY = process.env.IDB_EVOLVE_XVFB_BINARY || '/usr/bin/Xvfb';
export const WEBKIT_DRIVER_BINARY = process.env.IDB_EVOLVE_WEBKIT_DRIVER_BINARY || '/usr/bin/WebKitWebDriver';
/** PyGObject WebKitGTK browser with an on-disk profile (OPFS works); run by /usr/bin/python3. */
export const WEBKIT_LAUNCHER = fileURLToPath(new URL('./webkitgtk-launcher.py', import.meta.url));

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
