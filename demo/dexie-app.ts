// The "Dexie app" panel: a database that Dexie creates and upgrades with its own schema code, protected by
// protectUpgrade (a snapshot first; a failed upgrade reported with it, and restored when it had committed), and
// adopted into an idb-evolve plan. Also how an idb upgrade callback that awaits something else "commits anyway".
import Dexie from 'dexie';
import { type IDBPDatabase, type IDBPTransaction, openDB } from 'idb';
import { dexieOpen, type ForeignOpen, protectUpgrade, type SnapshotPolicy } from '../src/index.js';
import { adoptDatabase } from '../src/tooling/index.js';
import type { Counts } from './api.js';
import { counts as countsOf, deleteDatabase } from './inspect.js';
import { errorData, type ErrorData } from './shared.js';

/** What the upgrade does: works, Dexie's upgrader throws halfway, or an idb callback fails after an await. */
export type DexieUpgradeMode = 'works' | 'dexie-throws' | 'idb-await';

/** How a protected upgrade of the Dexie app ended, as plain data. */
export interface DexieOutcome {
  readonly ok: boolean;
  readonly mode: DexieUpgradeMode;
  readonly backup: string;
  readonly snapshotId: string | null;
  readonly error: ErrorData | null;
  /** For a ProtectedOpenError: whether the failure had changed the database, and whether it was restored. */
  readonly committed: boolean | null;
  readonly restored: boolean;
  readonly before: Counts;
  readonly after: Counts;
  /** Every friend, before and after, compared as JSON: true when the data is unchanged. */
  readonly intact: boolean;
}

/** The panel's part of `window.demo`. */
export interface DexieDemoApi {
  readonly database: string;
  /** Deletes the database and lets Dexie create it at `db.version(1)` (IndexedDB 10) with `count` friends. */
  create(count: number): Promise<Counts>;
  /** Opens with the version 2 code under protectUpgrade. */
  upgrade(mode: DexieUpgradeMode): Promise<DexieOutcome>;
  /** The plan module adopting the database as it is installed. */
  adopt(): Promise<string>;
  counts(): Promise<Counts>;
}

interface Friend {
  id?: number;
  name: string;
  email?: string;
}

const V1 = { friends: '++id, name' };
const V2 = { friends: '++id, name, email' };

function friendsV1(name: string): Dexie {
  const db = new Dexie(name);
  db.version(1).stores(V1);
  return db;
}

/** The release 2 code: emails for everyone; `fail` makes the upgrader throw after half the friends. */
function friendsV2(name: string, fail: boolean): Dexie {
  const db = new Dexie(name);
  db.version(1).stores(V1);
  db.version(2)
    .stores(V2)
    .upgrade(async (tx) => {
      let seen = 0;
      await tx
        .table('friends')
        .toCollection()
        .modify((friend: Friend) => {
          if (fail && ++seen > 50) throw new Error(`upgrader bug at friend ${friend.id}`);
          friend.email = `${friend.name.toLowerCase()}@example.org`;
        });
    });
  return db;
}

/** The same upgrade written with idb, awaiting a timer midway: the versionchange transaction commits there. */
function idbAwaitingOpen(name: string): ForeignOpen<IDBPDatabase> {
  type Upgrade = IDBPTransaction<unknown, string[], 'versionchange'>;
  return {
    name,
    version: 20,
    open: ({ track }) =>
      openDB(name, 20, {
        upgrade: track(async (_db: IDBPDatabase, _old: number, _new: number | null, transaction: Upgrade) => {
          const store = transaction.objectStore('friends');
          store.createIndex('email', 'email');
          const first = (await store.get(1)) as Friend;
          await store.put({ ...first, email: 'first@example.org' });
          await new Promise((resolve) => setTimeout(resolve, 20)); // e.g. a fetch: IndexedDB commits meanwhile
          await store.put({ ...first, email: 'too late' });
        }),
      }),
  };
}

async function allFriends(name: string): Promise<string> {
  const db = friendsV1(name);
  try {
    await db.open();
    return JSON.stringify(await db.table('friends').toArray());
  } catch {
    return '';
  } finally {
    db.close();
  }
}

/** The Dexie app panel's actions, with the page's snapshot policy and log. */
export function dexieApp(
  database: string,
  snapshots: SnapshotPolicy,
  log: (kind: string, text: string) => void,
): DexieDemoApi {
  const counts = () => countsOf(database);
  return {
    database,
    counts,
    async create(count) {
      await deleteDatabase(database, () => log('dexie', 'deletion blocked: close the other tabs'));
      const db = friendsV1(database);
      await db.table('friends').bulkAdd(Array.from({ length: count }, (_, i) => ({ name: `Friend${i + 1}` })));
      db.close();
      log('dexie', `Dexie created "${database}" at db.version(1) = IndexedDB 10 with ${count} friends`);
      return counts();
    },
    async upgrade(mode) {
      const before = await counts();
      const data = await allFriends(database);
      try {
        const result =
          mode === 'idb-await'
            ? await protectUpgrade(idbAwaitingOpen(database), { snapshots })
            : await protectUpgrade(dexieOpen(friendsV2(database, mode !== 'works')), { snapshots });
        result.opened.close();
        const snapshotId = result.backup.status === 'taken' ? result.backup.snapshot.id : null;
        log('dexie', `upgraded ${result.oldVersion} -> ${result.version}; backup ${result.backup.status}`);
        const after = await counts();
        const outcome = { ok: true, mode, backup: result.backup.status, snapshotId, error: null, committed: null };
        return { ...outcome, restored: false, before, after, intact: (await allFriends(database)) === data };
      } catch (error) {
        const e = error as { snapshot?: { id: string } | null; committed?: boolean; restored?: unknown };
        log('dexie', `protected upgrade failed: ${(error as Error).message}`);
        const after = await counts();
        return {
          ok: false,
          mode,
          backup: e.snapshot ? 'taken' : 'none',
          snapshotId: e.snapshot?.id ?? null,
          error: errorData(error),
          committed: e.committed ?? null,
          restored: e.restored !== null && e.restored !== undefined,
          before,
          after,
          intact: (await allFriends(database)) === data,
        };
      }
    },
    async adopt() {
      const { code } = await adoptDatabase(database, { library: 'dexie' });
      log('dexie', `adopted "${database}" into a plan`);
      return code;
    },
  };
}
