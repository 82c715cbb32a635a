import { defineConfig } from 'vite';

// Library build: the main entry, the development tools (`idb-evolve/tooling`), the testing kit, and the commands
// the idb-evolve-history and idb-evolve-adopt bins run (dist/cli.js, not a package export), sharing chunks of code; no runtime
// dependencies to externalize. Left unminified: apps minify, and readable stack traces help users. Tests: vitest.config.ts.
export default defineConfig({
  build: {
    target: 'es2022',
    lib: {
      entry: {
        index: 'src/index.ts',
        tooling: 'src/tooling/index.ts',
        testing: 'src/testing/index.ts',
        cli: 'src/cli/index.ts',
      },
      formats: ['es'],
    },
    rollupOptions: { output: { chunkFileNames: 'shared-[hash].js' } },
    sourcemap: true,
    minify: false,
  },
});
