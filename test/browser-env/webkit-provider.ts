// WebKitGTK through the official webdriverio provider, pointed at the WebKitWebDriver that
// webkit-global-setup.ts started (its port is only known once the global setup has run).
import { WebdriverBrowserProvider, type WebdriverProviderOptions, webdriverio } from '@vitest/browser-webdriverio';
import type { BrowserProvider, BrowserProviderOption, TestProject } from 'vitest/node';
import { logTail, WEBKIT_DRIVER_LOG_ENV, WEBKIT_DRIVER_PORT_ENV, WEBKIT_LAUNCHER } from './engines';

/** Vitest browser provider for WebKitGTK (browser name `safari`, must run with `headless: false`). */
export function webkitgtk(): BrowserProviderOption<WebdriverProviderOptions> {
  const options: WebdriverProviderOptions = {
    hostname: '127.0.0.1',
    // Failures are rethrown below with the context that matters; wdio's own log would repeat them.
    logLevel: 'silent',
    // A failed session start is not retried: the error (and the driver log) is what we want to see.
    connectionRetryCount: 0,
    connectionRetryTimeout: 30_000,
    capabilities: {
      browserName: 'safari',
      'wdio:enforceWebDriverClassic': true,
      'webkitgtk:browserOptions': { binary: WEBKIT_LAUNCHER, args: ['--automation'] },
    } as NonNullable<WebdriverProviderOptions['capabilities']>,
  };
  const base = webdriverio(options);
  return {
    ...base,
    providerFactory: (project: TestProject) => {
      const port = Number(process.env[WEBKIT_DRIVER_PORT_ENV]);
      if (!port) {
        throw new Error(
          `WebKitWebDriver is not running: the webkit project's globalSetup ` +
            `(test/browser-env/webkit-global-setup.ts) did not start it.`,
        );
      }
      // The cast bridges two declaration merges of CDPSession (playwright's and webdriverio's).
      return new WebKitGtkProvider(project, { ...options, port }) as unknown as BrowserProvider;
    },
  };
}

class WebKitGtkProvider extends WebdriverBrowserProvider {
  readonly #port: number;

  constructor(project: TestProject, options: WebdriverProviderOptions & { port: number }) {
    super(project, options);
    this.#port = options.port;
  }

  override async openBrowser(): Promise<WebdriverIO.Browser> {
    try {
      return await super.openBrowser();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const hint = reason.includes('match capabilities')
        ? ' (the launcher must report an ApplicationInfo name equal to browserName "safari")'
        : '';
      const log = process.env[WEBKIT_DRIVER_LOG_ENV];
      throw new Error(
        `WebKitGTK session could not be created through WebKitWebDriver at 127.0.0.1:${this.#port} ` +
          `with browser binary ${WEBKIT_LAUNCHER}: ${reason}${hint}` +
          (log ? `\nDriver and launcher output (${log}):\n${logTail(log)}` : ''),
        { cause: error },
      );
    }
  }
}
