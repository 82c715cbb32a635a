import { afterEach, describe, expect, test } from 'vitest';
import {
  definePlan,
  exportSnapshot,
  importSnapshot,
  indexedDBSnapshotStorage,
  listSnapshots,
  memorySnapshotStorage,
  openDatabase,
  pruneSnapshots,
  restoreSnapshot,
  SnapshotError,
  snapshotDatabase,
  snapshotPolicy,
  UpgradeError,
  updateRecords,
  verifySnapshot,
} from '../src/index.js';
import { dump, fakeEnvironment, realIndexedDB, sameBytes, seedDatabase, utf8 } from './helpers.js';

// Snapshot storages and the policy's options, in Node (fake-indexeddb) and in the three engines.
const v1 = { version: 1, stores: { notes: { keyPath: 'id' } } } as const;
const v2 = {
  version: 2,
  stores: v1.stores,
  steps: [
    updateRecords('notes', (n: { id: number; title: string }) => ({ ...n, title: n.title.toUpperCase() }), {
      name: 'upper',
    }),
  ],
} as const;
const plan1 = definePlan({ versions: [v1] });
const plan12 = definePlan({ versions: [v1, v2] });
const notes = [
  { id: 1, title: 'a' },
  { id: 2, title: 'b' },
];

async function seeded() {
  const env = fakeEnvironment();
  await seedDatabase('db', plan12, 1, { notes }, env.options);
  return env;
}

const connection = (env: ReturnType<typeof fakeEnvironment>) => ({
  indexedDB: env.options.indexedDB,
  IDBKeyRange: env.options.IDBKeyRange,
});

describe('IndexedDB snapshot storage', () => {
  test('a file is listed only once closed; an aborted one leaves nothing; content reads back byte for byte', async () => {
    const env = fakeEnvironment();
    const storage = indexedDBSnapshotStorage(connection(env));
    const sink = await storage.create('a.ndjson');
    expect(sink.writer).toBe('indexeddb');
    // More than one chunk (a chunk is about 1 MiB), with a last partial one.
    const big = new Uint8Array(2.5 * 2 ** 20).map((_, i) => i % 251);
    await sink.write(big.subarray(0, 2 ** 20 + 7));
    expect(await storage.list()).toEqual([]);
    await sink.write(big.subarray(2 ** 20 + 7));
    await sink.close();
    expect(await storage.list()).toEqual(['a.ndjson']);
    const read = await storage.read('a.ndjson');
    expect(read!.size).toBe(big.length);
    expect(sameBytes(new Uint8Array(await read!.arrayBuffer()), big)).toBe(true);
    const aborted = await storage.create('b.ndjson');
    await aborted.write(utf8('partial'));
    await aborted.abort();
    expect(await storage.list()).toEqual(['a.ndjson']);
    expect(await storage.read('b.ndjson')).toBeUndefined();
    await storage.delete('a.ndjson');
    expect(await storage.list()).toEqual([]);
    expect(await storage.read('a.ndjson')).toBeUndefined();
  });

  test('chunks a dead writer left (no entry, lock free) are swept by the next list', async () => {
    const env = fakeEnvironment();
    const storage = indexedDBSnapshotStorage(connection(env));
    const dead = await storage.create('dead.ndjson');
    await dead.write(new Uint8Array(2 ** 20 + 1)); // one chunk stored
    // The writer "dies": nothing closes or aborts it. Its lock is still held in this realm, so it is kept...
    await storage.list();
    const chunks = async () => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const r = env.factory.open('idb-evolve-snapshots');
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      const count = await new Promise<number>((resolve) => {
        const r = db.transaction('chunks').objectStore('chunks').count();
        r.onsuccess = () => resolve(r.result);
      });
      db.close();
      return count;
    };
    expect(await chunks()).toBe(1);
    // ...and once its lock is free (the writer's realm went away: here its abort releases it), it goes.
    if (!realIndexedDB) return; // Node has no Web Locks: the lock cannot be told held from free.
    const lockless = indexedDBSnapshotStorage(connection(env));
    await (dead as { abort(): Promise<void> }).abort();
    expect(await lockless.list()).toEqual([]);
    expect(await chunks()).toBe(0);
  });

  test('a policy on it takes, lists, verifies, restores and prunes snapshots like any storage', async () => {
    const env = await seeded();
    const storage = indexedDBSnapshotStorage(connection(env));
    const before = await dump(env.factory, 'db');
    const { db, upgrade } = await openDatabase('db', plan12, {
      ...env.options,
      snapshots: snapshotPolicy({ storage }),
    });
    db.close();
    expect(upgrade?.backup).toMatchObject({ status: 'taken', snapshot: { writer: 'indexeddb', compression: 'gzip' } });
    const [listed] = await listSnapshots({ storage, database: 'db' });
    expect(listed!.id).toBe(upgrade?.backup.status === 'taken' ? upgrade.backup.snapshot.id : '');
    expect((await verifySnapshot(listed!.id, { storage })).counts).toEqual({ notes: 2 });
    await restoreSnapshot('db', listed!.id, { ...connection(env), storage });
    expect(await dump(env.factory, 'db')).toEqual(before);
    await snapshotDatabase('db', { ...connection(env), storage });
    expect(await pruneSnapshots('db', { keep: 1, storage })).toEqual([listed!.id]);
  });
});

