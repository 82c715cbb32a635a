import { expect, test } from 'vitest';
import {
  dexieOpen,
  memorySnapshotStorage,
  openDatabase,
  definePlan,
  protectUpgrade,
  snapshotPolicy,
} from '../../src/index.js';
import { databaseName, startWorker } from './contexts.js';
import { friendsDexie, type ProtectWorkerMessage } from './protect-app.js';

// A page and a dedicated worker of one origin open a Dexie database under protectUpgrade at once: the Web Lock
// they share (with openDatabase) lets one snapshot and upgrade; the other, arriving between that snapshot and that
// upgrade, starts only when both are over, and finds nothing left to upgrade. (Without the lock the page would read
// version 10 and run the upgrade itself: checked by removing it.) The engine's own IndexedDB is used: both contexts must see the same database.

/** Dexie's release 1 with 1000 friends, and the worker upgrading it to release 2 once it has started its snapshot. */
async function workerUpgrading(): Promise<{ name: string; opened: Promise<ProtectWorkerMessage> }> {
  const name = databaseName('election-protect');
  const v1 = friendsDexie(name, 1);
  await v1.table('friends').bulkAdd(Array.from({ length: 1000 }, (_, i) => ({ name: `f${i}` })));
  v1.close();
  const worker = startWorker<ProtectWorkerMessage>(new URL('./protect-worker.ts', import.meta.url), name);
  await worker.next('snapshotting');
  return { name, opened: worker.next('opened') };
}

test("a worker's protected Dexie upgrade holds the lock: the page's protected open and openDatabase wait for it", async () => {
  const { name, opened: worker } = await workerUpgrading();
  const storage = memorySnapshotStorage();
  const page = friendsDexie(name, 2, () => {
    throw new Error('the page must not run the upgrade: the worker did');
  });
  const opened = await protectUpgrade(dexieOpen(page), { snapshots: snapshotPolicy({ storage }) });
  // It waited for the lock: by then the worker's upgrade (snapshot taken there) had committed.
  expect(await worker).toEqual({ type: 'opened', oldVersion: 10, version: 20, backup: 'taken' });
  expect([opened.oldVersion, opened.version, opened.backup.status]).toEqual([20, 20, 'not-needed']);
  expect(await page.table('friends').where('email').equals('f999@example.org').count()).toBe(1);
  page.close();
  expect(await storage.list()).toEqual([]);
});

test('openDatabase waits on the same lock as a protected open in a worker', async () => {
  const { name, opened: worker } = await workerUpgrading();
  // A plan adopting the Dexie database at 20: it waits for the worker, then finds 20 installed.
  const stores = { friends: { keyPath: 'id', autoIncrement: true, indexes: { name: 'name', email: 'email' } } };
  const plan = definePlan({ versions: [{ version: 20, stores }] });
  const { db, upgrade } = await openDatabase(name, plan, { snapshots: false });
  expect([db.version, upgrade]).toEqual([20, null]);
  db.close();
  expect((await worker).type).toBe('opened');
});
