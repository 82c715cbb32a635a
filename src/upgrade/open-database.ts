import { IdbEvolveError, OpenError, PlanError } from '../errors.js';
import { type BlockedOptions, type IndexedDBOptions, resolveIndexedDB } from '../idb/request.js';
import { checkOptions, type OptionRule, rule } from '../options.js';
import type { Plan } from '../plan/define-plan.js';
import type { ProgressCallback } from '../progress.js';
import type { UpgradeElsewhere } from '../idb/wait.js';
import type { DowngradeInfo, PolicyRestoreOptions, SnapshotPolicy } from '../snapshot/policy.js';
import { type Backup, safely, type Trace, type UpgradeHooks } from './lifecycle.js';
import type { UpgradeReport } from './run-upgrade.js';
import { checkInstalledLayout, type InstalledLayout } from './drift.js';
import { recordUpgrade, upgradeLogEntry } from './upgrade-log.js';
import { type Opened, runVersionChange, type VersionChange, type VersionChangeInfo } from './version-change.js';

/** Options of {@link dryRun}; {@link openDatabase} takes these and more (see {@link OpenOptions}). */
export interface DryRunOptions extends IndexedDBOptions, BlockedOptions {
  /**
   * Version to open at (default: the plan's latest). Lower it for a staged rollout: the database is migrated up to
   * this version only. It must be a version of the plan.
   */
  readonly version?: number;
  /** Called as the upgrade goes: snapshot, then per version layout, index builds, steps and the layout check. */
  readonly onProgress?: ProgressCallback;
  /**
   * Called after the connection this call opened was closed because another connection wants to upgrade or delete
   * the database. The library closes first so that the other side is not blocked; reopen (reload) to go on.
   */
  readonly onVersionChange?: (info: VersionChangeInfo) => void;
  /**
   * Told while another open of this database holds the upgrade (another call of this app, a tab, a worker, the
   * service worker): `waiting`, then its `started`, `progress` (the {@link Progress} of `onProgress`) and
   * `finished`. This call then opens the upgraded database without running anything; show "updating…" meanwhile.
   */
  readonly onUpgradeElsewhere?: (event: UpgradeElsewhere) => void;
}

/** Options of {@link openDatabase}. */
export interface OpenOptions extends DryRunOptions {
  /**
   * The backup taken before upgrading an existing database (never for a fresh one, nor for an open that does not
   * upgrade): `snapshotPolicy()` writes a snapshot to OPFS, keeps 3 and refuses the upgrade when it cannot be
   * written; `false` upgrades without one. Required, so that going without a backup is a decision written in the
   * code. It is given to the call, not the plan: the plan is data that tooling reads in Node, while where
   * snapshots go depends on the context that opens (page, worker, test). It is an object rather than a flag so
   * that apps without snapshots do not ship the snapshot code.
   */
  readonly snapshots: SnapshotPolicy | false;
  /**
   * What to do when the installed database is newer than the requested version (the app was rolled back):
   * `reject` with OpenError `downgrade` (default), or `restore-snapshot`: carry the data down through the plan's
   * `down` transforms when the plan knows the installed version and every version in between declares one, else
   * restore the newest snapshot at or below the requested version; then open as usual.
   */
  readonly downgrade?: 'reject' | 'restore-snapshot';
  /** Lifecycle hooks: start, each version, complete, failed. */
  readonly hooks?: UpgradeHooks;
  /**
   * An open that upgrades nothing checks that the database's layout is one the plan declares for its version
   * (names, key paths, key generators, indexes: no record is read). By default a mismatch rejects with OpenError
   * `layout_drift`; with `onDrift` it is reported there instead and the open resolves.
   */
  readonly onDrift?: (drift: InstalledLayout) => void;
  /**
   * Keep a record of every upgrade (what ran, when, how long, which snapshot, how it ended) in a database of its
   * own ({@link UPGRADE_LOG_DATABASE}), read with `readUpgradeLog()`. Off by default: it adds a database to the
   * origin.
   */
  readonly upgradeLog?: boolean;
}

/** What {@link openDatabase} resolves to. */
export interface OpenResult {
  /** The open connection, at the requested version. */
  readonly db: IDBDatabase;
  /** The upgrade that ran, with its report and its backup; null when the database was already at the version. */
  readonly upgrade: { readonly report: UpgradeReport; readonly backup: Backup } | null;
  /** What a downgrade did before opening, when `downgrade: 'restore-snapshot'` had to act. */
  readonly downgrade: DowngradeInfo | null;
  /** The installed layout: the declared one, a named alternative, or (reported to `onDrift`) neither. */
  readonly layout: InstalledLayout;
}

