// Migration cases: the same database (version 1, `count` records) upgraded to version 2 with the same change
// (rename title -> name, price string -> number, drop legacy) by each peer. Timed from the open() call until the
// opened connection is handed back, i.e. the versionchange transaction has committed.
import Dexie from 'dexie';
import { openDB } from 'idb';
import {
  convertField,
  definePlan,
  dropField,
  openDatabase,
  renameField,
  snapshotPolicy,
  type SnapshotPolicyOptions,
  updateRecords,
} from '../src/index.js';
import { z } from 'zod';
import { INDEX, KEY_PATH, STORE, makeItem, migrateItem, type ItemV1, type ItemV2 } from './data.js';

export interface MigrateCase {
  readonly id: string;
  readonly label: string;
  /** Work done before the timed region (e.g. building the prebuilt values of the write floor). */
  readonly setup?: (count: number) => unknown;
  /**
   * The timed upgrade of database `name` from version 1 to 2. Cases given a time `limit` (ms) may stop early: they
   * abort the upgrade (rolled back) and resolve with the number of records they had done.
   */
  readonly run: (name: string, count: number, prepared: unknown, limit?: number) => Promise<void | Outcome>;
  /** `original`: the case upgrades to version 2 without changing a record (checked against version 1's records). */
  readonly leaves?: 'original';
  /** The version the case upgrades to (default 2). */
  readonly finalVersion?: number;
  /** Why this engine cannot run the case (e.g. a missing API), or undefined when it can. */
  readonly unavailable?: () => string | undefined;
}

/** A capped case that hit its time limit: the upgrade was aborted after `done` records. */
export interface Stopped {
  readonly stoppedAfter: number;
}

/** What a run tells besides its time: where it stopped, or how much of it was the snapshot (the upgrade report's). */
export interface Outcome {
  readonly stoppedAfter?: number;
  readonly snapshotMs?: number;
}

/** Resolves with `Stopped` instead of rejecting when the upgrade was aborted on purpose. */
function stoppedOr<T>(work: Promise<T>, stop: { done: number; stopped: boolean }): Promise<T | Stopped> {
  return work.catch((error: unknown) => {
    if (stop.stopped) return { stoppedAfter: stop.done };
    throw error;
  });
}

const layout = { [STORE]: { keyPath: KEY_PATH, indexes: { [INDEX]: INDEX } } };

const threePassPlan = definePlan({
  versions: [
    { version: 1, stores: layout },
    {
      version: 2,
      stores: layout,
      steps: [
        renameField(STORE, 'title', 'name'),
        convertField(STORE, 'price', (price: string) => Number(price)),
        dropField(STORE, 'legacy'),
      ],
    },
  ],
});

/** A user who skipped releases: 1 -> 5 in one open, four versions of one record step each (fused into one pass). */
const catchUpPlan = definePlan({
  versions: [
    { version: 1, stores: layout },
    { version: 2, stores: layout, steps: [renameField(STORE, 'title', 'name')] },
    { version: 3, stores: layout, steps: [convertField(STORE, 'price', (price: string) => Number(price))] },
    { version: 4, stores: layout, steps: [dropField(STORE, 'legacy')] },
    { version: 5, stores: layout, steps: [convertField(STORE, 'qty', (qty: number) => qty)] },
  ],
});

const onePassPlan = definePlan({
  versions: [
    { version: 1, stores: layout },
    {
      version: 2,
      stores: layout,
      steps: [updateRecords<ItemV1 | ItemV2>(STORE, migrateItem, { name: 'migrate items' })],
    },
  ],
});

// Validators of the items as they are at version 1 and after the migration: every field, as an app would declare.
const ItemV1Schema = z.object({
  id: z.number(),
  sku: z.string(),
  title: z.string(),
  category: z.string(),
  price: z.string(),
  qty: z.number(),
  createdAt: z.date(),
  tags: z.array(z.string()),
  legacy: z.string(),
});
const ItemV2Schema = ItemV1Schema.omit({ title: true, legacy: true }).extend({ name: z.string(), price: z.number() });

/** Version 2 changes no record and declares a validator: every record is read and checked, nothing written. */
const validateOnlyPlan = definePlan({
  versions: [
    { version: 1, stores: layout },
    { version: 2, stores: layout, validators: { [STORE]: ItemV1Schema } },
  ],
});

/** The one-pass migration with a validator of the result: checked inside the walk, no extra read. */
const validatedOnePassPlan = definePlan({
  versions: [
    { version: 1, stores: layout },
    {
      version: 2,
      stores: layout,
      steps: [updateRecords<ItemV1 | ItemV2>(STORE, migrateItem, { name: 'migrate items' })],
      validators: { [STORE]: ItemV2Schema },
    },
  ],
});

function onUpgrade(name: string, work: (db: IDBDatabase, tx: IDBTransaction) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 2);
    req.onupgradeneeded = () => {
      try {
        work(req.result, req.transaction!);
      } catch (error) {
        req.transaction!.abort();
        reject(error);
      }
    };
    req.onsuccess = () => {
      req.result.close();
      resolve();
    };
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error('blocked'));
  });
}

const BATCH = 1000;

/**
 * The one-step migration with a snapshot first (`evolve-1pass-snap`, and the snapshot diagnostics with other
 * policy options). The snapshot's part of the time says whether it or the migration after it costs the extra.
 */
export async function protectedOpen(name: string, options: SnapshotPolicyOptions = {}): Promise<Outcome> {
  const { db, upgrade } = await openDatabase(name, onePassPlan, { snapshots: snapshotPolicy(options) });
  db.close();
  if (upgrade?.backup.status !== 'taken') throw new Error('openDatabase took no snapshot');
  return { snapshotMs: upgrade.report.snapshotMs };
}

