import { afterEach, describe, expect, test } from 'vitest';
import {
  definePlan,
  listSnapshots,
  openDatabase,
  opfsSnapshotStorage,
  restoreSnapshot,
  type SnapshotError,
  snapshotPolicy,
  updateRecords,
  verifySnapshot,
} from '../../src/index.js';
import { dump, fakeEnvironment, seedDatabase, utf8 } from '../helpers.js';

// Each writer in a real engine, selected the way the library does: by what the engine (or the test) leaves there.
// Removing createWritable from the prototype stands in for Safari 15.2-25; removing getDirectory for a private window.
const inBrowser = typeof window !== 'undefined';
const directory = `writers-${Math.random().toString(36).slice(2, 8)}`;

const v1 = { version: 1, stores: { notes: { keyPath: 'id' }, files: {} } } as const;
const plan12 = definePlan({
  versions: [
    v1,
    {
      version: 2,
      stores: v1.stores,
      steps: [
        updateRecords('notes', (n: { id: number; title: string }) => ({ ...n, title: n.title.toUpperCase() }), {
          name: 'upper',
        }),
      ],
    },
  ],
});
const notes = Array.from({ length: 3000 }, (_, i) => ({ id: i + 1, title: `note ${i}`, body: 'x'.repeat(200) }));

const removed: (() => void)[] = [];
/** Deletes `property` from `owner` for the rest of the test. */
function remove(owner: object, property: string): void {
  const descriptor = Object.getOwnPropertyDescriptor(owner, property);
  if (descriptor === undefined) throw new Error(`${property} is not there to remove`);
  delete (owner as Record<string, unknown>)[property];
  removed.push(() => Object.defineProperty(owner, property, descriptor));
}

afterEach(async () => {
  for (const put of removed.splice(0).reverse()) put();
  await (await navigator.storage.getDirectory()).removeEntry(directory, { recursive: true }).catch(() => {});
});

async function seeded() {
  const env = fakeEnvironment();
  await seedDatabase('db', plan12, 1, { notes }, env.options);
  await seedDatabase('db', plan12, 1, { files: [[1, new Blob(['hello'], { type: 'text/plain' })]] }, env.options, {
    outOfLine: true,
  });
  return env;
}

/**
 * Whether this engine's OPFS backend gives dedicated workers a sync access handle. Safari 15.2+, Chrome and Firefox
 * do; WebKitGTK's backend answers NotSupportedError, so there a page without createWritable has no OPFS writer.
 */
async function workersHaveSyncHandles(): Promise<boolean> {
  const source = `self.onmessage = async () => {
    try {
      const root = await navigator.storage.getDirectory();
      const handle = await root.getFileHandle('sync-probe', { create: true });
      (await handle.createSyncAccessHandle()).close();
      await root.removeEntry('sync-probe');
      self.postMessage(true);
    } catch { self.postMessage(false); }
  };`;
  const worker = new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })));
  try {
    return await new Promise<boolean>((resolve) => {
      worker.onmessage = (event: MessageEvent<boolean>) => resolve(event.data);
      worker.postMessage(null);
    });
  } finally {
    worker.terminate();
  }
}

