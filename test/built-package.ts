// The bins' tests run the real bin with Node on a build of the library. Node 20 cannot import the TypeScript
// sources, so the library is built (with the repository's vite.config.ts, so with its `cli` entry) into a temporary
// copy of the layout a bin imports from: dist/ and bin/.
import { copyFile, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

/** A temporary directory holding dist/ (built now) and the given bins/ files; the caller removes it. */
export async function builtCopy(prefix: string, bins: readonly string[]): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), prefix));
  const { build } = await import('vite');
  await build({
    root,
    configFile: join(root, 'vite.config.ts'),
    logLevel: 'silent',
    build: { outDir: join(copy, 'dist'), emptyOutDir: true, sourcemap: false },
  });
  await mkdir(join(copy, 'bin'));
  for (const bin of bins) await copyFile(join(root, 'bin', bin), join(copy, 'bin', bin));
  return copy;
}
