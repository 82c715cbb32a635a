import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The bench page, built like an app (production mode) and served on 127.0.0.1 by run.mjs. The library is imported
// from ../src, so the bench always measures the working tree. run.mjs sets build.outDir to a temp folder.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  logLevel: 'warn',
  build: {
    target: 'es2022',
    minify: false,
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: { host: '127.0.0.1', fs: { allow: [fileURLToPath(new URL('..', import.meta.url))] } },
  preview: { host: '127.0.0.1' },
});
