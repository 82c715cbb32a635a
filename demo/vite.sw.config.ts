import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The demo's service worker for a production build: one self-contained file, `sw.js`, at the root of the build (so
// its scope covers the page), with no imports left. A single file registers in every engine, as a module or a
// classic worker; the dev server serves /sw.ts instead. `npm run demo:build` runs this after demo/vite.config.ts.
const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  clearScreen: false,
  publicDir: false,
  build: {
    target: 'es2022',
    outDir: `${root}dist`,
    emptyOutDir: false,
    lib: { entry: `${root}sw.ts`, formats: ['es'], fileName: () => 'sw.js' },
  },
});
