import { SnapshotError } from '../errors.js';
import type { IndexedDBOptions } from '../idb/request.js';
import { checkOptions, rule } from '../options.js';
import type { Plan } from '../plan/define-plan.js';
import type { SnapshotCompression } from './compression.js';
import { type DowngradeInfo, downgrade } from './downgrade.js';
import { type SnapshotInfo, type SnapshotWriting, writeSnapshot } from './format.js';
import { listSnapshots, pruneSnapshots, readFile, storageOf, storageRule } from './manage.js';
import { clearPendingRestore, pendingRestore, type RestoreOptions, restoreSnapshot } from './restore.js';
import type { SnapshotStorage } from './storage.js';

export type { DowngradeInfo } from './downgrade.js';

/** Options of {@link snapshotPolicy}. */
export interface SnapshotPolicyOptions {
  /** Where snapshots go (default: OPFS with whichever writer works here, else IndexedDB; see the README). */
  readonly storage?: SnapshotStorage;
  /**
   * How many snapshots of a database to keep; older ones are deleted after each successful upgrade (default 3).
   * After a failed one, only the older upgrade snapshots of the same version are deleted: the database is still at
   * that version, and the new snapshot holds its current data.
   */
  readonly keep?: number;
  /**
   * What to do when the snapshot cannot be written (no writer works, quota): `refuse` the upgrade with a
   * SnapshotError, leaving the database untouched (default), or `proceed` without a snapshot (reported as backup
   * status `skipped`, with the error). A function decides per error: where no storage works at all
   * (`snapshot_unavailable`) refusing would keep the app at its old version for good, while a full disk
   * (`snapshot_quota`) may be worth waiting for.
   *
   * @example
   * ```ts
   * snapshotPolicy({ onFailure: (error) => (error.code === 'snapshot_unavailable' ? 'proceed' : 'refuse') })
   * ```
   */
  readonly onFailure?: SnapshotFailurePolicy;
  /** `gzip` (default where `CompressionStream` exists) or `none` for plain NDJSON; every reader reads both. */
  readonly compression?: SnapshotCompression;
  /**
   * Ask for persistent storage (`navigator.storage.persist()`) before the first snapshot, so that the browser does
   * not evict the origin (and the snapshots with it) under storage pressure. The result's `backup.persistent`
   * says what the browser granted. Firefox may show a permission prompt.
   */
  readonly persist?: boolean;
  /**
   * Receives each snapshot the policy took, with its file, once the upgrade has settled: upload it, or offer it as a
   * download, so that a copy outlives the origin (Safari evicts a whole origin, snapshots included). Awaited before
   * `openDatabase` resolves (return early to not delay the app); a throw or rejection never fails the upgrade and
   * is reported as `backup.copy`.
   */
  readonly onSnapshot?: (snapshot: SnapshotInfo, file: Blob) => void | Promise<void>;
}

/** What became of the copy of a snapshot sent off with `onSnapshot`. */
export type SnapshotCopy =
  | { readonly status: 'sent' }
  | { readonly status: 'failed'; readonly error: unknown }
  | { readonly status: 'no-hook' };

/** See {@link SnapshotPolicyOptions.onFailure}. */
export type SnapshotFailurePolicy = 'refuse' | 'proceed' | ((error: SnapshotError) => 'refuse' | 'proceed');

/** What a policy's `takeSnapshot` produced: a snapshot, or the error the policy let the upgrade proceed past. */
export interface TakenSnapshot {
  readonly snapshot: SnapshotInfo | null;
  readonly error: SnapshotError | null;
  /** Whether the origin's storage is persistent (`navigator.storage.persisted()`); null where unknown. */
  readonly persistent: boolean | null;
}

/** Restore options without the storage, which the policy supplies. */
export type PolicyRestoreOptions = Omit<RestoreOptions, 'storage'>;

/**
 * How `openDatabase` protects upgrades with snapshots; create one with {@link snapshotPolicy}. It is passed in
 * rather than built in so that an app that turns snapshots off does not ship the snapshot writer, codec and
 * restore code. `openDatabase` calls these members; apps do not need to.
 */
export interface SnapshotPolicy {
  /** Where the snapshots go: pass it to `listSnapshots`, `restoreSnapshot`, ... to find them. */
  readonly storage: SnapshotStorage;
  /** How many snapshots of each database are kept. */
  readonly keep: number;
  /** What happens when a snapshot cannot be written. */
  readonly onFailure: SnapshotFailurePolicy;
  /** Before opening: finishes a restore of `database` that was interrupted after deleting it. */
  resumeRestore(database: string, options: PolicyRestoreOptions): Promise<void>;
  /** Inside the versionchange transaction, before the first version runs. */
  takeSnapshot(writing: Omit<SnapshotWriting, 'storage' | 'reason'>): Promise<TakenSnapshot>;
  /**
   * After an upgrade that wrote `snapshot`: applies `keep` when it succeeded; when it failed, only drops the older
   * upgrade snapshots of the same version, which the new one supersedes, so that an app retrying at every start
   * neither piles them up nor pushes out the snapshots of older versions. Never rejects.
   */
  prune(
    database: string,
    after: { readonly snapshot: SnapshotInfo; readonly failed: boolean },
    connection: IndexedDBOptions,
  ): Promise<void>;
  /** Hands a snapshot to `onSnapshot`; never rejects. */
  deliver(snapshot: SnapshotInfo, options: IndexedDBOptions): Promise<SnapshotCopy>;
  /** Brings a database newer than `target` down to it (see `OpenOptions.downgrade`). */
  downgrade(
    database: string,
    plan: Plan,
    installed: number,
    target: number,
    options: PolicyRestoreOptions,
  ): Promise<DowngradeInfo>;
}