describe.skipIf(realIndexedDB)('the default storage (Node: no OPFS)', () => {
  test('falls back to IndexedDB, in the IndexedDB the call was given', async () => {
    const env = await seeded();
    const { db, upgrade } = await openDatabase('db', plan12, { ...env.options, snapshots: snapshotPolicy() });
    db.close();
    expect(upgrade?.backup).toMatchObject({ status: 'taken', snapshot: { writer: 'indexeddb' } });
    expect(await listSnapshots({ storage: indexedDBSnapshotStorage(connection(env)) })).toHaveLength(1);
  });

  test("listSnapshots({ database }) filters by database and never takes it for the storage's own", async () => {
    const env = await seeded();
    // First use of the default storage for this IndexedDB: it must not be made with the filter as its own name.
    expect(await listSnapshots({ ...connection(env), database: 'db' })).toEqual([]);
    const { db, upgrade } = await openDatabase('db', plan12, { ...env.options, snapshots: snapshotPolicy() });
    db.close();
    const listed = await listSnapshots({ ...connection(env), database: 'db' });
    expect(listed.map((s) => s.id)).toEqual([upgrade?.backup.status === 'taken' ? upgrade.backup.snapshot.id : '']);
    expect(Object.keys((await dump(env.factory, 'db')).stores)).toEqual(['notes']);
  });

  test('retention applies in the IndexedDB the call was given', async () => {
    const env = await seeded();
    const storage = indexedDBSnapshotStorage(connection(env));
    const manual = await snapshotDatabase('db', { ...connection(env), storage });
    const { db, upgrade } = await openDatabase('db', plan12, {
      ...env.options,
      snapshots: snapshotPolicy({ keep: 1 }),
    });
    db.close();
    const taken = upgrade?.backup.status === 'taken' ? upgrade.backup.snapshot.id : '';
    expect((await listSnapshots({ storage })).map((s) => s.id)).toEqual([taken]);
    expect(taken).not.toBe(manual.id);
  });

  test('when no writer works, the upgrade is refused with snapshot_unavailable naming each writer and why', async () => {
    const env = await seeded();
    const before = await dump(env.factory, 'db');
    // An IndexedDB that refuses to open the snapshot database (as an opaque origin would).
    const factory = new Proxy(env.factory, {
      get: (target, property) =>
        property === 'open'
          ? (name: string, version?: number) => {
              if (name === 'idb-evolve-snapshots') throw new DOMException('refused', 'SecurityError');
              return version === undefined ? target.open(name) : target.open(name, version);
            }
          : Reflect.get(target, property, target),
    });
    const error = await openDatabase('db', plan12, { ...env.options, indexedDB: factory, snapshots: snapshotPolicy() })
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SnapshotError);
    expect(error).toMatchObject({ code: 'snapshot_unavailable' });
    const writers = (error as SnapshotError).attempts!.map((a) => a.writer);
    expect(writers).toEqual(['opfs', 'indexeddb']);
    expect((error as SnapshotError).message).toMatch(/opfs: .*getDirectory.*; indexeddb: .*refused/);
    expect(await dump(env.factory, 'db')).toEqual(before);
  });
});

