import { spawnSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Dexie from 'dexie';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { exportSnapshot, snapshotDatabase } from '../src/index.js';
import { adoptDatabase, runAdoptCommand } from '../src/tooling/index.js';
import { builtCopy } from './built-package.js';
import { fakeEnvironment } from './helpers.js';

/** A Dexie database's snapshot file, and the code adoptDatabase writes for the database itself. */
async function dexieSnapshot(): Promise<{ bytes: Uint8Array; code: string }> {
  const { factory, storage, options } = fakeEnvironment();
  const idb = { indexedDB: factory, IDBKeyRange: options.IDBKeyRange };
  const db = new Dexie('friends', idb);
  db.version(2).stores({ friends: '++id, name, *tags', 'odd-name': '' });
  await db.table('friends').add({ name: 'Ada', tags: ['math'] });
  db.close();
  const snapshot = await snapshotDatabase('friends', { ...idb, storage });
  const file = await exportSnapshot(snapshot.id, { storage });
  const { code } = await adoptDatabase('friends', { ...idb, library: 'dexie' });
  return { bytes: new Uint8Array(await file.arrayBuffer()), code };
}

function memoryIo(files: Record<string, Uint8Array>) {
  const out: string[] = [];
  const err: string[] = [];
  const written: Record<string, string> = {};
  return {
    out,
    err,
    written,
    io: {
      readFile: async (path: string) => {
        const file = files[path];
        if (file === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
        return file;
      },
      writeFile: async (path: string, text: string) => {
        written[path] = text;
      },
      out: (text: string) => out.push(text),
      err: (text: string) => err.push(text),
    },
  };
}

describe('runAdoptCommand', () => {
  test('prints the same plan module as adoptDatabase, or writes it with --out', async () => {
    const { bytes, code } = await dexieSnapshot();
    const printed = memoryIo({ 'friends.ndjson.gz': bytes });
    expect(await runAdoptCommand(['friends.ndjson.gz', '--library', 'dexie'], printed.io)).toBe(0);
    expect(printed.out).toEqual([code.trimEnd()]);
    expect(code).toContain("'odd-name': {},");
    const toFile = memoryIo({ 'friends.ndjson.gz': bytes });
    expect(
      await runAdoptCommand(
        ['friends.ndjson.gz', '--library', 'dexie', '--export', 'friendsPlan', '--out', 'plan.ts'],
        toFile.io,
      ),
    ).toBe(0);
    expect(toFile.written['plan.ts']).toBe(code.replace('export const plan =', 'export const friendsPlan ='));
    expect(toFile.err).toEqual(['Wrote plan.ts.']);
  });

  test('usage errors exit 2; a missing or damaged file exits 1 and says why', async () => {
    const { bytes } = await dexieSnapshot();
    const files = { good: bytes, damaged: bytes.slice(0, bytes.length - 30) };
    const cases: [string[], number, RegExp][] = [
      [[], 2, /^idb-evolve-adopt: missing snapshot file\n\nUsage:/],
      [['a', 'b'], 2, /give one snapshot file/],
      [['good', '--library', 'sqlite'], 2, /--library must be one of dexie, localforage, pouchdb, other/],
      [['good', '--export', 'not valid'], 2, /`exportName` must be an identifier/],
      [['good', '--wat', 'x'], 2, /unknown option "--wat"/],
      [['good', '--out'], 2, /"--out" needs a value/],
      [['missing'], 1, /^idb-evolve-adopt: missing: ENOENT/],
      [['damaged'], 1, /^idb-evolve-adopt: damaged: /],
    ];
    for (const [args, status, message] of cases) {
      const run = memoryIo(files);
      expect(await runAdoptCommand(args, run.io), args.join(' ')).toBe(status);
      expect(run.err.join('\n')).toMatch(message);
      expect(run.out).toEqual([]);
    }
  });
});

describe('the idb-evolve-adopt bin', { timeout: 60_000 }, () => {
  let copy: string;

  beforeAll(async () => {
    copy = await builtCopy('idb-evolve-adopt-', ['idb-evolve-adopt.mjs']);
  }, 60_000);

  afterAll(async () => {
    if (copy !== undefined) await rm(copy, { recursive: true, force: true });
  });

  test('reads a snapshot file from disk and writes the plan module', async () => {
    const { bytes, code } = await dexieSnapshot();
    await writeFile(join(copy, 'friends.ndjson.gz'), bytes);
    const result = spawnSync(
      process.execPath,
      ['bin/idb-evolve-adopt.mjs', 'friends.ndjson.gz', '--library', 'dexie', '--out', 'plan.mjs'],
      { cwd: copy, encoding: 'utf8' },
    );
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: 'Wrote plan.mjs.\n' });
    const written = await readFile(join(copy, 'plan.mjs'), 'utf8');
    expect(written).toBe(code);
    // The module runs as written, against the built package.
    await writeFile(join(copy, 'plan.mjs'), written.replace("from 'idb-evolve'", "from './dist/index.js'"));
    const { plan } = await import(join(copy, 'plan.mjs'));
    expect(plan.latest).toBe(20);
    expect(Object.keys(plan.get(20).layout)).toEqual(['friends', 'odd-name']);
  });
});
