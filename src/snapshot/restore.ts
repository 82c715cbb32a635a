import { OpenError, SnapshotError, UpgradeError } from '../errors.js';
import {
  type BlockedOptions,
  deleteDatabase,
  type IndexedDB,
  type IndexedDBOptions,
  installedVersion,
  openStart,
  resolveIndexedDB,
  settleRequest,
} from '../idb/request.js';
import { checkOptions, rule } from '../options.js';
import type { Plan } from '../plan/define-plan.js';
import { runUpgrade, type UpgradeReport } from '../upgrade/run-upgrade.js';
import type { ProgressCallback } from '../progress.js';
import { createStore, type NormalizedLayout, type NormalizedStore } from '../plan/layout.js';
import { headerLayout, SnapshotReader, type SnapshotHeader, type SnapshotInfo, type SnapshotRecord } from './format.js';
import type { SnapshotStorage } from './storage.js';
import { readFile, storageOf, verifySnapshotFile, type SnapshotStorageOption } from './manage.js';
import { evaluateKeyPath, indexEntries, isValidKey, keyId } from '../idb/keys.js';
import { withUpgradeLock } from '../upgrade/election.js';
import { remove } from '../upgrade/step-store.js';
import { type Duplicate, isBareConstraint, uniqueViolation } from '../upgrade/constraints.js';
import { TransactionGuard } from '../idb/transaction-guard.js';

/** Options of {@link restoreSnapshot}. */
export interface RestoreOptions extends SnapshotStorageOption, IndexedDBOptions, BlockedOptions {
  /** Phase `verify` (bytes of the file checked), then `restore` (records loaded). */
  readonly onProgress?: ProgressCallback;
  /**
   * The app's plan, when it is newer than the snapshot (a file exported on an older release, restored on a device
   * that runs a newer one): the records are loaded and then upgraded through the plan's pending versions, in one
   * versionchange transaction, all or nothing. The snapshot's layout must be the plan's at that version.
   */
  readonly plan?: Plan;
  /** Allow restoring a snapshot taken of a database with another name (a copy). */
  readonly allowOtherDatabase?: boolean;
}

/** What {@link restoreSnapshot} did. */
export interface RestoreReport {
  readonly snapshot: SnapshotInfo;
  readonly database: string;
  /** Version the database has now. */
  readonly version: number;
  /** Records loaded per store. */
  readonly counts: Readonly<Record<string, number>>;
  /**
   * True when the database had to be deleted first (it was at the snapshot's version or newer). A restore
   * interrupted in that window is redone by the next `openDatabase` or `restoreSnapshot`.
   */
  readonly recreated: boolean;
  /** The upgrade through `plan` that followed the load, when one ran. */
  readonly upgrade: UpgradeReport | null;
  readonly ms: number;
}

/** Maps a record of the snapshot to what is loaded: `remove` drops it. Used to carry data down on downgrade. */
export type RecordMapping = (store: string, value: unknown, key: IDBValidKey | undefined) => unknown;

/** Target of a load: the snapshot's own version and layout, unless carried down to an older plan version. */
export interface LoadTarget {
  /** The version the database is opened at: the snapshot's, a carried-down one, or a plan's (see `upgrade`). */
  readonly version: number;
  /** The layout the snapshot's records are loaded into. */
  readonly layout: NormalizedLayout;
  /** After loading, upgrade from the snapshot's version through this plan to `version`, in the same transaction. */
  readonly upgrade?: Plan;
  readonly map?: RecordMapping;
  /** The target store a store of the snapshot is loaded into (stores renamed since the target version). */
  readonly storeOf?: (store: string) => string;
}

interface Journal {
  readonly database: string;
  readonly snapshot: string;
  readonly started: string;
}

const journalName = (database: string): string => `journal@${encodeURIComponent(database)}.json`;

async function writeJournal(storage: SnapshotStorage, journal: Journal): Promise<void> {
  const sink = await storage.create(journalName(journal.database));
  await sink.write(new TextEncoder().encode(JSON.stringify(journal)));
  await sink.close();
}

/** Forgets an interrupted restore (its snapshot is gone, so it can never be finished). */
export async function clearPendingRestore(storage: SnapshotStorage, database: string): Promise<void> {
  await storage.delete(journalName(database));
}

