// The Debian browser binaries and the flags every run of them takes, in plain ESM: the test environment
// (engines.ts) and the benchmark driver (bench/engines.mjs, which Node runs as is) share this one list. Each path
// can be overridden through the environment (e.g. IDB_EVOLVE_FIREFOX_BINARY) on other machines.
import { fileURLToPath } from 'node:url';

export const CHROMIUM_BINARY = process.env.IDB_EVOLVE_CHROMIUM_BINARY || '/usr/bin/chromium';
/** No sandbox (root in CI), no GPU, and none of the background traffic that would reach the network. */
export const CHROMIUM_ARGS = Object.freeze([
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]);

export const FIREFOX_BINARY = process.env.IDB_EVOLVE_FIREFOX_BINARY || '/usr/bin/firefox-esr';

export const XVFB_BINARY = process.env.IDB_EVOLVE_XVFB_BINARY || '/usr/bin/Xvfb';
export const WEBKIT_DRIVER_BINARY = process.env.IDB_EVOLVE_WEBKIT_DRIVER_BINARY || '/usr/bin/WebKitWebDriver';
/** PyGObject WebKitGTK browser with an on-disk profile (OPFS works); run by /usr/bin/python3. */
export const WEBKIT_LAUNCHER = fileURLToPath(new URL('./webkitgtk-launcher.py', import.meta.url));
