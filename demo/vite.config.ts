import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The manual-testing demo (`npm run demo`) and the page the e2e tests drive. It imports the library from ../src,
// so it always runs the working tree. The service worker is served by the dev server as /sw.ts (a module worker).
const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  clearScreen: false,
  server: {
    fs: { allow: [fileURLToPath(new URL('..', import.meta.url))] },
  },
  build: {
    target: 'es2022',
    rollupOptions: { input: { index: `${root}index.html`, away: `${root}away.html` } },
  },
  worker: { format: 'es' },
});
