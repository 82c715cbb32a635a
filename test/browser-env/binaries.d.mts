// Types of binaries.mjs (plain ESM, so that the bench driver can import it without a build).
/** Debian's Chromium, or IDB_EVOLVE_CHROMIUM_BINARY. */
export declare const CHROMIUM_BINARY: string;
/** The flags every Chromium run of the tests and the bench takes. */
export declare const CHROMIUM_ARGS: readonly string[];
/** Debian's Firefox ESR, or IDB_EVOLVE_FIREFOX_BINARY. */
export declare const FIREFOX_BINARY: string;
/** Xvfb, or IDB_EVOLVE_XVFB_BINARY. */
export declare const XVFB_BINARY: string;
/** WebKitWebDriver, or IDB_EVOLVE_WEBKIT_DRIVER_BINARY. */
export declare const WEBKIT_DRIVER_BINARY: string;
/** The PyGObject WebKitGTK launcher (an on-disk profile, so OPFS works). */
export declare const WEBKIT_LAUNCHER: string;
