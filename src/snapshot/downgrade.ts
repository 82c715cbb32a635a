import { OpenError, SnapshotError } from '../errors.js';
import type { Plan, PlannedVersion } from '../plan/define-plan.js';
import { remove } from '../upgrade/step-store.js';
import { listSnapshots, snapshotDatabase, storageOf } from './manage.js';
import { pendingRestore, type RestoreOptions, restoreInto, restoreSnapshot } from './restore.js';

/** What `downgrade: 'restore-snapshot'` did. */
export interface DowngradeInfo {
  readonly fromVersion: number;
  readonly toVersion: number;
  /** `carried-down`: current data went through the plan's `down` transforms; `restored`: an older snapshot was restored. */
  readonly method: 'carried-down' | 'restored';
  /** Id of the snapshot loaded: the current data taken just before (carried down), or the older one restored. */
  readonly snapshotId: string;
  /** Id of the snapshot of the newer state, taken first (reason `downgrade`): what was written since is in it. */
  readonly newerSnapshotId: string;
}

/**
 * Brings a database newer than `target` down to it: through the plan's `down` transforms when every version in
 * between has them (carried down), else by restoring the newest snapshot at or below `target`. Either way the
 * newer state is first written to a snapshot (reason `downgrade`), so nothing written since is thrown away unbacked.
 */
export async function downgrade(
  name: string,
  plan: Plan,
  installed: number,
  target: number,
  restoring: RestoreOptions,
): Promise<DowngradeInfo> {
  const chain = plan.versions.filter((v) => v.version > target && v.version <= installed).reverse();
  const canCarry = plan.get(installed) !== undefined && chain.every((v) => v.down !== undefined);
  const [older] = canCarry
    ? []
    : (await listSnapshots({ storage: storageOf(restoring), database: name })).filter((s) => s.version <= target);
  if (!canCarry && older === undefined) {
    throw new OpenError(
      'downgrade',
      `"${name}" is at version ${installed}, newer than ${target}, and no snapshot at or below version ${target} exists`,
      { oldVersion: installed, newVersion: target },
    );
  }
  // Same IndexedDB and storage as the restore; the restore's progress callback does not fit a snapshot's.
  const { onProgress: _restoreProgress, ...connection } = restoring;
  const newer = await snapshotDatabase(name, { ...connection, reason: 'downgrade' });
  const done = { fromVersion: installed, toVersion: target, newerSnapshotId: newer.id };
  if (older !== undefined) {
    await restoreSnapshot(name, older.id, restoring);
    return { ...done, method: 'restored', snapshotId: older.id };
  }
  await carryDown(name, plan.get(target)!, chain, newer.id, restoring);
  return { ...done, method: 'carried-down', snapshotId: newer.id };
}

/**
 * Loads snapshot `current` (the data now) through the `down` transforms of `chain` (newest first) into the layout
 * of `target`. Each version's `down` is keyed by the store's name at that version: renames are followed on the way down.
 */
async function carryDown(
  name: string,
  target: PlannedVersion,
  chain: readonly PlannedVersion[],
  current: string,
  restoring: RestoreOptions,
): Promise<void> {
  try {
    await restoreInto(name, current, restoring, {
      version: target.version,
      layout: target.layout,
      map: (store, value, key) => carriedValue(chain, store, value, key),
      storeOf: (store) => chain.reduce((at, version) => version.transition.nameBefore(at), store),
    });
  } catch (error) {
    // The load failed after the database was deleted (its journal says so; the checks before the deletion
    // passed): put the current data back now rather than leave the database absent until the next open.
    if ((await pendingRestore(storageOf(restoring), name).catch(() => undefined)) === current) {
      await restoreSnapshot(name, current, restoring).catch(() => {});
    }
    throw error;
  }
}

/** A record of store `store` (named as at the newest version) after every `down` of the chain, or `remove`. */
function carriedValue(
  chain: readonly PlannedVersion[],
  store: string,
  value: unknown,
  key: IDBValidKey | undefined,
): unknown {
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
          { version: version.version, store: at, ...(key === undefined ? {} : { key }), cause: error },
        );
      }
    }
    if (carried === remove) return remove;
    at = version.transition.nameBefore(at);
  }
  return carried;
}