describe('the policy sends a copy off the origin', () => {
  test('onSnapshot gets each new snapshot and its file, after the upgrade; backup.copy says it was sent', async () => {
    const env = await seeded();
    const received: { id: string; bytes: Uint8Array }[] = [];
    const snapshots = snapshotPolicy({
      storage: env.storage,
      onSnapshot: async (snapshot, file) => {
        received.push({ id: snapshot.id, bytes: new Uint8Array(await file.arrayBuffer()) });
      },
    });
    const { db, upgrade } = await openDatabase('db', plan12, { ...env.options, snapshots });
    db.close();
    expect(upgrade?.backup).toMatchObject({ status: 'taken', copy: { status: 'sent' } });
    const id = upgrade?.backup.status === 'taken' ? upgrade.backup.snapshot.id : '';
    expect(received.map((r) => r.id)).toEqual([id]);
    const stored = new Uint8Array(await (await exportSnapshot(id, { storage: env.storage })).arrayBuffer());
    expect(received[0]!.bytes).toEqual(stored);
    // The copy restores elsewhere (another device): import, then restore.
    const elsewhere = memorySnapshotStorage();
    const imported = await importSnapshot(new File([received[0]!.bytes as BlobPart], id), { storage: elsewhere });
    expect(imported.id).toBe(id);
    expect((await verifySnapshot(id, { storage: elsewhere })).counts).toEqual({ notes: 2 });
  });

  test('a hook that fails never fails the upgrade: backup.copy reports the error', async () => {
    const env = await seeded();
    const failure = new Error('offline');
    const snapshots = snapshotPolicy({
      storage: env.storage,
      onSnapshot: () => {
        throw failure;
      },
    });
    const { db, upgrade } = await openDatabase('db', plan12, { ...env.options, snapshots });
    expect(db.version).toBe(2);
    db.close();
    expect(upgrade?.backup).toMatchObject({ status: 'taken', copy: { status: 'failed', error: failure } });
  });

  test('without a hook the copy is no-hook, and persistent says what the browser reports', async () => {
    const env = await seeded();
    const { db, upgrade } = await openDatabase('db', plan12, env.options);
    db.close();
    expect(upgrade?.backup).toMatchObject({ status: 'taken', copy: { status: 'no-hook' } });
    const persistent = upgrade?.backup.status === 'taken' ? upgrade.backup.persistent : undefined;
    if (realIndexedDB) expect(typeof persistent).toBe('boolean');
    else expect(persistent).toBeNull();
  });
});

describe('space before starting', () => {
  const storageManager = () => (globalThis as { navigator?: { storage?: object } }).navigator?.storage;
  let restore: (() => void) | undefined;
  afterEach(() => {
    restore?.();
    restore = undefined;
  });

  /** Makes `navigator.storage.estimate()` answer `estimate` for the rest of the test. */
  function fakeEstimate(estimate: { quota: number; usage: number }): void {
    const answer = async () => estimate;
    const existing = storageManager();
    if (existing !== undefined) {
      Object.defineProperty(existing, 'estimate', { value: answer, configurable: true });
      restore = () => delete (existing as { estimate?: unknown }).estimate;
      return;
    }
    const hadNavigator = 'navigator' in globalThis;
    const original = (globalThis as { navigator?: unknown }).navigator;
    Object.defineProperty(globalThis, 'navigator', {
      value: { ...(original as object), storage: { estimate: answer } },
      configurable: true,
    });
    restore = () => {
      if (hadNavigator) Object.defineProperty(globalThis, 'navigator', { value: original, configurable: true });
      else delete (globalThis as { navigator?: unknown }).navigator;
    };
  }

  test('a snapshot that cannot fit is refused with snapshot_quota before a byte is written', async () => {
    const env = await seeded();
    const before = await dump(env.factory, 'db');
    fakeEstimate({ quota: 1000, usage: 990 });
    const error = await openDatabase('db', plan12, env.options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SnapshotError);
    expect(error).toMatchObject({ code: 'snapshot_quota', bytesAvailable: 10 });
    expect((error as SnapshotError).bytesNeeded).toBeGreaterThan(10);
    expect((error as SnapshotError).message).toMatch(/needs about .* MiB/);
    expect(await dump(env.factory, 'db')).toEqual(before);
    expect(await env.storage.list()).toEqual([]);
  });

  test('with room to spare the snapshot is written', async () => {
    const env = await seeded();
    fakeEstimate({ quota: 10 * 2 ** 30, usage: 0 });
    const { db, upgrade } = await openDatabase('db', plan12, env.options);
    db.close();
    expect(upgrade?.backup.status).toBe('taken');
  });
});

