import { defineConfig } from 'vite';

// Library build: the main entry and the testing kit, sharing one chunk of code; no runtime dependencies to
// externalize. Left unminified: apps minify, and readable stack traces help users. Tests: vitest.config.ts.
export default defineConfig({
  build: {
    target: 'es2022',
    lib: {
      entry: { index: 'src/index.ts', testing: 'src/testing/index.ts' },
      formats: ['es'],
    },
    rollupOptions: { output: { chunkFileNames: 'shared-[hash].js' } },
    sourcemap: true,
    minify: false,
  },
});
