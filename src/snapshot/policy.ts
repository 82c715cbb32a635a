import { OpenError, SnapshotError } from '../errors.js';
import { checkOptions, rule } from '../options.js';
import type { Plan, PlannedVersion } from '../plan/define-plan.js';
import { clearPendingRestore, pendingRestore, restoreInto, restoreSnapshot, type RestoreOptions } from './restore.js';
import { writeSnapshot, type SnapshotInfo, type SnapshotWriting } from './format.js';
import type { SnapshotStorage } from './storage.js';
import { listSnapshots, pruneSnapshots, snapshotDatabase, storageOf, storageRule } from './manage.js';
import { remove } from '../upgrade/step-store.js';

/** Options of {@link snapshotPolicy}. */
export interface SnapshotPolicyOptions {
  /** Where snapshots go (default: OPFS, see `opfsSnapshotStorage`). */
  readonly storage?: SnapshotStorage;
  /**
   * How many snapshots of a database to keep; older ones are deleted after each successful upgrade (default 3).
   * After a failed one, only the older upgrade snapshots of the same version are deleted: the database is still at
   * that version, and the new snapshot holds its current data.
   */
  readonly keep?: number;
  /**
   * What to do when the snapshot cannot be written (no OPFS, quota): `refuse` the upgrade with a SnapshotError,
   * leaving the database untouched (default), or `proceed` without a snapshot (reported in `snapshotError`). A
   * function decides per error: where OPFS does not exist at all (`snapshot_unavailable`: private windows of
   * Firefox, ephemeral WebKit sessions) refusing would keep the app at its old version for good, while a full
   * disk (`snapshot_quota`) may be worth waiting for.
   *
   * @example
   * ```ts
   * snapshotPolicy({ onFailure: (error) => (error.code === 'snapshot_unavailable' ? 'proceed' : 'refuse') })
   * ```
   */
  readonly onFailure?: SnapshotFailurePolicy;
}

/** See {@link SnapshotPolicyOptions.onFailure}. */
export type SnapshotFailurePolicy = 'refuse' | 'proceed' | ((error: SnapshotError) => 'refuse' | 'proceed');

/** What `downgrade: 'restore-snapshot'` did. */
export interface DowngradeInfo {
  readonly fromVersion: number;
  readonly toVersion: number;
  /** `carried-down`: current data went through the plan's `down` transforms; `restored`: an older snapshot was restored. */
  readonly method: 'carried-down' | 'restored';
  /** Id of the snapshot loaded: the current data taken just before (carried down), or the older one restored. */
  readonly snapshotId: string;
}

/** What a policy's `takeSnapshot` produced: a snapshot, or the error the policy let the upgrade proceed past. */
export interface TakenSnapshot {
  readonly snapshot: SnapshotInfo | null;
  readonly error: SnapshotError | null;
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
  prune(database: string, after: { readonly snapshot: SnapshotInfo; readonly failed: boolean }): Promise<void>;
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
  });
  const keep = options.keep ?? 3;
  const onFailure = options.onFailure ?? 'refuse';
  return {
    // Resolved on use: the shared OPFS storage must not be created when the policy is made at import time.
    get storage() {
      return storageOf(options);
    },
    keep,
    onFailure,
    async resumeRestore(database, restoring) {
      const storage = storageOf(options);
      const pending = await pendingRestore(storage, database);
      if (pending === undefined) return;
      await restoreSnapshot(database, pending, { ...restoring, storage }).catch(async (error: unknown) => {
        // Its snapshot was deleted since: the restore can never finish, and must not block every open forever.
        if (!(error instanceof SnapshotError && error.code === 'snapshot_not_found')) throw error;
        await clearPendingRestore(storage, database);
      });
    },
    async takeSnapshot(writing) {
      try {
        return {
          snapshot: await writeSnapshot({ ...writing, storage: storageOf(options), reason: 'upgrade' }),
          error: null,
        };
      } catch (error) {
        if (!(error instanceof SnapshotError) || decide(onFailure, error) !== 'proceed') throw error;
        // The failed write awaited OPFS: issue a request again before the upgrade goes on.
        await writing.guard.reenter();
        return { snapshot: null, error };
      }
    },
    async prune(database, { snapshot, failed }) {
      const storage = storageOf(options);
      // Retention must never fail an open.
      try {
        if (!failed) {
          await pruneSnapshots(database, { keep, storage });
          return;
        }
        // The database is still at this version, with the data this newer snapshot holds: earlier upgrade snapshots
        // of the same version (the app retrying at every start) are superseded by it.
        const superseded = (await listSnapshots({ storage, database })).filter(
          (s) =>
            s.id !== snapshot.id &&
            s.reason === 'upgrade' &&
            s.version === snapshot.version &&
            s.created <= snapshot.created,
        );
        for (const old of superseded) await storage.delete(old.id);
      } catch {
        // Nothing to do: a snapshot left over is only space.
      }
    },
    downgrade: (database, plan, installed, target, restoring) =>
      downgrade(database, plan, installed, target, { ...restoring, storage: storageOf(options) }),
  };
}