const dryRunRules: Readonly<Record<string, OptionRule>> = {
  version: rule.count,
  onProgress: rule.function,
  onBlocked: rule.function,
  blockedTimeout: rule.timeout,
  onVersionChange: rule.function,
  onUpgradeElsewhere: rule.function,
};

const openRules: Readonly<Record<string, OptionRule>> = {
  ...dryRunRules,
  snapshots: rule.required(
    rule.either(
      rule.methods('snapshotPolicy() to take a snapshot before upgrading', 'takeSnapshot', 'prune', 'downgrade'),
      rule.oneOf(false),
    ),
  ),
  downgrade: rule.oneOf('reject', 'restore-snapshot'),
  hooks: { test: (v) => typeof v === 'object' && v !== null, expected: 'an object of hook functions' },
  upgradeLog: rule.boolean,
  onDrift: rule.function,
};

interface Environment {
  readonly factory: IDBFactory;
  readonly keyRange: typeof IDBKeyRange;
  readonly target: number;
}

function environment(plan: Plan, options: DryRunOptions): Environment {
  const { factory, keyRange } = resolveIndexedDB(options);
  const target = options.version ?? plan.latest;
  if (plan.get(target) === undefined) {
    throw new PlanError('invalid_target_version', `Cannot open at version ${target}: the plan does not declare it`, {
      version: target,
    });
  }
  return { factory, keyRange, target };
}

/**
 * Opens a database with a plan, upgrading it to the plan's latest version (or `options.version`) first.
 *
 * A fresh database gets the target layout directly. An existing one runs every pending version inside the one
 * versionchange transaction; any failure aborts all of it, the database keeps its old version and data, and the
 * promise rejects with an {@link UpgradeError} naming version, step, store and key. With `snapshots:
 * snapshotPolicy()`, an existing database is first written to a snapshot inside that same transaction.
 *
 * @example
 * ```ts
 * const { db, upgrade } = await openDatabase('app', plan, {
 *   snapshots: snapshotPolicy(),
 *   onProgress: (p) => bar.update(p.done, p.total),
 * })
 * if (upgrade?.backup.status === 'taken') console.log('backup', upgrade.backup.snapshot.id)
 * ```
 */
export async function openDatabase(name: string, plan: Plan, options: OpenOptions): Promise<OpenResult> {
  checkOptions('openDatabase', options, openRules);
  const env = environment(plan, options);
  const policy = options.snapshots === false ? undefined : options.snapshots;
  // A restore that deleted the database and was interrupted before reloading it: finish it first.
  await policy?.resumeRestore(name, restoreOptions(options, env));
  const trace: Trace = { completed: [] };
  const change: VersionChange = {
    name,
    plan,
    ...env,
    dryRun: false,
    snapshots: policy ?? 'off',
    trace,
    waits: options,
    onProgress: options.onProgress,
    onVersionChange: options.onVersionChange,
    onUpgradeElsewhere: options.onUpgradeElsewhere,
    hooks: options.hooks,
  };
  let downgrade: DowngradeInfo | null = null;
  let opened: Opened;
  try {
    try {
      opened = await runVersionChange(change);
    } catch (error) {
      if (!(error instanceof OpenError && error.code === 'downgrade' && options.downgrade === 'restore-snapshot'))
        throw error;
      downgrade = await downgradeFirst(name, plan, error.oldVersion!, env, options);
      opened = await runVersionChange(change);
    }
  } catch (error) {
    await failed(name, options, env, trace, error);
    throw error;
  }
  const db = opened.db!;
  // An upgrade checked the layout it left; an open without one checks what it found.
  const layout =
    opened.upgrade === null
      ? checkInstalledLayout(name, db, plan, options.onDrift)
      : { version: db.version, alternative: null, differences: [] };
  const upgrade = await sendCopy(opened.upgrade, policy, env);
  if (upgrade !== null && trace.started !== undefined) {
    safely(options.hooks?.onComplete, upgrade.report, { ...trace.started, backup: upgrade.backup });
    if (options.upgradeLog === true) {
      const snapshotId = upgrade.backup.status === 'taken' ? upgrade.backup.snapshot.id : null;
      await recordUpgrade(
        env.factory,
        upgradeLogEntry(trace.started, 'upgraded', upgrade.report.versions, snapshotId, null),
      );
    }
  }
  if (upgrade?.backup.status === 'taken')
    await policy?.prune(name, { snapshot: upgrade.backup.snapshot, failed: false }, connectionOf(env));
  return { db, upgrade, downgrade, layout };
}

