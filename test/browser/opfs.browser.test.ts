import { afterEach, describe, expect, test } from 'vitest';
import {
  definePlan,
  listSnapshots,
  openDatabase,
  opfsSnapshotStorage,
  restoreSnapshot,
  snapshotPolicy,
  updateRecords,
  verifySnapshot,
  type Step,
} from '../../src/index.js';
import { utf8 } from '../helpers.js';

// Real OPFS and real transaction lifetime: what fake-indexeddb and the memory storage cannot show.
const directory = `test-${Math.random().toString(36).slice(2, 8)}`;
const storage = () => opfsSnapshotStorage({ directory });

async function clearDirectory(): Promise<void> {
  const root = await navigator.storage.getDirectory();
  await root.removeEntry(directory, { recursive: true }).catch(() => {});
}

afterEach(clearDirectory);

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function names(): Promise<string[]> {
  const folder = await (await navigator.storage.getDirectory()).getDirectoryHandle(directory, { create: true });
  const found: string[] = [];
  for await (const [name] of folder as unknown as AsyncIterable<[string, FileSystemHandle]>) found.push(name);
  return found.sort();
}

describe('opfsSnapshotStorage', () => {
  test('a file is listed only once closed, and an aborted one leaves nothing', async () => {
    const s = storage();
    const sink = await s.create('a.ndjson');
    await sink.write(utf8('hello\n'));
    expect(await s.list()).toEqual([]);
    await sink.close();
    expect(await s.list()).toEqual(['a.ndjson']);
    expect(await (await s.read('a.ndjson'))!.text()).toBe('hello\n');
    const aborted = await s.create('b.ndjson');
    await aborted.write(utf8('partial'));
    await aborted.abort();
    expect(await s.list()).toEqual(['a.ndjson']);
    expect(await names()).toEqual(['a.ndjson']);
    await s.delete('a.ndjson');
    await s.delete('never-there.ndjson');
    expect(await s.list()).toEqual([]);
  });
});

test('temporary files a killed writer left are swept; one whose writer holds its lock is kept', async () => {
  const folder = await (await navigator.storage.getDirectory()).getDirectoryHandle(directory, { create: true });
  for (const name of ['dead.ndjson.partial', 'dead.ndjson.partial.crswap', 'alive.ndjson.partial']) {
    const writable = await (await folder.getFileHandle(name, { create: true })).createWritable();
    await writable.write('x');
    await writable.close();
  }
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    void navigator.locks.request(`idb-evolve-snapshot:${directory}/alive.ndjson.partial`, () => {
      resolve();
      return new Promise<void>((r) => (release = r));
    });
  });
  await held;
  try {
    const sink = await storage().create('new.ndjson');
    await sink.close();
    expect(await names()).toEqual(['alive.ndjson.partial', 'new.ndjson']);
  } finally {
    release();
  }
});

test('a storage keeps working after its folder was removed (site data cleared while the page is open)', async () => {
  const s = storage();
  const first = await s.create('one.ndjson');
  await first.close();
  await clearDirectory();
  const second = await s.create('two.ndjson');
  await second.write(utf8('x'));
  await second.close();
  expect(await s.list()).toEqual(['two.ndjson']);
});

