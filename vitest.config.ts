import { fileURLToPath } from 'node:url';
import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';
import { CHROMIUM_ARGS, CHROMIUM_BINARY } from './test/browser-env/engines';
import { puppeteerFirefox } from './test/browser-env/firefox-provider';
import { webkitgtk } from './test/browser-env/webkit-provider';

// Which engines run a test file follows from its name, not from a list:
// - `*.shared.test.ts`: the core and snapshot suites, run in Node (fake-indexeddb) and in each real engine, where
//   test/helpers.ts gives them the engine's own IndexedDB. A new suite that should run everywhere only needs the name.
// - `*.browser.test.ts`: needs a real engine (OPFS, transaction lifetime): test/browser/ for the library's own
//   browser tests, test/platform/ for probes of the platform facts the design depends on.
// - any other `*.test.ts`: Node only. The codec's unit tests compare with V8's structuredClone and stay there;
//   snapshots.shared.test.ts round-trips the same kinds of values through each engine's IndexedDB.
const browserInclude = ['test/**/*.shared.test.ts', 'test/**/*.browser.test.ts'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.browser.test.ts', 'node_modules/**'],
          environment: 'node',
          setupFiles: ['test/setup-node.ts'],
        },
      },
      {
        // Type tests: vitest runs tsc over test/types and reports each expectTypeOf and @ts-expect-error as a test.
        test: {
          name: 'types',
          include: [],
          typecheck: {
            enabled: true,
            only: true,
            include: ['test/types/**/*.test-d.ts'],
            tsconfig: './tsconfig.json',
          },
        },
      },
      {
        // One project per engine, selected with --project chromium|firefox|webkit (or all: --project browser).
        test: {
          name: 'browser',
          include: browserInclude,
          setupFiles: ['test/setup-browser.ts'],
          // Real engines are slower than fake-indexeddb, and property tests open many databases.
          testTimeout: 60_000,
          browser: {
            enabled: true,
            // No Vitest UI, no failure screenshots: nothing visual to show, and the Firefox
            // provider has no screenshot command.
            ui: false,
            screenshotFailures: false,
            instances: [
              {
                name: 'chromium',
                browser: 'chromium',
                headless: true,
                provider: playwright({
                  launchOptions: { executablePath: CHROMIUM_BINARY, args: [...CHROMIUM_ARGS] },
                }),
              },
              {
                name: 'firefox',
                browser: 'firefox',
                headless: true,
                provider: puppeteerFirefox(),
              },
              {
                name: 'webkit',
                browser: 'safari',
                // WebKitGTK has no headless mode: it runs on the Xvfb display the global setup starts
                // together with WebKitWebDriver (only when this project has tests to run).
                headless: false,
                provider: webkitgtk(),
                globalSetup: [fileURLToPath(new URL('test/browser-env/webkit-global-setup.ts', import.meta.url))],
              },
            ],
          },
        },
      },
    ],
  },
});