export const migrateCases: readonly MigrateCase[] = [
  {
    id: 'evolve-3pass',
    label: 'idb-evolve renameField+convertField+dropField (3 helpers, one fused pass), snapshot off',
    run: async (name) => {
      const { db } = await openDatabase(name, threePassPlan, { snapshots: false });
      db.close();
    },
  },
  {
    id: 'evolve-1pass',
    label: 'idb-evolve updateRecords (1 pass), snapshot off',
    run: async (name) => {
      const { db } = await openDatabase(name, onePassPlan, { snapshots: false });
      db.close();
    },
  },
  {
    id: 'evolve-catchup',
    label: 'idb-evolve 1 -> 5 catch-up, 4 versions of one record step each (one fused pass), snapshot off',
    finalVersion: 5,
    run: async (name) => {
      const { db } = await openDatabase(name, catchUpPlan, { snapshots: false });
      db.close();
    },
  },
  {
    id: 'evolve-validate',
    label: 'idb-evolve validator over the untouched store (read pass, no write), snapshot off',
    leaves: 'original',
    run: async (name, count) => {
      const { db, upgrade } = await openDatabase(name, validateOnlyPlan, { snapshots: false });
      db.close();
      if (upgrade?.report.versions[0]?.validated[STORE] !== count) throw new Error('not every record was validated');
    },
  },
  {
    id: 'evolve-1pass-validated',
    label: 'idb-evolve updateRecords (1 pass) with a validator of the result, snapshot off',
    run: async (name, count) => {
      const { db, upgrade } = await openDatabase(name, validatedOnePassPlan, { snapshots: false });
      db.close();
      if (upgrade?.report.versions[0]?.validated[STORE] !== count) throw new Error('not every record was validated');
    },
  },
  {
    id: 'evolve-1pass-snap',
    label: 'idb-evolve updateRecords (1 pass), snapshotPolicy(): OPFS snapshot first',
    run: (name) => protectedOpen(name),
  },
  {
    id: 'raw-cursor',
    label: 'raw cursor.update + continue',
    run: (name, _count, _prepared, limit = Infinity) => {
      const started = performance.now();
      const stop = { done: 0, stopped: false };
      return stoppedOr(
        onUpgrade(name, (_db, tx) => {
          const req = tx.objectStore(STORE).openCursor();
          req.onsuccess = () => {
            const cursor = req.result;
            if (cursor === null) return;
            if ((stop.done & 255) === 0 && performance.now() - started > limit) {
              stop.stopped = true;
              tx.abort();
              return;
            }
            cursor.update(migrateItem(cursor.value as ItemV1));
            stop.done++;
            cursor.continue();
          };
        }),
        stop,
      );
    },
  },
  {
    id: 'idb-cursor',
    label: 'idb (jakearchibald) cursor.update + continue',
    run: async (name, _count, _prepared, limit = Infinity) => {
      const started = performance.now();
      const stop = { done: 0, stopped: false };
      const opened = stoppedOr(
        openDB(name, 2, {
          async upgrade(_db, _old, _new, tx) {
            let cursor = await tx.objectStore(STORE).openCursor();
            while (cursor) {
              if ((stop.done & 255) === 0 && performance.now() - started > limit) {
                stop.stopped = true;
                tx.abort();
                return;
              }
              void cursor.update(migrateItem(cursor.value as ItemV1));
              stop.done++;
              cursor = await cursor.continue();
            }
          },
          blocked: () => {
            throw new Error('blocked');
          },
        }),
        stop,
      );
      const result = await opened;
      if ('stoppedAfter' in result) return result;
      result.close();
      return undefined;
    },
  },
  {
    id: 'dexie-modify',
    label: 'Dexie 4 Collection.modify in upgrade',
    run: async (name) => {
      // Dexie multiplies versions by 10: 0.1 and 0.2 are the native versions 1 and 2 the other peers use.
      const db = new Dexie(name);
      db.version(0.1).stores({ [STORE]: `${KEY_PATH}, ${INDEX}` });
      db.version(0.2)
        .stores({ [STORE]: `${KEY_PATH}, ${INDEX}` })
        .upgrade((tx) =>
          tx
            .table(STORE)
            .toCollection()
            .modify((item: ItemV1) => {
              migrateItem(item);
            }),
        );
      await db.open();
      db.close();
    },
  },
  {
    id: 'raw-getall-put',
    label: 'raw getAll(range, 1000) + put',
    run: (name) =>
      onUpgrade(name, (_db, tx) => {
        const store = tx.objectStore(STORE);
        const next = (after: number | undefined): void => {
          const req = store.getAll(after === undefined ? null : IDBKeyRange.lowerBound(after, true), BATCH);
          req.onsuccess = () => {
            const batch = req.result as ItemV1[];
            for (const record of batch) store.put(migrateItem(record));
            if (batch.length === BATCH) next(batch[batch.length - 1]!.id);
          };
        };
        next(undefined);
      }),
  },
  {
    id: 'write-floor',
    label: 'write floor: put of prebuilt values',
    setup: (count) => {
      const values: ItemV2[] = new Array(count);
      for (let i = 1; i <= count; i++) values[i - 1] = migrateItem(makeItem(i));
      return values;
    },
    run: (name, _count, prepared) =>
      onUpgrade(name, (_db, tx) => {
        const store = tx.objectStore(STORE);
        for (const value of prepared as ItemV2[]) store.put(value);
      }),
  },
];
