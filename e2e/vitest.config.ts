import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// `npm run test:e2e`: Node-side tests that start the demo's dev server (or a production build) and drive Debian's
// Chromium with playwright-core, and Firefox ESR with puppeteer-core (tabs-firefox.e2e.test.ts). Files one after
// the other, scenarios in order, nothing in parallel (each Chromium scenario launches its own browser).
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    name: 'e2e',
    include: ['e2e/**/*.e2e.test.ts'],
    environment: 'node',
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 60_000,
    reporters: ['verbose'],
  },
});
