import Dexie, { type Transaction } from 'dexie';
import { type IDBPDatabase, type IDBPTransaction, openDB } from 'idb';
import { describe, expect, test } from 'vitest';
import {
  dexieOpen,
  dexieVersion,
  installedVersion,
  listSnapshots,
  localForageOpen,
  memorySnapshotStorage,
  POUCHDB_IDB_VERSION,
  pouchDBOpen,
  protectUpgrade,
  ProtectedOpenError,
  OptionsError,
  definePlan,
  openDatabase,
  snapshotPolicy,
  verifySnapshot,
} from '../src/index.js';
import { dump, request } from './helpers.js';
import { loadPouchDB, unique } from './libraries.js';

function environment() {
  const storage = memorySnapshotStorage();
  return { storage, options: { snapshots: snapshotPolicy({ storage }) } };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Note {
  id?: number;
  title: string;
  tags: string[];
}

function dexieV1(name: string) {
  const db = new Dexie(name) as Dexie & { notes: Dexie.Table<Note, number> };
  db.version(1).stores({ notes: '++id, title, *tags' });
  return db;
}

async function seedDexie(name: string): Promise<void> {
  const db = dexieV1(name);
  await db.notes.bulkAdd([
    { title: 'a', tags: ['x'] },
    { title: 'b', tags: ['x', 'y'] },
    { title: 'c', tags: [] },
  ]);
  db.close();
}

/** The release 2 code of the Dexie app: a `done` index, and `upgrade` as its upgrader. */
function dexieV2(name: string, upgrade: (tx: Transaction) => void | PromiseLike<unknown>) {
  const db = new Dexie(name) as Dexie & { notes: Dexie.Table<Note & { done?: number }, number> };
  db.version(1).stores({ notes: '++id, title, *tags' });
  db.version(2).stores({ notes: '++id, title, *tags, done' }).upgrade(upgrade);
  return db;
}

describe('protectUpgrade with Dexie', () => {
  test('a failing upgrader: typed error with the snapshot, the database as it was', async () => {
    const { storage, options } = environment();
    const name = unique('dexie-fail');
    await seedDexie(name);
    const before = await dump(indexedDB, name);
    const db = dexieV2(name, async (tx) => {
      await tx
        .table('notes')
        .toCollection()
        .modify((note: Note & { done?: boolean }) => {
          note.done = false;
        });
      throw new Error('upgrader bug');
    });
    const error = await rejection(protectUpgrade(dexieOpen(db), options));
    expect(error).toBeInstanceOf(ProtectedOpenError);
    const failure = error as ProtectedOpenError;
    expect(failure).toMatchObject({
      name: 'ProtectedOpenError',
      code: 'protected_open_failed',
      database: name,
      oldVersion: 10,
      newVersion: 20,
      installedVersion: 10,
      committed: false,
      restored: null,
    });
    expect(failure.message).toContain('rolled the upgrade back');
    expect(String((failure.cause as Error).message)).toContain('upgrader bug');
    expect(failure.snapshot?.version).toBe(10);
    expect(await verifySnapshot(failure.snapshot!.id, { storage })).toMatchObject({ counts: { notes: 3 } });
    expect(await dump(indexedDB, name)).toEqual(before);
    // The snapshot restores on demand too, to the same state.
    const report = await failure.restore();
    expect(report.version).toBe(10);
    expect(await dump(indexedDB, name)).toEqual(before);
  });

  test('a successful upgrade: the snapshot of version 10 is taken first, Dexie reads the result', async () => {
    const { storage, options } = environment();
    const name = unique('dexie-ok');
    await seedDexie(name);
    const before = await dump(indexedDB, name);
    const db = dexieV2(name, (tx) =>
      tx
        .table('notes')
        .toCollection()
        .modify((note: { done?: number }) => {
          note.done = 0;
        }),
    );
    const protectedOpen = await protectUpgrade(dexieOpen(db), options);
    expect(protectedOpen.opened).toBe(db);
    expect(protectedOpen.backup.status).toBe('taken');
    expect([protectedOpen.oldVersion, protectedOpen.version]).toEqual([10, 20]);
    expect(await db.notes.where('done').equals(0).count()).toBe(3);
    db.close();
    const [snapshot] = await listSnapshots({ storage, database: name });
    expect(snapshot).toMatchObject({ version: 10, reason: 'upgrade' });
    // The snapshot holds the data as it was before the upgrade.
    const copy = `${name}-copy`;
    const { restoreSnapshot } = await import('../src/index.js');
    await restoreSnapshot(copy, snapshot!.id, { storage, allowOtherDatabase: true });
    expect((await dump(indexedDB, copy)).stores).toEqual(before.stores);
  });

  test('an upgrader that awaits a timer: Dexie resolves the open half upgraded; detected and restored', async () => {
    const { options } = environment();
    const name = unique('dexie-await');
    await seedDexie(name);
    const before = await dump(indexedDB, name);
    const db = dexieV2(name, async (tx) => {
      await tx.table('notes').update(1, { done: 1 });
      await sleep(30); // a fetch, say: IndexedDB commits the upgrade here
      await tx.table('notes').update(2, { done: 1 });
    });
    const failure = (await rejection(protectUpgrade(dexieOpen(db), options))) as ProtectedOpenError;
    expect(failure).toBeInstanceOf(ProtectedOpenError);
    expect(failure).toMatchObject({ code: 'protected_upgrade_failed', installedVersion: 20, committed: true });
    expect(failure.restored).toMatchObject({ version: 10, counts: { notes: 3 } });
    expect(db.isOpen()).toBe(false);
    expect(await dump(indexedDB, name)).toEqual(before);
  });

  test('an async upgrader awaiting only Dexie operations still runs in its transaction when tracked', async () => {
    const { options } = environment();
    const name = unique('dexie-async');
    await seedDexie(name);
    const db = dexieV2(name, async (tx) => {
      for (const note of await tx.table('notes').toArray()) await tx.table('notes').update(note.id, { done: 0 });
      await tx.table('notes').add({ title: 'added in the upgrade', tags: [], done: 1 });
    });
    const opened = await protectUpgrade(dexieOpen(db), options);
    expect([opened.version, opened.backup.status]).toEqual([20, 'taken']);
    expect(await db.notes.where('done').equals(0).count()).toBe(3);
    expect(await db.notes.count()).toBe(4);
    db.close();
  });

  test('no snapshot when nothing is upgraded: a fresh database, or one at the declared version', async () => {
    const { storage, options } = environment();
    const name = unique('dexie-same');
    const fresh = await protectUpgrade(dexieOpen(dexieV1(name)), options);
    expect([fresh.oldVersion, fresh.version, fresh.backup.status]).toEqual([0, 10, 'not-needed']);
    fresh.opened.close();
    const again = await protectUpgrade(dexieOpen(dexieV1(name)), options);
    expect([again.oldVersion, again.version, again.backup.status]).toEqual([10, 10, 'not-needed']);
    again.opened.close();
    expect(await listSnapshots({ storage })).toEqual([]);
  });

  test("Dexie's own arithmetic: x10, a newer installed database, and a schema patch (+1)", async () => {
    const name = unique('dexie-patch');
    await seedDexie(name);
    const at = (version: number, layout = {}) => ({ name, version, layout });
    const declared = dexieV1(name);
    expect(dexieVersion(declared, at(0))).toBe(10);
    const installed = (await import('../src/upgrade/drift.js')).installedLayout;
    const raw = await request(indexedDB.open(name));
    const layout = installed(raw);
    raw.close();
    expect(dexieVersion(declared, at(10, layout))).toBe(10);
    expect(dexieVersion(declared, at(30, layout))).toBe(30);
    // An index declared without a version bump: Dexie patches the database at its version + 1.
    const extended = new Dexie(name);
    extended.version(1).stores({ notes: '++id, title, *tags, done' });
    expect(dexieVersion(extended, at(10, layout))).toBe(11);
    const { storage, options } = environment();
    const patched = await protectUpgrade(dexieOpen(extended), options);
    expect([patched.oldVersion, patched.version, patched.backup.status]).toEqual([10, 11, 'taken']);
    patched.opened.close();
    expect((await listSnapshots({ storage, database: name }))[0]?.version).toBe(10);
  });
});

type UpgradeTx = IDBPTransaction<unknown, string[], 'versionchange'>;

describe('protectUpgrade with idb', () => {
  async function seedIdb(name: string): Promise<void> {
    const db = await openDB(name, 1, {
      upgrade: (database) => database.createObjectStore('notes', { keyPath: 'id' }),
    });
    for (let id = 1; id <= 5; id++) await db.put('notes', { id, text: `note ${id}` });
    db.close();
  }

  test('an upgrade callback that throws after an await: committed anyway, detected and restored', async () => {
    const { options } = environment();
    const name = unique('idb-late');
    await seedIdb(name);
    const before = await dump(indexedDB, name);
    const error = await rejection(
      protectUpgrade(
        {
          name,
          version: 2,
          open: ({ track }) =>
            openDB(name, 2, {
              upgrade: track(async (db: IDBPDatabase, _old: number, _new: number | null, transaction: UpgradeTx) => {
                db.createObjectStore('tags');
                await transaction.objectStore('notes').put({ id: 1, text: 'rewritten' });
                // Not an IndexedDB request: the versionchange transaction commits while this waits.
                await sleep(30);
                await transaction.objectStore('notes').put({ id: 2, text: 'too late' });
              }),
            }),
        },
        options,
      ),
    );
    expect(error).toBeInstanceOf(ProtectedOpenError);
    const failure = error as ProtectedOpenError;
    expect(failure).toMatchObject({
      code: 'protected_upgrade_failed',
      oldVersion: 1,
      newVersion: 2,
      installedVersion: 2,
      committed: true,
    });
    // Engines name the late request's failure differently: the transaction is inactive, or already finished.
    expect(['TransactionInactiveError', 'InvalidStateError']).toContain((failure.cause as DOMException).name);
    expect(failure.restored).toMatchObject({ version: 1, counts: { notes: 5 } });
    expect(failure.message).toContain('was restored');
    expect(await dump(indexedDB, name)).toEqual(before);
  });

  test("restore: 'manual' leaves the committed upgrade for the app to undo with error.restore()", async () => {
    const { options } = environment();
    const name = unique('idb-manual');
    await seedIdb(name);
    const before = await dump(indexedDB, name);
    const error = (await rejection(
      protectUpgrade(
        {
          name,
          version: 2,
          open: () => openDB(name, 2, { upgrade: (_db, _o, _n, tx) => void tx.objectStore('notes').delete(3) }),
        },
        { ...options, restore: 'manual', verify: async (db) => (await db.count('notes')) === 5 },
      ),
    )) as ProtectedOpenError;
    expect(error).toMatchObject({ code: 'protected_upgrade_failed', committed: true, restored: null });
    expect(error.message).toContain("restore: 'manual'");
    expect(await installedVersion(name)).toBe(2);
    await error.restore();
    expect(await dump(indexedDB, name)).toEqual(before);
  });

  test('a target version that is not a whole number is an OptionsError before anything is read', async () => {
    const { options } = environment();
    const name = unique('idb-bad');
    let opened = false;
    const open = () => {
      opened = true;
    };
    await expect(protectUpgrade({ name, version: 1.5, open }, options)).rejects.toBeInstanceOf(OptionsError);
    await expect(protectUpgrade({ name, version: () => Number.NaN, open }, options)).rejects.toThrow(/version/);
    expect(opened).toBe(false);
  });
});

describe('protectUpgrade with localForage and PouchDB', () => {
  test('a new localForage store upgrades the database by one, after a snapshot of the old one', async () => {
    const { default: localforage } = await import('localforage');
    const { storage, options } = environment();
    const name = unique('lf');
    const main = localforage.createInstance({ name, storeName: 'keyvaluepairs' });
    await protectUpgrade(localForageOpen(main), options);
    await main.setItem('profile', { user: 'ada', since: new Date(2020, 1, 1) });
    const version = await installedVersion(name);
    const drafts = localforage.createInstance({ name, storeName: 'drafts' });
    const protectedOpen = await protectUpgrade(localForageOpen(drafts), options);
    expect([protectedOpen.oldVersion, protectedOpen.version, protectedOpen.backup.status]).toEqual([
      version,
      version + 1,
      'taken',
    ]);
    await drafts.setItem('d1', 'text');
    expect(await main.getItem('profile')).toEqual({ user: 'ada', since: new Date(2020, 1, 1) });
    const snapshot = await verifySnapshot((await listSnapshots({ storage, database: name }))[0]!.id, { storage });
    expect(snapshot).toMatchObject({ version, counts: { keyvaluepairs: 1 } });
  });

  test('a PouchDB database written by its own API: opened at its adapter version, never snapshotted for nothing', async () => {
    const PouchDB = await loadPouchDB();
    const { storage, options } = environment();
    const name = unique('pouch');
    const first = await protectUpgrade(
      pouchDBOpen(name, () => new PouchDB(name)),
      options,
    );
    expect([first.oldVersion, first.version]).toEqual([0, POUCHDB_IDB_VERSION]);
    await first.opened.put({ _id: 'n1', text: 'hello' });
    await first.opened.close();
    const second = await protectUpgrade(
      pouchDBOpen(name, () => new PouchDB(name)),
      options,
    );
    expect(second.backup.status).toBe('not-needed');
    expect(await second.opened.get('n1')).toMatchObject({ text: 'hello' });
    await second.opened.close();
    expect(await listSnapshots({ storage })).toEqual([]);
  });
});

describe('protected opens take turns', () => {
  test('a second protected open of the database starts only after the first one (snapshot, upgrade) is over', async () => {
    const { options } = environment();
    const name = unique('turns');
    await seedDexie(name);
    const events: string[] = [];
    const slowOpen = (label: string, version: number) => ({
      name,
      version,
      open: async () => {
        events.push(`${label} opens`);
        const db = await openDB(name, version, {
          upgrade: (database, oldVersion) => {
            if (oldVersion < 20) database.createObjectStore(`store${version}`);
          },
        });
        await sleep(50);
        events.push(`${label} done`);
        return db;
      },
    });
    const [first, second] = await Promise.all([
      protectUpgrade(slowOpen('first', 20), options),
      protectUpgrade(slowOpen('second', 20), options),
    ]);
    // Whichever took the lock first (both start at once) ran whole before the other began.
    const [ran] = events;
    const other = ran === 'first opens' ? 'second' : 'first';
    const order = ran === 'first opens' ? ['first', 'second'] : ['second', 'first'];
    expect(events).toEqual([`${order[0]} opens`, `${order[0]} done`, `${other} opens`, `${other} done`]);
    const backups = { first: first.backup.status, second: second.backup.status };
    expect([backups[order[0] as 'first'], backups[other]]).toEqual(['taken', 'not-needed']);
    first.opened.close();
    second.opened.close();
  });

  test('a waiting protected open gives up at blockedTimeout, naming the other context or call', async () => {
    const { options } = environment();
    const name = unique('turns-timeout');
    let finish: () => void = () => {};
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => (started = resolve));
    const open = () => {
      started();
      return new Promise<void>((resolve) => (finish = resolve));
    };
    const held = protectUpgrade({ name, version: 1, open }, options);
    // The first one holds the lock once its open runs.
    await running;
    const error = await rejection(
      protectUpgrade({ name, version: 1, open: () => undefined }, { ...options, blockedTimeout: 100 }),
    );
    expect(error).toMatchObject({ name: 'OpenError', code: 'blocked' });
    expect(['other-context', 'queued-request']).toContain((error as { waitedOn: string }).waitedOn);
    finish();
    await held;
  });
});

describe('work under the lock and queued calls of the same page', () => {
  test('an openDatabase made while a protected open holds the lock waits for it, and neither stalls', async () => {
    const { options } = environment();
    const name = unique('nested');
    const stores = { notes: { keyPath: 'id' } };
    const plan = definePlan({
      versions: [
        { version: 1, stores },
        { version: 2, stores },
      ],
    });
    (await openDatabase(name, definePlan({ versions: [{ version: 1, stores }] }), options)).db.close();
    let entered: () => void = () => {};
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const protectedOpen = protectUpgrade(
      {
        name,
        version: 1,
        open: async () => {
          entered();
          await sleep(50);
          const db = await openDB(name);
          db.addEventListener('versionchange', () => db.close());
          return db;
        },
      },
      options,
    );
    await inside;
    const started = Date.now();
    // Queued behind the protected open's lock: the protected open's own requests must not queue behind it.
    const [opened, upgraded] = await Promise.all([
      protectedOpen,
      openDatabase(name, plan, { ...options, blockedTimeout: 5000 }),
    ]);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(upgraded.db.version).toBe(2);
    opened.opened.close();
    upgraded.db.close();
  });
});
