import { expect, test } from 'vitest';
import { openDatabase, type UpgradeElsewhere } from '../../src/index.js';
import { databaseName, startWorker } from './contexts.js';
import { electionPlan, type WorkerMessage } from './election-plan.js';

// A page and a dedicated worker of the same origin open one database with the same plan: a Web Lock elects one
// upgrader, the other hears its progress over BroadcastChannel and opens the upgraded database without running
// anything; a worker killed mid-upgrade hands over to the page, whose upgrade starts again from the start. The
// engine's own IndexedDB is used (not the suite's name-prefixed one): both contexts must see the same database.

const COUNT = 2000;
async function seeded(): Promise<string> {
  const name = databaseName();
  const { db } = await openDatabase(name, electionPlan, { version: 1, snapshots: false });
  const tx = db.transaction('notes', 'readwrite');
  for (let id = 0; id < COUNT; id++) tx.objectStore('notes').put({ id });
  await new Promise((resolve) => (tx.oncomplete = resolve));
  db.close();
  return name;
}

const electionWorker = (name: string) =>
  startWorker<WorkerMessage>(new URL('./election-worker.ts', import.meta.url), name);

/** Every note marked exactly as one clean upgrade marks it. */
async function expectCleanlyUpgraded(name: string): Promise<void> {
  const { db, upgrade } = await openDatabase(name, electionPlan, { snapshots: false });
  const all = await new Promise<unknown[]>((resolve) => {
    const request = db.transaction('notes').objectStore('notes').getAll();
    request.onsuccess = () => resolve(request.result);
  });
  db.close();
  expect(upgrade).toBeNull();
  expect(db.version).toBe(2);
  expect(all).toEqual(Array.from({ length: COUNT }, (_, id) => ({ id, v: 2 })));
}

test('page and worker at once: the worker upgrades, the page is told and opens without running anything', async () => {
  const name = await seeded();
  const worker = electionWorker(name);
  await worker.next('upgrading');
  const heard: UpgradeElsewhere[] = [];
  const { db, upgrade } = await openDatabase(name, electionPlan, {
    snapshots: false,
    onUpgradeElsewhere: (event) => heard.push(event),
  });
  db.close();
  expect(upgrade).toBeNull();
  expect(await worker.next('opened')).toEqual({ type: 'opened', upgraded: true, version: 2 });
  // `waiting` once the lock is found taken; progress heard on the channel may come before it.
  expect(heard).toContainEqual({ type: 'waiting' });
  expect(heard.some((e) => e.type === 'progress' && e.progress.phase === 'step' && e.progress.store === 'notes')).toBe(
    true,
  );
  expect(heard.at(-1)).toEqual({ type: 'finished', ok: true, version: 2 });
  await expectCleanlyUpgraded(name);
});

test('the upgrading worker killed mid-upgrade: the page takes over, reruns the upgrade from the start', async () => {
  const name = await seeded();
  const worker = electionWorker(name);
  await worker.next('upgrading');
  const heard: UpgradeElsewhere[] = [];
  const page = openDatabase(name, electionPlan, {
    snapshots: false,
    onUpgradeElsewhere: (event) => heard.push(event),
  });
  // Wait until the page is queued on the lock, then kill the lock holder.
  while (!heard.some((e) => e.type === 'waiting')) await new Promise((resolve) => setTimeout(resolve, 10));
  worker.worker.terminate();
  const { db, upgrade } = await page;
  db.close();
  expect(upgrade?.report.versions.map((v) => [v.version, v.steps[0]?.updated])).toEqual([[2, COUNT]]);
  expect(worker.messages.some((m) => m.type === 'opened')).toBe(false);
  await expectCleanlyUpgraded(name);
});

test('a call whose wait for the upgrade lock runs out gives up naming it, and never opens later', async () => {
  const name = await seeded();
  // Held here as another context would hold it while upgrading, silent: no progress restarts the clock.
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  await new Promise<void>((granted) => {
    void navigator.locks.request(`idb-evolve:upgrade:global:${name}`, () => {
      granted();
      return held;
    });
  });
  const heard: UpgradeElsewhere[] = [];
  const error = await openDatabase(name, electionPlan, {
    snapshots: false,
    blockedTimeout: 200,
    onUpgradeElsewhere: (event) => heard.push(event),
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toMatchObject({ name: 'OpenError', code: 'blocked', waitedOn: 'other-context' });
  expect((error as Error).message).toMatch(
    /^Another tab, worker or service worker held the upgrade of "election-\w+" for 200 ms without progress; the upgrade did not run/,
  );
  expect(heard).toEqual([{ type: 'waiting' }]);
  release();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const version = await new Promise<number>((resolve) => {
    const request = indexedDB.open(name);
    request.onsuccess = () => {
      resolve(request.result.version);
      request.result.close();
    };
  });
  expect(version).toBe(1);
});
