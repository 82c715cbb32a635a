// Size budget: bundles what an app imports (min + gzip) and fails when a budget in package.json is exceeded.
// Run after changes that add code to the core; CI runs it as part of `npm test`.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = fileURLToPath(new URL('..', import.meta.url));
const { sizeBudget } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const entries = {
  // What every app pays: open with a plan. Snapshots are passed in (snapshotPolicy) and are not part of it.
  core: "export { definePlan, openDatabase } from './src/index.ts';",
  // What an app that snapshots before upgrading pays (the usual case).
  'core+snapshots': "export { definePlan, openDatabase, snapshotPolicy } from './src/index.ts';",
  // Everything the main entry exports.
  full: "export * from './src/index.ts';",
  testing: "export * from './src/testing/index.ts';",
};
let failed = 0;
for (const [name, code] of Object.entries(entries)) {
  const output = await build({
    root,
    logLevel: 'silent',
    configFile: false,
    build: { write: false, minify: true, lib: { entry: 'entry', formats: ['es'] }, rollupOptions: { input: 'entry' } },
    plugins: [
      { name: 'entry', resolveId: (id) => (id === 'entry' ? id : null), load: (id) => (id === 'entry' ? code : null) },
    ],
  });
  const js = output[0].output.map((chunk) => chunk.code ?? '').join('');
  const gzip = gzipSync(js).length;
  const budget = sizeBudget?.[name];
  const ok = budget === undefined || gzip <= budget;
  if (!ok) failed++;
  console.log(
    `SIZE ${name}: ${(gzip / 1024).toFixed(2)} KiB min+gzip (${js.length} bytes min)${budget === undefined ? '' : ` budget ${(budget / 1024).toFixed(2)} KiB ${ok ? 'ok' : 'OVER'}`}`,
  );
}
process.exit(failed === 0 ? 0 : 1);
