import { describe, expect, test, vi } from 'vitest';
import {
  defaultValue,
  definePlan,
  openDatabase,
  OpenError,
  PlanError,
  UpgradeError,
  type DatabaseLayout,
  type VersionDefinition,
} from '../src/index.js';
import { dump, fakeEnvironment, openAndClose, plan, seedDatabase } from './helpers.js';

const notes: DatabaseLayout = { notes: { keyPath: 'id', indexes: { byTitle: 'title' } } };

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

/** Creates `name` at `version` with whatever layout `build` makes and `records` in `store`: what other code left. */
async function createRaw(
  factory: IDBFactory,
  name: string,
  version: number,
  build: (db: IDBDatabase) => void,
  records: Record<string, unknown[]> = {},
): Promise<void> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = factory.open(name, version);
    request.onupgradeneeded = () => {
      build(request.result);
      for (const [store, list] of Object.entries(records)) {
        for (const record of list) request.transaction!.objectStore(store).put(record);
      }
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  db.close();
}

describe('drift: a layout changed without a version bump is caught on the next open', () => {
  const released = plan({ version: 1, stores: { notes: { keyPath: 'id' } } }, { version: 2, stores: notes });
  // The same version 2, edited after release: an index added, and the version not bumped.
  const edited = plan(
    { version: 1, stores: { notes: { keyPath: 'id' } } },
    { version: 2, stores: { notes: { keyPath: 'id', indexes: { byTitle: 'title', byTag: 'tag' } } } },
  );

  test('rejects with OpenError layout_drift naming each difference; the connection is closed, the data kept', async () => {
    const { factory, options } = fakeEnvironment();
    await seedDatabase('db', released, 2, { notes: [{ id: 1, title: 'a' }] }, options);
    const before = await dump(factory, 'db');
    const error = await rejection(openDatabase('db', edited, options));
    expect(error).toBeInstanceOf(OpenError);
    expect(error).toMatchObject({
      name: 'OpenError',
      code: 'layout_drift',
      version: 2,
      oldVersion: 2,
      differences: [{ store: 'notes', index: 'byTag', property: 'index', expected: true, found: false }],
    });
    expect((error as Error).message).toMatch(
      /^"db" is at version 2 but its layout is not the one the plan declares for it \(was the layout changed without a version bump\?\): index "notes.byTag": expected present, found absent/,
    );
    expect(await dump(factory, 'db')).toEqual(before);
    // Closed: deleting the database completes (an open connection would hold it up until the test times out).
    await new Promise<void>((resolve, reject) => {
      const request = factory.deleteDatabase('db');
      request.onsuccess = () => resolve();
      request.onerror = () => reject(request.error);
    });
    expect(await factory.databases()).toEqual([]);
  });

  test('key path, key generator and index options count too', async () => {
    const { factory, options } = fakeEnvironment();
    await createRaw(factory, 'db', 2, (db) => {
      db.createObjectStore('notes', { keyPath: 'uuid', autoIncrement: true }).createIndex('byTitle', 'title', {
        unique: true,
      });
    });
    const error = (await rejection(openDatabase('db', released, options))) as OpenError;
    expect(error.code).toBe('layout_drift');
    expect(error.differences).toEqual([
      { store: 'notes', property: 'keyPath', expected: 'id', found: 'uuid' },
      { store: 'notes', property: 'autoIncrement', expected: false, found: true },
      { store: 'notes', index: 'byTitle', property: 'unique', expected: false, found: true },
    ]);
  });

  test('with onDrift the drift is reported there and the open resolves', async () => {
    const { options } = fakeEnvironment();
    await seedDatabase('db', released, 2, {}, options);
    const onDrift = vi.fn();
    const { db, layout, upgrade } = await openDatabase('db', edited, { ...options, onDrift });
    db.close();
    expect(upgrade).toBeNull();
    const drift = { version: 2, alternative: null, differences: [expect.objectContaining({ index: 'byTag' })] };
    expect(onDrift).toHaveBeenCalledExactlyOnceWith(drift);
    expect(layout).toEqual(drift);
  });

  test('an open whose layout matches reports it; an upgrade reports the layout it checked', async () => {
    const { options } = fakeEnvironment();
    await seedDatabase('db', released, 1, {}, options);
    const upgraded = await openDatabase('db', released, options);
    upgraded.db.close();
    expect(upgraded.layout).toEqual({ version: 2, alternative: null, differences: [] });
    const again = await openDatabase('db', released, options);
    again.db.close();
    expect(again.upgrade).toBeNull();
    expect(again.layout).toEqual({ version: 2, alternative: null, differences: [] });
  });

  test('onDrift must be a function', async () => {
    const { options } = fakeEnvironment();
    await expect(openDatabase('db', released, { ...options, onDrift: 'warn' as never })).rejects.toMatchObject({
      name: 'OptionsError',
      option: 'onDrift',
    });
  });
});