describe('upgrades in a real engine', () => {
  const name = `opfs-${Math.random().toString(36).slice(2, 8)}`;
  const v1 = { version: 1, stores: { notes: { keyPath: 'id' } } } as const;
  const upgrade = (step: Step) => definePlan({ versions: [v1, { ...v1, version: 2, steps: [step] }] });
  const seed = async () => {
    await request(indexedDB.deleteDatabase(name) as unknown as IDBRequest<undefined>);
    const { db } = await openDatabase(name, definePlan({ versions: [v1] }), { snapshots: false });
    const tx = db.transaction('notes', 'readwrite');
    for (let id = 1; id <= 300; id++)
      tx.objectStore('notes').put({ id, text: `note ${id}`, blob: new Blob([`b${id}`]) });
    await new Promise((resolve) => (tx.oncomplete = resolve));
    db.close();
  };
  const read = async () => {
    const db = await request(indexedDB.open(name));
    try {
      const all: { text: string; blob?: Blob }[] = await request(db.transaction('notes').objectStore('notes').getAll());
      // The Blobs' bytes and types as text: toEqual would compare nothing of the Blobs themselves.
      const blobs = await Promise.all(
        all.map(async ({ blob }) => (blob instanceof Blob ? `${blob.type}:${await blob.text()}` : null)),
      );
      return { version: db.version, texts: all.map((n) => n.text), blobs };
    } finally {
      db.close();
    }
  };

  // Retried: in WebKitGTK on a loaded 2-CPU CI machine this test has failed about one run in five with a bare
  // NotFoundError ("The object can not be found here") that it never shows alone or in the other engines; its
  // source is not found yet. A retry still fails on a real regression, which fails every attempt.
  test('the pre-upgrade snapshot goes to OPFS (Blobs included) and restores the old state', { retry: 2 }, async () => {
    await seed();
    const before = await read();
    expect(before.blobs.slice(0, 2)).toEqual([':b1', ':b2']);
    const { db, upgrade: done } = await openDatabase(
      name,
      upgrade(
        updateRecords('notes', (n: { text: string }) => ({ ...n, text: n.text.toUpperCase() }), {
          name: 'upper',
          batchSize: 64,
        }),
      ),
      {
        snapshots: snapshotPolicy({ storage: storage() }),
      },
    );
    db.close();
    expect(done?.backup.status).toBe('taken');
    const snapshot = done?.backup.status === 'taken' ? done.backup.snapshot : undefined;
    expect(snapshot).toMatchObject({ version: 1, counts: { notes: 300 } });
    expect((await listSnapshots({ storage: storage(), database: name })).map((s) => s.id)).toEqual([snapshot!.id]);
    expect(await verifySnapshot(snapshot!.id, { storage: storage() })).toMatchObject({ counts: { notes: 300 } });
    expect((await read()).texts[0]).toBe('NOTE 1');
    await restoreSnapshot(name, snapshot!.id, { storage: storage() });
    expect(await read()).toEqual(before);
  });

  test.each([
    ['a timer', () => new Promise((resolve) => setTimeout(resolve, 30))],
    ['fetch', () => fetch(location.href).then((r) => r.text())],
    ['OPFS', async () => (await navigator.storage.getDirectory()).getDirectoryHandle(directory, { create: true })],
  ])('a step that awaits %s is aborted with transaction_inactive; nothing is half-committed', async (_, wait) => {
    await seed();
    const before = await read();
    const step: Step = {
      name: 'waits',
      stores: ['notes'],
      run: async (ctx) => {
        await ctx.store('notes').put({ id: 1, text: 'changed' });
        await wait();
        await ctx.store('notes').put({ id: 2, text: 'changed' });
      },
    };
    await expect(
      openDatabase(name, upgrade(step), { snapshots: snapshotPolicy({ storage: storage() }) }),
    ).rejects.toMatchObject({
      name: 'UpgradeError',
      code: 'transaction_inactive',
      version: 2,
      step: 'waits',
    });
    expect(await read()).toEqual(before);
  });

  test('an async step that throws after an IndexedDB await is rolled back (IndexedDB alone would commit it)', async () => {
    await seed();
    const before = await read();
    const step: Step = {
      name: 'late throw',
      stores: ['notes'],
      run: async (ctx) => {
        await ctx.store('notes').put({ id: 1, text: 'changed' });
        await ctx.store('notes').count();
        throw new Error('after await');
      },
    };
    await expect(openDatabase(name, upgrade(step), { snapshots: false })).rejects.toMatchObject({
      code: 'step_failed',
      step: 'late throw',
    });
    expect(await read()).toEqual(before);
  });
});
