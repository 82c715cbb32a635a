import { defineConfig } from 'vitest/config';

// Library build: one ESM entry, no runtime dependencies to externalize.
export default defineConfig({
  build: {
    target: 'es2022',
    lib: {
      entry: { index: 'src/index.ts' },
      formats: ['es'],
    },
    sourcemap: true,
    minify: false,
  },
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          environment: 'node',
          setupFiles: ['test/setup-node.ts'],
        },
      },
    ],
  },
});
