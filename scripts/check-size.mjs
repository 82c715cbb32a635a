// Size budget: bundles what an app imports from the built package (dist/, as npm ships it), minified and gzipped
// the way an app's bundler would, and fails when a budget in package.json is exceeded. Builds first when dist/ is
// missing or older than the sources. CI runs it as the last step of `npm test`.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';

const root = fileURLToPath(new URL('..', import.meta.url));
const { sizeBudget } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const dist = (file) => JSON.stringify(join(root, 'dist', file));
const entries = {
  // What every app pays: open with a plan. Snapshots are passed in (snapshotPolicy) and are not part of it.
  core: `export { definePlan, openDatabase } from ${dist('index.js')};`,
  // What an app that snapshots before upgrading pays (the usual case).
  'core+snapshots': `export { definePlan, openDatabase, snapshotPolicy } from ${dist('index.js')};`,
  // Everything the main entry exports.
  full: `export * from ${dist('index.js')};`,
  // The development-time entries, for scale: they never reach an app bundle.
  tooling: `export * from ${dist('tooling.js')};`,
  testing: `export * from ${dist('testing.js')};`,
};

/** Newest modification time of a file or of any file below a directory (0 when absent). */
function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

/** Oldest modification time of the built entries (0 when one is missing). */
function oldestBuilt() {
  const times = ['index.js', 'tooling.js', 'testing.js', 'index.d.ts'].map((file) => newest(join(root, 'dist', file)));
  return Math.min(...times);
}

const sources = Math.max(
  ...['src', 'vite.config.ts', 'tsconfig.json', 'tsconfig.build.json', 'package.json'].map((p) =>
    newest(join(root, p)),
  ),
);
if (oldestBuilt() < sources) {
  console.log('dist/ is missing or older than the sources: npm run build');
  const result = spawnSync('npm', ['run', 'build'], {
    cwd: root,
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

let failed = 0;
for (const [name, code] of Object.entries(entries)) {
  const output = await build({
    root,
    logLevel: 'silent',
    configFile: false,
    build: {
      write: false,
      minify: true,
      target: 'es2022',
      lib: { entry: 'entry', formats: ['es'] },
      rollupOptions: { input: 'entry' },
    },
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
