import { describe, expect, test } from 'vitest';
import {
  definePlan,
  deleteSnapshot,
  dryRun,
  openDatabase,
  OpenError,
  updateRecords,
  type UpgradeElsewhere,
  type UpgradeInfo,
} from '../src/index.js';
import { DEFAULT_BLOCKED_TIMEOUT } from '../src/idb/wait.js';
import { dump, fakeEnvironment, seedDatabase } from './helpers.js';

const stores = { notes: { keyPath: 'id' } };
const plan = definePlan({
  versions: [
    { version: 1, stores },
    {
      version: 2,
      stores,
      steps: [updateRecords('notes', (n: object) => ({ ...n, v: 2 }), { name: 'mark', batchSize: 5 })],
    },
  ],
});
const notes = Array.from({ length: 40 }, (_, i) => ({ id: i }));

/** A connection at version 1 that ignores `versionchange`, as code written without idb-evolve often does. */
function legacyConnection(factory: IDBFactory): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = factory.open('db', 1);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('every wait is bounded, from the call', () => {
  test('a second open queued behind one that gave up is told so in time, and neither changes the database later', async () => {
    const { factory, options } = fakeEnvironment();
    await seedDatabase('db', plan, 1, { notes }, options);
    const before = await dump(factory, 'db');
    const legacy = await legacyConnection(factory);

    const first = await rejection(openDatabase('db', plan, { ...options, blockedTimeout: 100 }));
    expect(first).toBeInstanceOf(OpenError);
    expect(first).toMatchObject({ code: 'blocked', waitedOn: 'connection', oldVersion: 1, newVersion: 2 });
    expect((first as Error).message).toMatch(
      /^Other connections kept "db" open at version 1 for 100 ms; the upgrade did not run/,
    );

    // Queued behind the first request, which IndexedDB still holds: it never gets `blocked`, yet it gives up.
    const started = Date.now();
    const second = await rejection(openDatabase('db', plan, { ...options, blockedTimeout: 150 }));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(second).toMatchObject({ name: 'OpenError', code: 'blocked', waitedOn: 'queued-request' });
    expect((second as Error).message).toMatch(
      /^An earlier request of this app for "db" was still pending after 150 ms \(it waits for other connections to close\)/,
    );

    // The legacy connection goes: the first request goes through, and its upgrade is aborted; the second was never made.
    legacy.close();
    expect(await dump(factory, 'db')).toEqual(before);
    const { db, upgrade } = await openDatabase('db', plan, options);
    db.close();
    expect(upgrade?.report.versions.map((v) => v.version)).toEqual([2]);
    expect((await dump(factory, 'db')).stores.notes?.records).toEqual(notes.map((n) => [n.id, { ...n, v: 2 }]));
  });

  test('the default is bounded; Infinity waits as IndexedDB does', async () => {
    expect(DEFAULT_BLOCKED_TIMEOUT).toBe(60_000);
    const { factory, options } = fakeEnvironment();
    await seedDatabase('db', plan, 1, { notes }, options);
    const legacy = await legacyConnection(factory);
    let settled = false;
    const waiting = openDatabase('db', plan, { ...options, blockedTimeout: Number.POSITIVE_INFINITY }).finally(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(settled).toBe(false);
    legacy.close();
    const { db, upgrade } = await waiting;
    db.close();
    expect(upgrade?.report.newVersion).toBe(2);
  });

  test('deletes and restores wait by the same rule', async () => {
    const { factory, options, storage } = fakeEnvironment();
    await seedDatabase('db', plan, 1, { notes }, options);
    const { db } = await openDatabase('db', plan, options);
    db.close();
    const legacy = await new Promise<IDBDatabase>((resolve) => {
      const request = factory.open('db', 2);
      request.onsuccess = () => resolve(request.result);
    });
    const { listSnapshots, restoreSnapshot } = await import('../src/index.js');
    const [snapshot] = await listSnapshots({ database: 'db', storage });
    const restore = await rejection(restoreSnapshot('db', snapshot!.id, { ...options, storage, blockedTimeout: 100 }));
    expect(restore).toMatchObject({ name: 'OpenError', code: 'blocked', waitedOn: 'connection', oldVersion: 2 });
    legacy.close();
    await deleteSnapshot(snapshot!.id, { storage });
  });
});

describe('one upgrade per app: calls for one database take turns', () => {
  test('two calls at once: one upgrades, the other hears of it and opens the upgraded database', async () => {
    const { factory, options } = fakeEnvironment();
    await seedDatabase('db', plan, 1, { notes }, options);
    const starts: UpgradeInfo[] = [];
    const heard: UpgradeElsewhere[] = [];
    const hooks = { onStart: (info: UpgradeInfo) => starts.push(info) };
    const [a, b] = await Promise.all([
      openDatabase('db', plan, { ...options, hooks }),
      openDatabase('db', plan, { ...options, hooks, onUpgradeElsewhere: (event) => heard.push(event) }),
    ]);
    a.db.close();
    b.db.close();
    expect(starts).toHaveLength(1);
    expect(a.upgrade?.report.versions.map((v) => v.version)).toEqual([2]);
    expect(b.upgrade).toBeNull();
    expect(b.db.version).toBe(2);
    // Where BroadcastChannel exists (Node, every browser), the waiting call hears the upgrade as it goes.
    expect(heard[0]).toEqual({ type: 'started', oldVersion: 1, newVersion: 2, dryRun: false });
    expect(heard.some((e) => e.type === 'progress' && e.progress.phase === 'step')).toBe(true);
    expect(heard.at(-1)).toEqual({ type: 'finished', ok: true, version: 2 });
    expect((await dump(factory, 'db')).stores.notes?.records).toEqual(notes.map((n) => [n.id, { ...n, v: 2 }]));
  });

  test('a call behind a failing upgrade runs it again itself, and fails the same way', async () => {
    const failing = definePlan({
      versions: [
        { version: 1, stores },
        {
          version: 2,
          stores,
          steps: [
            updateRecords(
              'notes',
              (n: { id: number }) => {
                if (n.id === 7) throw new Error('bad note');
                return n;
              },
              { name: 'fail' },
            ),
          ],
        },
      ],
    });
    const { factory, options } = fakeEnvironment();
    await seedDatabase('db', failing, 1, { notes }, options);
    const before = await dump(factory, 'db');
    const heard: UpgradeElsewhere[] = [];
    // dryRun makes its request at once; openDatabase first checks for an interrupted restore: it comes second.
    const results = await Promise.allSettled([
      dryRun('db', failing, options),
      openDatabase('db', failing, { ...options, onUpgradeElsewhere: (event) => heard.push(event) }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(results.map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(['step_failed', 'step_failed']);
    expect(heard[0]).toEqual({ type: 'started', oldVersion: 1, newVersion: 2, dryRun: true });
    expect(heard.at(-1)).toEqual({ type: 'finished', ok: false, version: 1, code: 'step_failed' });
    expect(await dump(factory, 'db')).toEqual(before);
  });
});
