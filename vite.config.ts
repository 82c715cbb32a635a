import { defineConfig } from 'vite';

// Library build: one ESM entry, no runtime dependencies to externalize.
// Tests are configured in vitest.config.ts.
export default defineConfig({
  build: {
    target: 'es2022',
    lib: {
      entry: { index: 'src/index.ts', testing: 'src/testing.ts' },
      formats: ['es'],
    },
    sourcemap: true,
    minify: false,
  },
});