describe('restoring into a newer plan', () => {
  test('a snapshot of an older version is restored and upgraded through the plan, in one operation', async () => {
    const env = fakeEnvironment();
    await seedDatabase('old', plan1, 1, { notes }, env.options);
    const snapshot = await snapshotDatabase('old', { ...connection(env), storage: env.storage });
    const report = await restoreSnapshot('app', snapshot.id, {
      ...connection(env),
      storage: env.storage,
      allowOtherDatabase: true,
      plan: plan12,
    });
    expect(report).toMatchObject({ version: 2, counts: { notes: 2 }, upgrade: { oldVersion: 1, newVersion: 2 } });
    expect((await dump(env.factory, 'app')).stores.notes!.records.map(([, v]) => v)).toEqual([
      { id: 1, title: 'A' },
      { id: 2, title: 'B' },
    ]);
  });

  test('an upgrade that fails rolls the load back with it: the database is as before the restore', async () => {
    const env = fakeEnvironment();
    await seedDatabase('old', plan1, 1, { notes }, env.options);
    const snapshot = await snapshotDatabase('old', { ...connection(env), storage: env.storage });
    const failing = definePlan({
      versions: [
        v1,
        {
          ...v2,
          steps: [
            updateRecords(
              'notes',
              () => {
                throw new Error('no');
              },
              { name: 'fails' },
            ),
          ],
        },
      ],
    });
    const error = await restoreSnapshot('app', snapshot.id, {
      ...connection(env),
      storage: env.storage,
      allowOtherDatabase: true,
      plan: failing,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SnapshotError);
    expect((error as SnapshotError).cause).toBeInstanceOf(UpgradeError);
    expect((await dump(env.factory, 'app')).version).toBe(0);
  });

  test('a plan that lacks the snapshot version is refused before anything is touched', async () => {
    const env = fakeEnvironment();
    await seedDatabase('old', plan1, 1, { notes }, env.options);
    const snapshot = await snapshotDatabase('old', { ...connection(env), storage: env.storage });
    const other = definePlan({
      versions: [
        { ...v1, version: 2 },
        { ...v2, version: 3 },
      ],
    });
    await expect(
      restoreSnapshot('app', snapshot.id, {
        ...connection(env),
        storage: env.storage,
        allowOtherDatabase: true,
        plan: other,
      }),
    ).rejects.toMatchObject({ name: 'SnapshotError', code: 'restore_failed', version: 1 });
    expect((await dump(env.factory, 'app')).version).toBe(0);
  });
});

describe('imports', () => {
  test('a file without a snapshot name is listed and returned with reason import', async () => {
    const env = await seeded();
    const snapshot = await snapshotDatabase('db', { ...connection(env), storage: env.storage });
    const file = await exportSnapshot(snapshot.id, { storage: env.storage });
    const elsewhere = memorySnapshotStorage();
    const imported = await importSnapshot(new File([file], 'backup.bin'), { storage: elsewhere });
    expect(imported.reason).toBe('import');
    expect(imported.id).toMatch(/@import@\w+\.ndjson\.gz$/);
    const [listed] = await listSnapshots({ storage: elsewhere });
    expect(listed).toMatchObject({ id: imported.id, reason: 'import', compression: 'gzip' });
  });
});

test('the IndexedDB storage works when something else created its database empty (opened without a version)', async () => {
  const env = fakeEnvironment();
  await new Promise<void>((resolve, reject) => {
    const r = env.factory.open('idb-evolve-snapshots');
    r.onsuccess = () => {
      r.result.close();
      resolve();
    };
    r.onerror = () => reject(r.error);
  });
  const storage = indexedDBSnapshotStorage(connection(env));
  expect(await storage.list()).toEqual([]);
  const sink = await storage.create('a.ndjson');
  await sink.write(utf8('x'));
  await sink.close();
  expect(await storage.list()).toEqual(['a.ndjson']);
});

test('a storage that fails mid-file fails the gzip snapshot with its error, and never hangs', async () => {
  const env = fakeEnvironment();
  // Random text does not compress: the compressor hands on many chunks, and the second write fails.
  const random = () => Array.from({ length: 40 }, () => Math.random().toString(36).slice(2)).join('');
  const rows = Array.from({ length: 3000 }, (_, i) => ({ id: i + 1, title: random() }));
  await seedDatabase('db', plan1, 1, { notes: rows }, env.options);
  const full = new DOMException('full', 'QuotaExceededError');
  let writes = 0;
  const failing = {
    ...memorySnapshotStorage(),
    create: async () => ({
      write: async () => {
        if (++writes > 1) throw full;
      },
      close: async () => {},
      abort: async () => {},
    }),
  };
  const error = await snapshotDatabase('db', { ...connection(env), storage: failing, compression: 'gzip' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(writes).toBeGreaterThan(1);
  // Whatever a custom storage throws becomes the typed error a policy's onFailure decides on.
  expect(error).toBeInstanceOf(SnapshotError);
  expect(error).toMatchObject({ code: 'snapshot_quota', cause: full });
});