describe('alternative layouts: the same version reached by different paths', () => {
  // A real history: releases 1-2 were hand-written IndexedDB code. Databases created at version 2 never had the
  // legacy index nor the cache store; databases upgraded from version 1 kept both, and their notes lack `tag`.
  const v2: DatabaseLayout = { notes: { keyPath: 'id', indexes: { byTitle: 'title' } } };
  const upgradedFromV1: DatabaseLayout = {
    notes: { keyPath: 'id', indexes: { byTitle: 'title', legacy: 'old' } },
    cache: {},
  };
  const versions = (extra: VersionDefinition[] = []) =>
    definePlan({
      versions: [
        { version: 1, stores: { notes: { keyPath: 'id', indexes: { legacy: 'old' } }, cache: {} } },
        {
          version: 2,
          stores: v2,
          alternatives: [
            {
              name: 'upgraded from 1',
              stores: upgradedFromV1,
              steps: [defaultValue('notes', 'tag', 'none')],
            },
          ],
        },
        ...extra,
      ],
    });
  const v3: VersionDefinition = {
    version: 3,
    stores: { notes: { keyPath: 'id', indexes: { byTitle: 'title', byTag: 'tag' } } },
  };

  async function oldPathDatabase(factory: IDBFactory): Promise<void> {
    await createRaw(
      factory,
      'db',
      2,
      (db) => {
        const store = db.createObjectStore('notes', { keyPath: 'id' });
        store.createIndex('byTitle', 'title');
        store.createIndex('legacy', 'old');
        db.createObjectStore('cache');
      },
      { notes: [{ id: 1, title: 'a', old: 1 }] },
    );
  }

  test('an open at that version accepts the alternative and names it', async () => {
    const { factory, options } = fakeEnvironment();
    await oldPathDatabase(factory);
    const { db, layout, upgrade } = await openDatabase('db', versions(), options);
    db.close();
    expect(upgrade).toBeNull();
    expect(layout).toEqual({ version: 2, alternative: 'upgraded from 1', differences: [] });
  });

  test('the next upgrade first brings the alternative to the declared layout, with its steps, then goes on', async () => {
    const { factory, options } = fakeEnvironment();
    await oldPathDatabase(factory);
    const report = await openAndClose('db', versions([v3]), options);
    expect(report?.versions.map((v) => [v.version, v.alternative, v.indexesDeleted, v.storesDeleted])).toEqual([
      [2, 'upgraded from 1', ['notes.legacy'], ['cache']],
      [3, undefined, [], []],
    ]);
    expect(report?.versions[0]?.steps.map((s) => [s.name, s.updated])).toEqual([['defaultValue(notes: tag)', 1]]);
    const after = await dump(factory, 'db');
    expect(after.version).toBe(3);
    expect(Object.keys(after.stores)).toEqual(['notes']);
    expect(after.stores.notes?.records).toEqual([[1, { id: 1, title: 'a', old: 1, tag: 'none' }]]);
    expect(Object.keys(after.stores.notes?.indexes ?? {})).toEqual(['byTag', 'byTitle']);
  });

  test('a database created at version 2 by the plan takes the declared path: the same data in the end', async () => {
    const { factory, options } = fakeEnvironment();
    await seedDatabase('db', versions(), 2, { notes: [{ id: 1, title: 'a', old: 1, tag: 'none' }] }, options);
    const report = await openAndClose('db', versions([v3]), options);
    expect(report?.versions.map((v) => v.version)).toEqual([3]);
    expect((await dump(factory, 'db')).stores.notes?.records).toEqual([
      [1, { id: 1, title: 'a', old: 1, tag: 'none' }],
    ]);
  });

  test('a layout that is none of them is refused before anything changes', async () => {
    const { factory, options } = fakeEnvironment();
    await createRaw(factory, 'db', 2, (db) => {
      db.createObjectStore('notes', { keyPath: 'id' }).createIndex('other', 'x');
    });
    const before = await dump(factory, 'db');
    const error = await rejection(openDatabase('db', versions([v3]), options));
    expect(error).toBeInstanceOf(UpgradeError);
    expect(error).toMatchObject({ code: 'layout_mismatch', version: 2 });
    expect((error as UpgradeError).differences).toEqual([
      { store: 'notes', index: 'byTitle', property: 'index', expected: true, found: false },
      { store: 'notes', index: 'other', property: 'index', expected: false, found: true },
    ]);
    expect(await dump(factory, 'db')).toEqual(before);
    expect(await rejection(openDatabase('db', versions(), options))).toMatchObject({ code: 'layout_drift' });
  });

  test('alternatives are checked when the plan is defined', () => {
    const base = { version: 1, stores: { notes: { keyPath: 'id' } } };
    const defineWith = (alternatives: unknown) =>
      definePlan({ versions: [base, { version: 2, stores: notes, alternatives } as VersionDefinition] });
    expect(() => defineWith([{ stores: notes }])).toThrow(PlanError);
    expect(() =>
      defineWith([
        { name: 'a', stores: notes },
        { name: 'a', stores: notes },
      ]),
    ).toThrow(/needs a name of its own/);
    expect(() => defineWith([{ name: 'a', stores: { notes: { keyPath: 'uuid' } } }])).toThrow(
      expect.objectContaining({ code: 'key_path_changed', store: 'notes' }),
    );
    expect(() => defineWith([{ name: 'a', stores: notes, steps: [defaultValue('missing', 'x', 1)] }])).toThrow(
      expect.objectContaining({ code: 'unknown_store', store: 'missing' }),
    );
  });
});
