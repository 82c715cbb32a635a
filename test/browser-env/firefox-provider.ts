// A small vitest browser provider for stock Firefox ESR on puppeteer-core over WebDriver BiDi.
// playwright-core cannot drive a stock Firefox and no geckodriver is installed, so neither
// official provider works here. This one only opens pages: user-event commands (click, type,
// ...) are not implemented, which the IndexedDB/OPFS tests do not need.
import { defineBrowserProvider } from '@vitest/browser';
import puppeteer, { type Browser, type BrowserContext, type Page } from 'puppeteer-core';
import type { BrowserProvider, BrowserProviderOption, TestProject } from 'vitest/node';
import { assertExecutable, FIREFOX_BINARY } from './engines';
import { recordPid, runSubdir } from './run-dir';

export interface PuppeteerFirefoxOptions {
  /** Firefox binary. Default `/usr/bin/firefox-esr`. */
  executablePath?: string;
  /** Extra command-line arguments. */
  args?: string[];
  /** Extra `about:config` preferences for the fresh profile. */
  prefs?: Record<string, unknown>;
  /** How long launching may take, in ms. Default 30 000. */
  launchTimeout?: number;
}

/** Vitest browser provider running Firefox ESR through puppeteer-core (WebDriver BiDi). */
export function puppeteerFirefox(
  options: PuppeteerFirefoxOptions = {},
): BrowserProviderOption<PuppeteerFirefoxOptions> {
  return defineBrowserProvider({
    name: 'puppeteer',
    supportedBrowser: ['firefox'],
    options,
    providerFactory: (project) => new PuppeteerFirefoxProvider(project, options),
  });
}

class PuppeteerFirefoxProvider implements BrowserProvider {
  readonly name = 'puppeteer';
  // Each session gets its own BiDi user context (separate storage), so files may run in parallel.
  readonly supportsParallelism = true;
  readonly #project: TestProject;
  readonly #options: PuppeteerFirefoxOptions;
  #browser: Promise<Browser> | undefined;
  readonly #contexts = new Map<string, BrowserContext>();
  readonly #pages = new Map<string, Page>();
  #closing = false;

  constructor(project: TestProject, options: PuppeteerFirefoxOptions) {
    this.#project = project;
    this.#options = options;
    // The browser client calls this after tests that used the keyboard; nothing to release here.
    const register = project.browser?.registerCommand as ((name: string, command: () => void) => void) | undefined;
    register?.call(project.browser, '__vitest_cleanup', () => {});
    // Vitest creates every provider up front but runs providers without a module mocker (this one)
    // after the others: starting Firefox now overlaps its ~3 s launch with the other engines' tests.
    // A failed launch is reported (and retried once) by openPage.
    this.#launch().catch(() => {});
  }

  getCommandsContext(sessionId: string): Record<string, unknown> {
    return { page: this.#pages.get(sessionId), context: this.#contexts.get(sessionId) };
  }

  #launch(): Promise<Browser> {
    this.#browser ??= (async () => {
      const executablePath = this.#options.executablePath ?? FIREFOX_BINARY;
      assertExecutable(executablePath, 'Firefox ESR', 'firefox-esr');
      const headless = this.#project.config.browser.headless;
      try {
        const browser = await puppeteer.launch({
          browser: 'firefox',
          executablePath,
          headless,
          userDataDir: runSubdir('firefox-profile'),
          args: this.#options.args ?? [],
          extraPrefsFirefox: this.#options.prefs ?? {},
          timeout: this.#options.launchTimeout ?? 30_000,
        });
        recordPid('firefox', browser.process()?.pid);
        return browser;
      } catch (error) {
        this.#browser = undefined;
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(
          `Firefox ESR (${executablePath}, headless: ${headless}) failed to launch through ` +
            `puppeteer-core / WebDriver BiDi: ${reason}`,
          { cause: error },
        );
      }
    })();
    return this.#browser;
  }

  async openPage(sessionId: string, url: string): Promise<void> {
    if (this.#closing) throw new Error('[firefox provider] The provider was closed.');
    const browser = await this.#launch();
    await this.#pages.get(sessionId)?.close();
    let context = this.#contexts.get(sessionId);
    if (!context) {
      context = await browser.createBrowserContext();
      this.#contexts.set(sessionId, context);
    }
    const page = await context.newPage();
    this.#pages.set(sessionId, page);
    await page.goto(url, { timeout: 60_000 });
  }

  async close(): Promise<void> {
    this.#closing = true;
    const pending = this.#browser;
    this.#browser = undefined;
    this.#pages.clear();
    this.#contexts.clear();
    if (!pending) return;
    const browser = await pending.catch(() => undefined);
    // Closing the browser closes every context and page with it.
    await browser?.close();
  }
}
