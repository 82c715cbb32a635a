import { afterEach, expect, test } from 'vitest';
import {
  dexieOpen,
  memorySnapshotStorage,
  openDatabase,
  definePlan,
  protectUpgrade,
  snapshotPolicy,
} from '../../src/index.js';
import { friendsDexie, type ProtectWorkerMessage } from './protect-app.js';

// A page and a dedicated worker of one origin open a Dexie database under protectUpgrade at once: the Web Lock
// they share (with openDatabase) lets one snapshot and upgrade; the other, arriving between that snapshot and that
// upgrade, starts only when both are over, and finds nothing left to upgrade. (Without the lock the page would read
// version 10 and run the upgrade itself: checked by removing it.) The engine's own IndexedDB is used: both contexts must see the same database.

const names: string[] = [];
const workers: Worker[] = [];

afterEach(async () => {
  for (const worker of workers.splice(0)) worker.terminate();
  for (const name of names.splice(0)) {
    await new Promise<void>((resolve) => {
      const request = indexedDB.deleteDatabase(name);
      request.onsuccess = request.onerror = () => resolve();
    });
  }
});

function startWorker(name: string): (type: ProtectWorkerMessage['type']) => Promise<ProtectWorkerMessage> {
  const worker = new Worker(new URL('./protect-worker.ts', import.meta.url), { type: 'module' });
  workers.push(worker);
  const messages: ProtectWorkerMessage[] = [];
  const waiting: [ProtectWorkerMessage['type'], (m: ProtectWorkerMessage) => void][] = [];
  worker.onmessage = (event: MessageEvent<ProtectWorkerMessage>) => {
    messages.push(event.data);
    for (const [type, resolve] of waiting) if (type === event.data.type) resolve(event.data);
  };
  worker.postMessage({ name });
  return (type) =>
    new Promise((resolve) => {
      const found = messages.find((m) => m.type === type);
      if (found !== undefined) resolve(found);
      else waiting.push([type, resolve]);
    });
}

test("a worker's protected Dexie upgrade holds the lock: the page's protected open and openDatabase wait for it", async () => {
  const name = `election-protect-${Math.random().toString(36).slice(2)}`;
  names.push(name);
  const v1 = friendsDexie(name, 1);
  await v1.table('friends').bulkAdd(Array.from({ length: 1000 }, (_, i) => ({ name: `f${i}` })));
  v1.close();

  const next = startWorker(name);
  await next('snapshotting');
  const storage = memorySnapshotStorage();
  const page = friendsDexie(name, 2, () => {
    throw new Error('the page must not run the upgrade: the worker did');
  });
  const opened = await protectUpgrade(dexieOpen(page), { snapshots: snapshotPolicy({ storage }) });
  // It waited for the lock: by then the worker's upgrade (snapshot taken there) had committed.
  expect(await next('opened')).toEqual({ type: 'opened', oldVersion: 10, version: 20, backup: 'taken' });
  expect([opened.oldVersion, opened.version, opened.backup.status]).toEqual([20, 20, 'not-needed']);
  expect(await page.table('friends').where('email').equals('f999@example.org').count()).toBe(1);
  page.close();
  expect(await storage.list()).toEqual([]);
});

test('openDatabase waits on the same lock as a protected open in a worker', async () => {
  const name = `election-protect-${Math.random().toString(36).slice(2)}`;
  names.push(name);
  const v1 = friendsDexie(name, 1);
  await v1.table('friends').bulkAdd(Array.from({ length: 1000 }, (_, i) => ({ name: `f${i}` })));
  v1.close();
  const next = startWorker(name);
  await next('snapshotting');
  // A plan adopting the Dexie database at 20: it waits for the worker, then finds 20 installed.
  const stores = { friends: { keyPath: 'id', autoIncrement: true, indexes: { name: 'name', email: 'email' } } };
  const plan = definePlan({ versions: [{ version: 20, stores }] });
  const { db, upgrade } = await openDatabase(name, plan, { snapshots: false });
  expect([db.version, upgrade]).toEqual([20, null]);
  db.close();
  expect((await next('opened')).type).toBe('opened');
});
