import Dexie from 'dexie';
import { openDB } from 'idb';
import localforage from 'localforage';
import { describe, expect, test } from 'vitest';
import {
  copyStore,
  definePlan,
  memorySnapshotStorage,
  openDatabase,
  type Plan,
  type VersionDefinition,
  protectUpgrade,
  snapshotDatabase,
  snapshotPolicy,
  exportSnapshot,
  updateRecords,
  localForageOpen,
} from '../src/index.js';
import { adoptDatabase, adoptSnapshot, baselinePlan } from '../src/tooling/index.js';
import { OptionsError } from '../src/index.js';
import { dump } from './helpers.js';
import { loadPouchDB, unique } from './libraries.js';

/** Runs the generated module: the code an app would paste must define the same plan. */
function evaluatePlan(code: string): Plan {
  const body = code.replace(/^import .*$/m, '').replace('export const plan =', 'return');
  return new Function('definePlan', body)(definePlan) as Plan;
}

function environment() {
  const storage = memorySnapshotStorage();
  return { storage, options: { snapshots: snapshotPolicy({ storage }) } };
}

interface Friend {
  id?: number;
  name: string;
  tags: string[];
  born: Date;
  photo: Blob;
}

async function dexieApp(name: string): Promise<void> {
  const db = new Dexie(name) as Dexie & { friends: Dexie.Table<Friend, number> };
  db.version(2).stores({ friends: '++id, name, *tags, [name+born]', settings: '' });
  db.version(3).stores({ friends: '++id, name, *tags, [name+born]', settings: '', pets: 'name, &chip' });
  await db.friends.bulkAdd([
    { name: 'Ada', tags: ['math'], born: new Date(1815, 11, 10), photo: new Blob([new Uint8Array([1, 2, 3])]) },
    { name: 'Grace', tags: ['code', 'navy'], born: new Date(1906, 11, 9), photo: new Blob([]) },
  ]);
  await db.table('settings').put('dark', 'theme');
  db.close();
}