/** The snapshot an interrupted restore of `database` was loading, if one was interrupted. */
export async function pendingRestore(storage: SnapshotStorage, database: string): Promise<string | undefined> {
  let file: Blob | undefined;
  try {
    file = await storage.read(journalName(database));
  } catch {
    return undefined; // No usable storage: no journal could have been written there either.
  }
  if (file === undefined) return undefined;
  try {
    const journal = JSON.parse(await file.text()) as Partial<Journal>;
    return typeof journal.snapshot === 'string' ? journal.snapshot : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Replaces a database with a snapshot: its version, layout and every record.
 *
 * The whole file is checked first (format, every record, counts, checksum); nothing is touched unless it passes.
 * When the database is older than the snapshot (or absent), the load is one versionchange transaction: all or
 * nothing. When it is at the snapshot's version or newer (a downgrade), IndexedDB requires deleting it first; a
 * journal in the snapshot storage records the restore until it completes, and an interrupted one is redone by the
 * next {@link openDatabase} or restoreSnapshot.
 *
 * @example
 * ```ts
 * const [latest] = await listSnapshots({ database: 'app' })
 * await restoreSnapshot('app', latest.id)
 * ```
 */
export async function restoreSnapshot(name: string, id: string, options: RestoreOptions = {}): Promise<RestoreReport> {
  return restoreInto(name, id, options, undefined);
}

/** {@link restoreSnapshot} with an optional target other than the snapshot's own version and layout. */
export async function restoreInto(
  name: string,
  id: string,
  options: RestoreOptions,
  target: LoadTarget | undefined,
  lockHeld = false,
): Promise<RestoreReport> {
  checkOptions('restoreSnapshot', options, {
    onProgress: rule.function,
    onBlocked: rule.function,
    blockedTimeout: rule.timeout,
    allowOtherDatabase: rule.boolean,
    plan: { test: (v) => typeof (v as Partial<Plan> | null)?.get === 'function', expected: 'a plan from definePlan()' },
  });
  const started = Date.now();
  const { factory, keyRange } = resolveIndexedDB(options);
  const storage = storageOf(options, 'restoreSnapshot');
  const file = await readFile(storage, id);
  const verifying = { phase: 'verify', unit: 'bytes', total: file.size } as const;
  options.onProgress?.({ ...verifying, done: 0 });
  const snapshot = await verifySnapshotFile(file, id);
  options.onProgress?.({ ...verifying, done: file.size });
  if (snapshot.database !== name && options.allowOtherDatabase !== true) {
    throw new SnapshotError(
      'snapshot_wrong_database',
      `Snapshot "${id}" is of database "${snapshot.database}", not "${name}" (pass allowOtherDatabase to restore it as a copy)`,
      { snapshotId: id },
    );
  }
  if (target?.map !== undefined || target?.storeOf !== undefined) await checkMapping(factory, file, id, target);
  const reader = new SnapshotReader(file, id);
  const header = await reader.header();
  const upgrade = upgradeThrough(options.plan, header, id);
  const version = target?.version ?? upgrade?.latest ?? header.version;
  const layout = target?.layout ?? headerLayout(header, id);
  // Held from the deletion to the load: no other tab's open may recreate the database in between. A caller that
  // holds it already (a protected open restoring its snapshot) would wait on itself: Web Locks are not reentrant.
  const locked = <T>(work: () => Promise<T>): Promise<T> =>
    lockHeld ? work() : withUpgradeLock(factory, name, options, 'the restore did not start', work);
  const done = await locked(async () => {
    const installed = await installedVersion(name, { indexedDB: factory, IDBKeyRange: keyRange });
    const recreated = installed >= version;
    if (recreated) {
      await writeJournal(storage, { database: name, snapshot: id, started: new Date().toISOString() });
      await deleteDatabase(
        factory,
        name,
        options,
        'the restore did not start (the deletion still goes ahead when they close, and the next open finishes the restore)',
      ).catch((error: unknown) => {
        if (error instanceof OpenError && error.code === 'blocked') throw error;
        throw new SnapshotError('restore_failed', `Could not delete "${name}" to restore it`, { cause: error });
      });
    }
    const loadTarget: LoadTarget = { ...target, version, layout, ...(upgrade === undefined ? {} : { upgrade }) };
    const loaded = await load({ factory, keyRange }, name, reader, header, loadTarget, options).catch(
      async (error: unknown) => {
        throw await explainFailure(error, { factory, keyRange }, name, file, id, loadTarget, options);
      },
    );
    return { recreated, loaded };
  });
  const { recreated, loaded } = done;
  // Also clears the journal of an interrupted restore this one redid (the database was absent then: not `recreated`).
  await storage.delete(journalName(name));
  return { snapshot, database: name, version, ...loaded, recreated, ms: Date.now() - started };
}

/** The plan to upgrade through after loading, when it is newer than the snapshot; refused when it lacks its version. */
function upgradeThrough(plan: Plan | undefined, header: SnapshotHeader, id: string): Plan | undefined {
  if (plan === undefined || plan.latest <= header.version) return undefined;
  if (plan.get(header.version) === undefined) {
    throw new SnapshotError(
      'restore_failed',
      `Snapshot "${id}" is at version ${header.version}, which the plan does not declare: it cannot be upgraded through it`,
      { snapshotId: id, version: header.version },
    );
  }
  return plan;
}

/** A record of the snapshot as it is loaded: its primary key, the value after the mapping, its target store. */
interface LoadedRecord {
  /** The store it comes from in the snapshot. */
  readonly from: string;
  /** Stored for out-of-line keys, read from the value at the store's key path otherwise. */
  readonly key: IDBValidKey | undefined;
  readonly value: unknown;
  /** The store it goes to, which exists in the target layout. */
  readonly name: string;
  readonly store: NormalizedStore;
}

/** What `record` becomes in `target`, or undefined when it is dropped (mapped to `remove`, or its store is gone). */
function loadedAs(record: SnapshotRecord, header: SnapshotHeader, target: LoadTarget): LoadedRecord | undefined {
  const { name: from, keyPath } = header.stores[record.store]!;
  const key =
    record.key ?? (keyPath === null ? undefined : (evaluateKeyPath(record.value, keyPath) as IDBValidKey | undefined));
  const value = target.map === undefined ? record.value : target.map(from, record.value, key);
  const name = target.storeOf?.(from) ?? from;
  const store = target.layout[name];
  return value === remove || store === undefined ? undefined : { from, key, value, name, store };
}

/**
 * Runs every record through a carry-down mapping before anything is deleted, so that a `down` transform that
 * throws, or returns a record IndexedDB cannot store, without a valid key, or colliding with another record's
 * primary key (a put would silently overwrite it) or unique index key, fails the downgrade while the database is
 * still as it was: the load itself happens after the database was deleted.
 */
async function checkMapping(factory: IDBFactory, file: Blob, id: string, target: LoadTarget): Promise<void> {
  const reader = new SnapshotReader(file, id);
  const header = await reader.header();
  // Keys taken so far, by target store and by its unique indexes.
  const taken = new Map<string, Set<string>>();
  for (let records = await reader.next(1000); records !== null; records = await reader.next(1000)) {
    for (const record of records) {
      const loaded = loadedAs(record, header, target);
      if (loaded === undefined) continue;
      const { from, key, value, name, store } = loaded;
      const context = { snapshotId: id, store: from, ...(key === undefined ? {} : { key }) };
      const fail = (problem: string, cause?: unknown): never => {
        throw new SnapshotError(
          'restore_failed',
          `Carried down to version ${target.version}, a record of store "${from}" ${problem}`,
          {
            ...context,
            ...(cause === undefined ? {} : { cause }),
          },
        );
      };
      try {
        structuredClone(value);
      } catch (error) {
        fail(`cannot be stored: ${(error as Error).message}`, error);
      }
      const claim = (slot: string, claimed: IDBValidKey, what: string): void => {
        const ids = taken.get(slot) ?? new Set<string>();
        taken.set(slot, ids);
        const claimedId = keyId(claimed);
        if (ids.has(claimedId)) fail(`has the same ${what} as another one: loading both would lose one`);
        ids.add(claimedId);
      };
      if (store.keyPath !== null) {
        const newKey = evaluateKeyPath(value, store.keyPath);
        if (isValidKey(factory, newKey)) claim(name, newKey, `primary key in store "${name}"`);
        else if (!(newKey === undefined && store.autoIncrement)) {
          fail(
            `has no valid key at ${JSON.stringify(store.keyPath)} for store "${name}": restore that field in the down transform`,
          );
        }
      }
      for (const [indexName, index] of Object.entries(store.indexes)) {
        if (!index.unique) continue;
        for (const entry of indexEntries(factory, value, index))
          claim(`${name}\u0000${indexName}`, entry, `key in unique index "${name}.${indexName}"`);
      }
    }
  }
}

/**
 * A restore whose upgrade built a unique index over records sharing a key failed with the engine's bare
 * ConstraintError. As for an open, the load and upgrade are replayed (rolled back at the end) reading each store
 * before its unique indexes are built, which names the two records; any other failure is returned as is.
 */
async function explainFailure(
  error: unknown,
  connection: IndexedDB,
  name: string,
  file: Blob,
  id: string,
  target: LoadTarget,
  options: RestoreOptions,
): Promise<unknown> {
  const bare = error instanceof SnapshotError ? error.cause : undefined;
  if (target.upgrade === undefined || !isBareConstraint(bare)) return error;
  const reader = new SnapshotReader(file, id);
  // The replay reports no progress: the restore did not start again.
  const { onProgress: _, ...quiet } = options;
  const replayed = await load(connection, name, reader, await reader.header(), target, quiet, true).then(
    () => undefined,
    (replay: unknown) => (replay as { cause?: unknown } | null)?.cause,
  );
  const found = replayed as (UpgradeError & Partial<Duplicate>) | undefined;
  if (!(found instanceof UpgradeError) || found.primaryKeys?.length !== 2) return error;
  const named = uniqueViolation(found as UpgradeError & Duplicate, bare.cause);
  return new SnapshotError('restore_failed', `Restoring "${name}" failed and was rolled back: ${named.message}`, {
    cause: named,
  });
}

/**
 * Opens `name` at the target version and, inside that one versionchange transaction, recreates and fills it.
 * `replay`: the run that explains a failure: unique indexes are checked before they are built, and the
 * transaction is rolled back at the end whatever happens.
 */
async function load(
  { factory, keyRange }: IndexedDB,
  name: string,
  reader: SnapshotReader,
  header: SnapshotHeader,
  target: LoadTarget,
  options: RestoreOptions,
  replay = false,
): Promise<{ counts: Record<string, number>; upgrade: UpgradeReport | null }> {
  let guard: TransactionGuard | undefined;
  let result: { counts: Record<string, number>; upgrade: UpgradeReport | null } | undefined;
  const loaded = settleRequest(openStart(factory, name, target.version), options, {
    gaveUp: 'nothing was restored',
    upgrade: (r) => {
      const db = r.result;
      const running = new TransactionGuard(db, r.transaction!, keyRange, () => {});
      guard = running;
      running.start();
      fillAndUpgrade(db, running, { factory, keyRange }, reader, header, target, options, replay).then(
        (done) => {
          if (replay) return running.fail(new Error('the replay found no duplicate'));
          result = done;
          running.stop();
        },
        (error: unknown) => running.fail(error),
      );
    },
    success: (r) => {
      r.result.close();
      if (result !== undefined) return result;
      throw new SnapshotError(
        'restore_failed',
        `"${name}" was already at version ${r.result.version}; nothing was restored`,
      );
    },
    failure: (error) => {
      const failure = guard?.failure;
      throw failure instanceof SnapshotError
        ? failure
        : new SnapshotError(
            'restore_failed',
            `Restoring "${name}" failed and was rolled back: ${failure?.message ?? error?.message ?? 'aborted'}`,
            { cause: failure ?? error },
          );
    },
  });
  // Whichever way the load fails (rolled back, or given up while blocked), the file is released.
  return loaded.catch((error: unknown) => {
    void reader.cancel();
    throw error;
  });
}

/** Loads the records, then runs the plan's pending versions when the target upgrades. */
async function fillAndUpgrade(
  db: IDBDatabase,
  guard: TransactionGuard,
  { factory, keyRange }: IndexedDB,
  reader: SnapshotReader,
  header: SnapshotHeader,
  target: LoadTarget,
  options: RestoreOptions,
  replay: boolean,
): Promise<{ counts: Record<string, number>; upgrade: UpgradeReport | null }> {
  const counts = await fill(db, guard, reader, header, target, options);
  if (target.upgrade === undefined) return { counts, upgrade: null };
  const upgrade = await runUpgrade({
    db,
    guard,
    plan: target.upgrade,
    factory,
    keyRange,
    oldVersion: header.version,
    newVersion: target.version,
    dryRun: replay,
    findDuplicates: replay,
    onProgress: options.onProgress,
  });
  return { counts, upgrade };
}

async function fill(
  db: IDBDatabase,
  guard: TransactionGuard,
  reader: SnapshotReader,
  header: SnapshotHeader,
  target: LoadTarget,
  options: RestoreOptions,
): Promise<Record<string, number>> {
  const transaction = guard.transaction;
  for (const existing of Array.from(db.objectStoreNames)) db.deleteObjectStore(existing);
  for (const [storeName, store] of Object.entries(target.layout))
    guard.call(() => createStore(db, storeName, store), { store: storeName });
  const counts: Record<string, number> = Object.fromEntries(
    Object.keys(target.layout).map((storeName) => [storeName, 0]),
  );
  const total = header.stores.reduce((sum, store) => sum + store.count, 0);
  // Nothing to load (the file was checked already); with no store there would be no request to keep the transaction.
  if (total === 0) return counts;
  let done = 0;
  for (;;) {
    const records = await guard.external(reader.next(1000));
    if (records === null) break;
    await guard.reenter();
    for (const record of records) {
      const loaded = loadedAs(record, header, target);
      if (loaded === undefined) continue;
      const { key, value, name } = loaded;
      const context = key === undefined ? { store: name } : { store: name, key };
      const store = transaction.objectStore(name);
      const outOfLine = loaded.store.keyPath === null;
      guard.write(
        guard.call(() => (outOfLine ? store.put(value, record.key) : store.put(value)), context),
        context,
      );
      counts[name]!++;
    }
    done += records.length;
    options.onProgress?.({ phase: 'restore', unit: 'records', done, total });
  }
  // Every put has completed once a request queued after them has.
  await guard.reenter();
  return counts;
}