/**
 * The snapshot policy to pass to `openDatabase`: before upgrading an existing database, write a lossless snapshot
 * of it (to OPFS unless `storage` says otherwise), keep the newest `keep`, and refuse the upgrade when the snapshot
 * cannot be written.
 *
 * @example
 * ```ts
 * const snapshots = snapshotPolicy({ keep: 5 })
 * const { db, upgrade } = await openDatabase('app', plan, { snapshots })
 * ```
 */
export function snapshotPolicy(options: SnapshotPolicyOptions = {}): SnapshotPolicy {
  // Checked here, where the mistake is, rather than at the first upgrade: a NaN `keep` would delete every snapshot.
  checkOptions('snapshotPolicy', options, {
    keep: rule.count,
    onFailure: rule.either(rule.oneOf('refuse', 'proceed'), rule.function),
    storage: storageRule,
    compression: rule.oneOf('gzip', 'none'),
    persist: rule.boolean,
    onSnapshot: rule.function,
  });
  const keep = options.keep ?? 3;
  const onFailure = options.onFailure ?? 'refuse';
  // The default storage falls back to the IndexedDB the open uses: resolved per call, never at import.
  const storageFor = (connection: IndexedDBOptions): SnapshotStorage =>
    storageOf({ ...connection, ...(options.storage === undefined ? {} : { storage: options.storage }) });
  return {
    get storage() {
      return storageFor({});
    },
    keep,
    onFailure,
    resumeRestore: (database, restoring) => resumeRestore(database, storageFor(restoring), restoring),
    async takeSnapshot(writing) {
      const persistent = await writing.guard.external(persistence(options.persist === true));
      // Back from outside IndexedDB: the transaction is active again only inside a request's callback.
      await writing.guard.reenter();
      const storage = storageFor({ indexedDB: writing.factory, IDBKeyRange: writing.keyRange });
      try {
        const { compression } = options;
        const snapshot = await writeSnapshot({ ...writing, storage, reason: 'upgrade', compression });
        return { snapshot, error: null, persistent };
      } catch (error) {
        if (!(error instanceof SnapshotError) || decide(onFailure, error) !== 'proceed') throw error;
        // The failed write awaited OPFS: issue a request again before the upgrade goes on.
        await writing.guard.reenter();
        return { snapshot: null, error, persistent };
      }
    },
    deliver: (snapshot, connection) => deliver(options.onSnapshot, snapshot, storageFor(connection)),
    async prune(database, after, connection) {
      // Retention must never fail an open: a snapshot left over is only space.
      await prune(database, after, keep, storageFor(connection)).catch(() => {});
    },
    downgrade: (database, plan, installed, target, restoring) =>
      downgrade(database, plan, installed, target, { ...restoring, storage: storageFor(restoring) }),
  };
}

/** Finishes a restore of `database` that was interrupted after deleting it. */
async function resumeRestore(
  database: string,
  storage: SnapshotStorage,
  restoring: PolicyRestoreOptions,
): Promise<void> {
  const pending = await pendingRestore(storage, database);
  if (pending === undefined) return;
  await restoreSnapshot(database, pending, { ...restoring, storage }).catch(async (error: unknown) => {
    // Its snapshot was deleted since: the restore can never finish, and must not block every open forever.
    if (!(error instanceof SnapshotError && error.code === 'snapshot_not_found')) throw error;
    await clearPendingRestore(storage, database);
  });
}

async function deliver(
  onSnapshot: SnapshotPolicyOptions['onSnapshot'],
  snapshot: SnapshotInfo,
  storage: SnapshotStorage,
): Promise<SnapshotCopy> {
  if (onSnapshot === undefined) return { status: 'no-hook' };
  try {
    await onSnapshot(snapshot, await readFile(storage, snapshot.id));
    return { status: 'sent' };
  } catch (error) {
    return { status: 'failed', error };
  }
}

/** Applies `keep` after a successful upgrade; after a failed one, drops only what the new snapshot supersedes. */
async function prune(
  database: string,
  { snapshot, failed }: { readonly snapshot: SnapshotInfo; readonly failed: boolean },
  keep: number,
  storage: SnapshotStorage,
): Promise<void> {
  if (!failed) {
    await pruneSnapshots(database, { keep, storage });
    return;
  }
  // The database is still at this version, with the data this newer snapshot holds: earlier upgrade snapshots of
  // the same version (the app retrying at every start) are superseded by it.
  const superseded = (await listSnapshots({ storage, database })).filter(
    (s) =>
      s.id !== snapshot.id && s.reason === 'upgrade' && s.version === snapshot.version && s.created <= snapshot.created,
  );
  for (const old of superseded) await storage.delete(old.id);
}

let persistRequested: Promise<unknown> | undefined;

/**
 * Whether the origin's storage is persistent, asking for it first (once per context) when `ask` is set; null where
 * the Storage API is missing (Node, some workers).
 */
async function persistence(ask: boolean): Promise<boolean | null> {
  const storage = (globalThis as { navigator?: { storage?: Partial<StorageManager> } }).navigator?.storage;
  if (typeof storage?.persisted !== 'function') return null;
  try {
    if (ask && typeof storage.persist === 'function') await (persistRequested ??= storage.persist());
    return await storage.persisted();
  } catch {
    return null;
  }
}

function decide(policy: SnapshotFailurePolicy, error: SnapshotError): 'refuse' | 'proceed' {
  if (typeof policy !== 'function') return policy;
  try {
    return policy(error) === 'proceed' ? 'proceed' : 'refuse';
  } catch {
    // A policy that throws cannot be said to allow going on without a backup.
    return 'refuse';
  }
}