describe('adopting a database another library made', () => {
  test('a Dexie database: baseline at IndexedDB version 30, then an ordinary idb-evolve upgrade', async () => {
    const name = unique('adopt-dexie');
    await dexieApp(name);
    const before = await dump(indexedDB, name);
    const adopted = await adoptDatabase(name, { library: 'dexie' });
    expect(adopted).toMatchObject({ database: name, version: 30, library: 'dexie' });
    expect(adopted.notes[0]).toBe("Dexie: IndexedDB version 30 is Dexie's db.version(3) (Dexie multiplies by 10).");
    expect(adopted.baseline.stores).toEqual({
      friends: {
        keyPath: 'id',
        autoIncrement: true,
        indexes: { name: 'name', tags: { keyPath: 'tags', multiEntry: true }, '[name+born]': ['name', 'born'] },
      },
      settings: {},
      pets: { keyPath: 'name', indexes: { chip: { keyPath: 'chip', unique: true } } },
    });
    expect(adopted.code).toContain("'[name+born]': ['name', 'born'],");
    const baseline = evaluatePlan(adopted.code);
    expect(baseline.get(30)?.layout).toEqual(definePlan({ versions: [adopted.baseline] }).get(30)?.layout);

    // The baseline is what is installed: opening with it changes nothing and reports no drift.
    const { storage, options } = environment();
    const first = await openDatabase(name, baseline, options);
    expect(first.upgrade).toBeNull();
    expect(first.layout.differences).toEqual([]);
    first.db.close();
    expect(await dump(indexedDB, name)).toEqual(before);

    // The next release is an idb-evolve version like any other: snapshot, steps, new index.
    const friends = {
      ...adopted.baseline.stores.friends,
      indexes: { ...adopted.baseline.stores.friends?.indexes, nick: 'nick' },
    };
    const next = definePlan({
      versions: [
        adopted.baseline,
        {
          version: 31,
          stores: { ...adopted.baseline.stores, friends },
          steps: [updateRecords('friends', (f: Friend) => ({ ...f, nick: f.name.toLowerCase() }), { name: 'nick' })],
        },
      ],
    });
    const upgraded = await openDatabase(name, next, options);
    expect(upgraded.upgrade?.backup.status).toBe('taken');
    upgraded.db.close();
    const after = await dump(indexedDB, name);
    expect(after.version).toBe(31);
    expect(after.stores.settings).toEqual(before.stores.settings);
    expect(after.stores.pets).toEqual(before.stores.pets);
    // Every friend kept its key and fields (the photo's bytes too: dump shows them), with the nick added.
    expect(after.stores.friends?.records).toEqual(
      before.stores.friends?.records.map(([key, value]) => [
        key,
        { ...(value as Friend), nick: (value as Friend).name.toLowerCase() },
      ]),
    );
    expect((await storage.list()).length).toBe(1);
  });

  test("Dexie's schema patch: adopted at the patched version, with the arithmetic in the notes", async () => {
    const name = unique('adopt-patched');
    await dexieApp(name);
    const patched = new Dexie(name);
    patched.version(3).stores({ friends: '++id, name, *tags, [name+born], nick', settings: '', pets: 'name, &chip' });
    await patched.open();
    patched.close();
    const adopted = await adoptDatabase(name, { library: 'dexie' });
    expect(adopted.version).toBe(31);
    expect(adopted.notes).toEqual([
      "Dexie: IndexedDB version 31 is Dexie's db.version(3.1) (Dexie multiplies by 10), or a lower version Dexie patched (it adds 1 when tables or indexes were declared without a version bump).",
      'Declare the next version as 32 or higher; a multiple of 10 (40) while Dexie code may still open the database on some devices.',
    ]);
    const { options } = environment();
    const opened = await openDatabase(name, evaluatePlan(adopted.code), options);
    expect([opened.upgrade, opened.layout.differences]).toEqual([null, []]);
    opened.db.close();
  });

  test("Dexie's $meta store (a patch onto a multiple of 10) is found, kept in the baseline, and named in the notes", async () => {
    const name = unique('adopt-meta');
    const old = new Dexie(name);
    old.version(3.9).stores({ notes: '++id' });
    await old.open();
    old.close();
    const patched = new Dexie(name);
    patched.version(3.9).stores({ notes: '++id, title' });
    await patched.open();
    patched.close();
    const adopted = await adoptDatabase(name);
    expect(adopted).toMatchObject({ version: 40, library: 'dexie' });
    expect(adopted.baseline.stores.$meta).toEqual({});
    expect(adopted.notes[1]).toBe(
      "Its $meta store says Dexie's declared version is 3.9; $meta only records Dexie's schema patches: a later version may leave it out (drop it).",
    );
    const { options } = environment();
    const opened = await openDatabase(name, evaluatePlan(adopted.code), options);
    expect([opened.upgrade, opened.layout.differences]).toEqual([null, []]);
    opened.db.close();
  });

  test('from a snapshot file (the CLI path): the same baseline as from the database', async () => {
    const name = unique('adopt-file');
    await dexieApp(name);
    const { storage } = environment();
    const snapshot = await snapshotDatabase(name, { storage });
    const file = await exportSnapshot(snapshot.id, { storage });
    const fromFile = await adoptSnapshot(file, { library: 'dexie' });
    const fromDatabase = await adoptDatabase(name, { library: 'dexie' });
    expect(fromFile.code).toBe(fromDatabase.code);
    // A damaged file is refused, not adopted.
    const bytes = new Uint8Array(await file.arrayBuffer());
    await expect(adoptSnapshot(new Blob([bytes.slice(0, bytes.length - 40)]))).rejects.toMatchObject({
      name: 'SnapshotError',
    });
  });

  test('a localForage database: adopted, then upgraded by a step over its key-value store', async () => {
    const name = unique('adopt-lf');
    const store = localforage.createInstance({ name, storeName: 'keyvaluepairs' });
    const { options } = environment();
    await protectUpgrade(localForageOpen(store), options);
    await store.setItem('draft:1', { text: 'hello', at: new Date(2026, 0, 1) });
    await store.setItem('count', 3);
    const before = await dump(indexedDB, name);
    const adopted = await adoptDatabase(name);
    expect(adopted.library).toBe('localforage');
    expect(adopted.baseline.stores.keyvaluepairs).toEqual({});
    // Untyped versions: the baseline's stores are only known at run time.
    const versions: VersionDefinition[] = [
      adopted.baseline,
      {
        version: adopted.version + 1,
        stores: { drafts: { keyPath: 'id' } },
        steps: [
          copyStore('keyvaluepairs', 'drafts', (value: unknown, key) =>
            String(key).startsWith('draft:') ? { id: key, ...(value as object) } : { id: key, value },
          ),
        ],
      },
    ];
    const next = definePlan({ versions });
    (await openDatabase(name, next, options)).db.close();
    const after = await dump(indexedDB, name);
    expect(Object.keys(after.stores)).toEqual(['drafts']);
    expect(after.stores.drafts?.records).toEqual([
      ['count', { id: 'count', value: 3 }],
      ['draft:1', { id: 'draft:1', text: 'hello', at: new Date(2026, 0, 1) }],
    ]);
    expect(before.stores.keyvaluepairs?.records.length).toBe(2);
  });

  test('a PouchDB database written by its own API: adopted at version 5, its revisions copied out by a plan', async () => {
    const PouchDB = await loadPouchDB();
    const name = unique('adopt-pouch');
    const pouch = new PouchDB(name);
    await pouch.put({ _id: 'n1', text: 'hello' });
    await pouch.put({ ...(await pouch.get('n1')), text: 'hello again' });
    await pouch.put({ _id: 'n2', text: 'second' });
    await pouch.close();
    const adopted = await adoptDatabase(`_pouch_${name}`);
    expect(adopted).toMatchObject({ version: 5, library: 'pouchdb' });
    expect(adopted.baseline.stores['by-sequence']).toEqual({
      autoIncrement: true,
      indexes: { _doc_id_rev: { keyPath: '_doc_id_rev', unique: true } },
    });
    const before = await dump(indexedDB, `_pouch_${name}`);
    const versions: VersionDefinition[] = [
      adopted.baseline,
      {
        version: 6,
        stores: { ...adopted.baseline.stores, revisions: { keyPath: 'id' } },
        steps: [
          copyStore('by-sequence', 'revisions', (body: { _doc_id_rev: string }) => ({
            ...body,
            id: body._doc_id_rev,
          })),
        ],
      },
    ];
    const next = definePlan({ versions });
    const { options } = environment();
    (await openDatabase(`_pouch_${name}`, next, options)).db.close();
    const after = await dump(indexedDB, `_pouch_${name}`);
    for (const store of Object.keys(before.stores)) expect(after.stores[store]).toEqual(before.stores[store]);
    expect(after.stores.revisions?.records.map(([, v]) => (v as { text: string }).text).sort()).toEqual([
      'hello',
      'hello again',
      'second',
    ]);
  });

  test('an idb app: adopted at its version, then a version adding an index and a field', async () => {
    const name = unique('adopt-idb');
    const db = await openDB(name, 3, {
      upgrade: (database) => {
        const store = database.createObjectStore('events', { keyPath: ['day', 'seq'] });
        store.createIndex('byKind', 'kind');
        database.createObjectStore('blobs');
      },
    });
    await db.put('events', { day: '2026-12-01', seq: 1, kind: 'open' });
    await db.put('events', { day: '2026-12-01', seq: 2, kind: 'close' });
    await db.put('blobs', new Blob([new Uint8Array([9, 8, 7])], { type: 'x/y' }), 'b1');
    db.close();
    const before = await dump(indexedDB, name);
    const adopted = await adoptDatabase(name);
    expect(adopted.library).toBe('other');
    expect(adopted.baseline).toEqual({
      version: 3,
      stores: { blobs: {}, events: { keyPath: ['day', 'seq'], indexes: { byKind: 'kind' } } },
    });
    const versions: VersionDefinition[] = [
      adopted.baseline,
      {
        version: 4,
        stores: {
          blobs: {},
          events: { keyPath: ['day', 'seq'], indexes: { byKind: 'kind', byDay: 'day' } },
        },
        steps: [updateRecords('events', (e: object) => ({ ...e, source: 'adopted' }), { name: 'source' })],
      },
    ];
    const { options } = environment();
    (await openDatabase(name, definePlan({ versions }), options)).db.close();
    const after = await dump(indexedDB, name);
    expect(after.stores.blobs).toEqual(before.stores.blobs);
    expect(after.stores.events?.records).toEqual(
      before.stores.events?.records.map(([key, value]) => [key, { ...(value as object), source: 'adopted' }]),
    );
    expect(Object.keys(after.stores.events?.indexes ?? {}).sort()).toEqual(['byDay', 'byKind']);
  });

  test('a plain layout (idb app): library "other"; the code is a module that imports from idb-evolve', () => {
    const adopted = baselinePlan(
      {
        database: "it's",
        version: 3,
        layout: { notes: { keyPath: ['a', 'b'], autoIncrement: false, indexes: {} } },
      },
      { exportName: 'appPlan', importFrom: '@app/idb-evolve' },
    );
    expect(adopted.library).toBe('other');
    expect(adopted.code).toContain("import { definePlan } from '@app/idb-evolve';");
    expect(adopted.code).toContain('export const appPlan = definePlan({');
    expect(adopted.code).toContain(`database 'it\\'s'`);
    expect(adopted.notes).toEqual(['Declare the next version as 4 or higher.']);
    expect(() => baselinePlan({ database: 'x', version: 1, layout: {} }, { exportName: 'not valid' })).toThrow(
      OptionsError,
    );
  });
});