/** The name `store` (as named at `version`) had before that version's `renameStore` steps. */
function nameBefore(version: PlannedVersion, store: string): string {
  let name = store;
  for (let i = version.steps.length - 1; i >= 0; i--) {
    const structure = version.steps[i]!.structure;
    if (structure?.kind === 'rename-store' && structure.to === name) name = structure.from;
  }
  return name;
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

async function downgrade(
  name: string,
  plan: Plan,
  installed: number,
  target: number,
  restoring: RestoreOptions,
): Promise<DowngradeInfo> {
  const chain = plan.versions.filter((v) => v.version > target && v.version <= installed).reverse();
  if (plan.get(installed) !== undefined && chain.every((v) => v.down !== undefined)) {
    // Keep what was written since the upgrade: snapshot the current data, then load it through the down transforms.
    // Same IndexedDB and storage; the restore's progress callback does not fit a snapshot's.
    const { onProgress: _restoreProgress, ...connection } = restoring;
    const current = await snapshotDatabase(name, { ...connection, reason: 'downgrade' });
    const carryDown = restoreInto(name, current.id, restoring, {
      version: target,
      layout: plan.get(target)!.layout,
      // Each version's `down` is keyed by the store's name at that version: follow renames on the way down.
      map: (store, value, key) => {
        let carried = value;
        let at = store;
        for (const version of chain) {
          const down = version.down?.[at];
          if (down !== undefined) {
            try {
              carried = down(carried, key);
            } catch (error) {
              throw new SnapshotError(
                'restore_failed',
                `The down transform of version ${version.version} for store "${at}" threw: ${(error as Error)?.message ?? String(error)}`,
                {
                  version: version.version,
                  store: at,
                  ...(key === undefined ? {} : { key }),
                  cause: error,
                },
              );
            }
          }
          if (carried === remove) return remove;
          at = nameBefore(version, at);
        }
        return carried;
      },
      storeOf: (store) => chain.reduce((at, version) => nameBefore(version, at), store),
    });
    try {
      await carryDown;
    } catch (error) {
      // The load failed after the database was deleted (its journal says so; the checks before the deletion
      // passed): put the current data back now rather than leave the database absent until the next open.
      if ((await pendingRestore(storageOf(restoring), name).catch(() => undefined)) === current.id) {
        await restoreSnapshot(name, current.id, restoring).catch(() => {});
      }
      throw error;
    }
    return { fromVersion: installed, toVersion: target, method: 'carried-down', snapshotId: current.id };
  }
  const [newest] = (await listSnapshots({ ...restoring, database: name })).filter((s) => s.version <= target);
  if (newest === undefined) {
    throw new OpenError(
      'downgrade',
      `"${name}" is at version ${installed}, newer than ${target}, and no snapshot at or below version ${target} exists`,
      {
        oldVersion: installed,
        newVersion: target,
      },
    );
  }
  await restoreSnapshot(name, newest.id, restoring);
  return { fromVersion: installed, toVersion: target, method: 'restored', snapshotId: newest.id };
}