/** Hands a new snapshot to the policy's `onSnapshot` and records how that went in the backup. */
async function sendCopy(
  upgrade: Opened['upgrade'],
  policy: SnapshotPolicy | undefined,
  env: Environment,
): Promise<Opened['upgrade']> {
  if (upgrade === null || upgrade.backup.status !== 'taken' || policy === undefined) return upgrade;
  const copy = await policy.deliver(upgrade.backup.snapshot, connectionOf(env));
  return { ...upgrade, backup: { ...upgrade.backup, copy } };
}

/** `downgrade: 'restore-snapshot'`: brings a database newer than the target down to it before opening. */
function downgradeFirst(
  name: string,
  plan: Plan,
  installed: number,
  env: Environment,
  options: OpenOptions,
): Promise<DowngradeInfo> {
  if (options.snapshots === false) {
    throw new OpenError(
      'downgrade',
      `"${name}" is at version ${installed}, newer than ${env.target}, and snapshots are off: nothing to restore`,
      { oldVersion: installed, newVersion: env.target },
    );
  }
  return options.snapshots.downgrade(name, plan, installed, env.target, restoreOptions(options, env));
}

/** After a failed open: prune the failed upgrade's superseded snapshots, call `onFailed`, log it. */
async function failed(
  name: string,
  options: OpenOptions,
  env: Environment,
  trace: Trace,
  error: unknown,
): Promise<void> {
  const { started } = trace;
  const snapshot = trace.snapshot ?? null;
  if (snapshot !== null && options.snapshots !== false) {
    // Still a new snapshot (of the state the database keeps): the app's copy of it is as useful as ever.
    await options.snapshots.deliver(snapshot, connectionOf(env));
    // A failed upgrade may still have written its snapshot: an app retrying at every start must not pile them up.
    await options.snapshots.prune(name, { snapshot, failed: true }, connectionOf(env));
  }
  if (started === undefined || !(error instanceof IdbEvolveError)) return;
  safely(options.hooks?.onFailed, error, {
    ...started,
    ms: Date.now() - started.startedAt.getTime(),
    completed: trace.completed,
    snapshot,
  });
  if (options.upgradeLog === true) {
    await recordUpgrade(env.factory, upgradeLogEntry(started, 'failed', trace.completed, snapshot?.id ?? null, error));
  }
}

/** The IndexedDB of the call, as options of the snapshot functions. */
const connectionOf = (env: Environment): IndexedDBOptions => ({ indexedDB: env.factory, IDBKeyRange: env.keyRange });

function restoreOptions(options: DryRunOptions, env: Environment): PolicyRestoreOptions {
  return {
    ...connectionOf(env),
    ...(options.onBlocked === undefined ? {} : { onBlocked: options.onBlocked }),
    ...(options.blockedTimeout === undefined ? {} : { blockedTimeout: options.blockedTimeout }),
  };
}

/**
 * Runs the whole pending upgrade, then rolls it back and resolves with its report: the way to learn, on real
 * data, whether an upgrade would succeed and how long it takes. The database is left exactly as it was; a
 * database that did not exist is not created. Rejects like {@link openDatabase} when the upgrade fails.
 */
export async function dryRun(name: string, plan: Plan, options: DryRunOptions = {}): Promise<UpgradeReport> {
  checkOptions('dryRun', options, dryRunRules);
  const env = environment(plan, options);
  const { db, upgrade } = await runVersionChange({
    name,
    plan,
    ...env,
    dryRun: true,
    snapshots: 'off',
    trace: { completed: [] },
    waits: options,
    onProgress: options.onProgress,
    onVersionChange: undefined,
    onUpgradeElsewhere: options.onUpgradeElsewhere,
    hooks: undefined,
  });
  if (upgrade !== null) return upgrade.report;
  // Nothing pending: the database is already at the target version.
  const version = db?.version ?? 0;
  db?.close();
  return { oldVersion: version, newVersion: version, fresh: false, dryRun: true, versions: [], snapshotMs: 0, ms: 0 };
}