describe.skipIf(!inBrowser)('snapshot writers in a real engine', () => {
  test('without createWritable (Safari 15.2-25) the worker writer takes, lists, verifies and restores', async (ctx) => {
    if (!(await workersHaveSyncHandles())) ctx.skip();
    remove(FileSystemFileHandle.prototype, 'createWritable');
    const env = await seeded();
    const before = await dump(env.factory, 'db');
    const storage = opfsSnapshotStorage({ directory });
    const { db, upgrade } = await openDatabase('db', plan12, {
      ...env.options,
      snapshots: snapshotPolicy({ storage }),
    });
    db.close();
    expect(upgrade?.backup).toMatchObject({
      status: 'taken',
      snapshot: { writer: 'opfs-worker', compression: 'gzip' },
    });
    const [listed] = await listSnapshots({ storage, database: 'db' });
    expect((await verifySnapshot(listed!.id, { storage })).counts).toEqual({ notes: notes.length, files: 1 });
    await restoreSnapshot('db', listed!.id, { indexedDB: env.factory, IDBKeyRange, storage });
    expect(await dump(env.factory, 'db')).toEqual(before);
  });

  test('without createWritable nor worker sync handles (WebKitGTK) every OPFS writer is named, and the default storage falls back to IndexedDB', async (ctx) => {
    if (await workersHaveSyncHandles()) ctx.skip();
    remove(FileSystemFileHandle.prototype, 'createWritable');
    const env = await seeded();
    const before = await dump(env.factory, 'db');
    const refused = await openDatabase('db', plan12, {
      ...env.options,
      snapshots: snapshotPolicy({ storage: opfsSnapshotStorage({ directory }) }),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toMatchObject({ name: 'SnapshotError', code: 'snapshot_unavailable' });
    expect((refused as SnapshotError).attempts!.map((a) => a.writer)).toEqual([
      'opfs-writable',
      'opfs-sync',
      'opfs-worker',
    ]);
    expect(await dump(env.factory, 'db')).toEqual(before);
    const { db, upgrade } = await openDatabase('db', plan12, { ...env.options, snapshots: snapshotPolicy() });
    db.close();
    expect(upgrade?.backup).toMatchObject({ status: 'taken', snapshot: { writer: 'indexeddb' } });
    const id = upgrade?.backup.status === 'taken' ? upgrade.backup.snapshot.id : '';
    await restoreSnapshot('db', id, { indexedDB: env.factory, IDBKeyRange });
    expect(await dump(env.factory, 'db')).toEqual(before);
  });

  test('without OPFS (a private window) the default storage writes to IndexedDB, and restores from it', async () => {
    remove(StorageManager.prototype, 'getDirectory');
    const env = await seeded();
    const before = await dump(env.factory, 'db');
    const { db, upgrade } = await openDatabase('db', plan12, { ...env.options, snapshots: snapshotPolicy() });
    db.close();
    expect(upgrade?.backup).toMatchObject({ status: 'taken', snapshot: { writer: 'indexeddb' } });
    const connection = { indexedDB: env.factory, IDBKeyRange };
    const [listed] = await listSnapshots({ ...connection, database: 'db' });
    expect(listed!.id).toBe(upgrade?.backup.status === 'taken' ? upgrade.backup.snapshot.id : '');
    await restoreSnapshot('db', listed!.id, connection);
    expect(await dump(env.factory, 'db')).toEqual(before);
  });

  test('a writer worker terminated mid-file leaves nothing listed, and its leftover is swept', async (ctx) => {
    if (!(await workersHaveSyncHandles())) ctx.skip();
    remove(FileSystemFileHandle.prototype, 'createWritable');
    const workers: Worker[] = [];
    const OriginalWorker = globalThis.Worker;
    globalThis.Worker = class extends OriginalWorker {
      constructor(url: string | URL, options?: WorkerOptions) {
        super(url, options);
        workers.push(this);
      }
    };
    removed.push(() => {
      globalThis.Worker = OriginalWorker;
    });
    const storage = opfsSnapshotStorage({ directory });
    const sink = await storage.create('db@1@000000000000001@manual@killed.ndjson');
    expect(sink.writer).toBe('opfs-worker');
    await sink.write(utf8('{"format":"idb-evolve-snapshot"}\n'.repeat(1000)));
    workers[0]!.terminate(); // killed: nothing will ever close or abort this file
    expect(await storage.list()).toEqual([]);
    const folder = await (await navigator.storage.getDirectory()).getDirectoryHandle(directory);
    const names = async () => {
      const found: string[] = [];
      for await (const [name] of folder as unknown as AsyncIterable<[string]>) found.push(name);
      return found;
    };
    expect(await names()).toEqual(['db@1@000000000000001@manual@killed.ndjson.partial']);
    // Its page still holds the file's lock until the sink gives up; once released (the page gone), a sweep drops it.
    await sink.abort();
    await storage.list();
    expect(await names()).toEqual([]);
  });
});
