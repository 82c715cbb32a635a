import { installedVersion, resolveIndexedDB, type IndexedDBOptions } from '../idb/environment.js';
import { IdbEvolveError, OpenError, PlanError, UpgradeError, type SnapshotError } from '../errors.js';
import { migrationRecord, recordMigration } from './upgrade-log.js';
import type { Plan } from '../plan/define-plan.js';
import type { SnapshotInfo } from '../snapshot/format.js';
import type { DowngradeInfo, PolicyRestoreOptions, SnapshotPolicy } from '../snapshot/policy.js';
import { TransactionGuard } from '../idb/transaction-guard.js';
import { runUpgrade, type UpgradeProgress, type UpgradeReport, type VersionReport } from './run-upgrade.js';

/** What the lifecycle hooks learn about an upgrade. */
export interface UpgradeInfo {
  readonly database: string;
  readonly oldVersion: number;
  readonly newVersion: number;
  /** When the upgrade started (the `versionchange` transaction began). */
  readonly startedAt: Date;
  /** The plan versions this upgrade runs, in order (only the target for a fresh database, which gets it directly). */
  readonly pending: readonly number[];
}

/** Passed to `onFailed`: how far the upgrade got before it was rolled back. */
export interface FailedUpgradeInfo extends UpgradeInfo {
  /** Milliseconds from the start to the failure. */
  readonly ms: number;
  /** Reports of the versions that completed before the failure; their work was rolled back with the rest. */
  readonly completed: readonly VersionReport[];
  /** The snapshot written before the upgrade, which stays (it is the state the database was rolled back to). */
  readonly snapshot: SnapshotInfo | null;
}

/**
 * Lifecycle hooks for monitoring upgrades (staged rollouts, telemetry). They run inside the upgrade and must be
 * quick and synchronous; one that throws is ignored rather than allowed to fail the upgrade.
 */
export interface UpgradeHooks {
  /** The upgrade starts (inside the versionchange transaction, before the snapshot). */
  readonly onStart?: (info: UpgradeInfo) => void;
  /** One version is done (its layout, steps and layout check); the transaction has not committed yet. */
  readonly onVersion?: (report: VersionReport, info: UpgradeInfo) => void;
  /** The upgrade committed. */
  readonly onComplete?: (report: UpgradeReport, info: UpgradeInfo & { readonly snapshot: SnapshotInfo | null }) => void;
  /** The upgrade was rolled back (or refused): the database is as it was. */
  readonly onFailed?: (error: IdbEvolveError, info: FailedUpgradeInfo) => void;
}

function safely<A extends unknown[]>(hook: ((...args: A) => void) | undefined, ...args: A): void {
  try {
    hook?.(...args);
  } catch {
    // Monitoring must never change the outcome of an upgrade.
  }
}

/** Filled in by `open` as an upgrade goes, so that its end can be reported whichever way it goes. */
interface Trace {
  started?: UpgradeInfo;
  snapshot?: SnapshotInfo | null;
  readonly completed: VersionReport[];
}

/** Passed to `onBlocked`: other connections keep the database open at `oldVersion`. */
export interface BlockedInfo {
  readonly oldVersion: number;
  readonly newVersion: number;
}

/** Passed to `onVersionChange` after the library closed its connection for another one's upgrade or deletion. */
export interface VersionChangeInfo {
  readonly oldVersion: number;
  /** The version the other connection asked for; null when the database is being deleted. */
  readonly newVersion: number | null;
}

/** Options of {@link dryRun}; {@link openDatabase} takes these and more (see {@link OpenOptions}). */
export interface DryRunOptions extends IndexedDBOptions {
  /**
   * Version to open at (default: the plan's latest). Lower it for a staged rollout: the database is migrated up to
   * this version only. It must be a version of the plan.
   */
  readonly version?: number;
  /** Called as the upgrade goes: phase, version, step, store, records done and total. */
  readonly onProgress?: (progress: UpgradeProgress) => void;
  /** Called when other connections keep the database open; the open waits for them to close. */
  readonly onBlocked?: (info: BlockedInfo) => void;
  /**
   * Milliseconds to wait while `blocked` before rejecting with `OpenError` code `blocked` (default: wait forever,
   * as IndexedDB does). An open that gave up never upgrades later, even when the other connections do close.
   */
  readonly blockedTimeout?: number;
  /**
   * Called after the connection this call opened was closed because another connection wants to upgrade or delete
   * the database. The library closes first so that the other side is not blocked; reopen (reload) to go on.
   */
  readonly onVersionChange?: (info: VersionChangeInfo) => void;
}

/** Options of {@link openDatabase}. */
export interface OpenOptions extends DryRunOptions {
  /**
   * Snapshot taken before upgrading an existing database (never for a fresh one, nor for an open that does not
   * upgrade): `snapshotPolicy()` writes it to OPFS, keeps 3 and refuses the upgrade when it cannot be written;
   * `false` upgrades without one. Required, so that going without a backup is a decision written in the code; it
   * is an object rather than a flag so that apps without snapshots do not ship the snapshot code.
   */
  readonly snapshot: SnapshotPolicy | false;
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
   * Keep a record of every upgrade (what ran, when, how long, which snapshot, how it ended) in a database of its
   * own (`idb-evolve-history`), read with `migrationHistory()`. Off by default: it adds a database to the origin.
   */
  readonly history?: boolean;
}

/** What {@link openDatabase} resolves to. */
export interface OpenResult {
  /** The open connection, at the requested version. */
  readonly db: IDBDatabase;
  /** What the upgrade did, or null when the database was already at the requested version. */
  readonly report: UpgradeReport | null;
  /** The snapshot taken before the upgrade, or null (no upgrade, fresh database, snapshots off or failed). */
  readonly snapshot: SnapshotInfo | null;
  /** Why no snapshot was taken, when the policy let the upgrade proceed without one. */
  readonly snapshotError: SnapshotError | null;
  /** What a downgrade restored before opening, when `downgrade: 'restore-snapshot'` had to act. */
  readonly downgraded: DowngradeInfo | null;
}

interface Environment {
  readonly factory: IDBFactory;
  readonly keyRange: typeof IDBKeyRange;
  readonly target: number;
}

function environment(plan: Plan, options: DryRunOptions & Partial<OpenOptions>): Environment {
  // What TypeScript would catch, for JavaScript callers: a typo must not quietly mean the default.
  const { blockedTimeout, downgrade, history } = options;
  const invalid = (option: string, expected: string, value: unknown): never => {
    throw new OpenError(
      'invalid_options',
      `${option} must be ${expected} (got ${typeof value === 'string' ? JSON.stringify(value) : String(value)})`,
    );
  };
  if (blockedTimeout !== undefined && !(Number.isFinite(blockedTimeout) && blockedTimeout >= 0))
    invalid('blockedTimeout', 'a number of milliseconds', blockedTimeout);
  if (downgrade !== undefined && downgrade !== 'reject' && downgrade !== 'restore-snapshot')
    invalid('downgrade', `'reject' or 'restore-snapshot'`, downgrade);
  if (history !== undefined && typeof history !== 'boolean') invalid('history', 'true or false', history);
  const { factory, keyRange } = resolveIndexedDB(options);
  const target = options.version ?? plan.latest;
  if (plan.get(target) === undefined) {
    throw new PlanError(
      'invalid_target_version',
      `Cannot open at version ${String(target)}: the plan does not declare it`,
      {
        ...(typeof target === 'number' ? { version: target } : {}),
      },
    );
  }
  return { factory, keyRange, target };
}

function watchVersionChange(db: IDBDatabase, options: DryRunOptions): void {
  db.onversionchange = (event) => {
    db.close();
    options.onVersionChange?.({ oldVersion: event.oldVersion, newVersion: event.newVersion });
  };
}

/**
 * Opens a database with a plan, upgrading it to the plan's latest version (or `options.version`) first.
 *
 * A fresh database gets the target layout directly. An existing one runs every pending version inside the one
 * versionchange transaction; any failure aborts all of it, the database keeps its old version and data, and the
 * promise rejects with an {@link UpgradeError} naming version, step, store and key. With `snapshot:
 * snapshotPolicy()`, an existing database is first written to a snapshot inside that same transaction.
 *
 * @example
 * ```ts
 * const { db, report, snapshot } = await openDatabase('app', plan, {
 *   snapshot: snapshotPolicy(),
 *   onProgress: (p) => bar.update(p.done, p.total),
 * })
 * ```
 */
export async function openDatabase(name: string, plan: Plan, options: OpenOptions): Promise<OpenResult> {
  const policy = options?.snapshot;
  if (policy !== false && typeof (policy as Partial<SnapshotPolicy> | undefined)?.takeSnapshot !== 'function') {
    // JavaScript callers (and options objects of earlier releases) get what TypeScript would have told them.
    throw new OpenError(
      'invalid_options',
      'openDatabase needs `snapshot`: snapshotPolicy() to take a snapshot before upgrading, or false to upgrade without one',
    );
  }
  const env = environment(plan, options);
  const snapshots = policy === false ? undefined : policy;
  // A restore that deleted the database and was interrupted before reloading it: finish it first.
  await snapshots?.resumeRestore(name, restoreOptions(options, env));
  let downgraded: DowngradeInfo | null = null;
  let result: Opened;
  const trace: Trace = { completed: [] };
  try {
    try {
      result = await open(name, plan, options, env, false, snapshots, trace);
    } catch (error) {
      if (!(error instanceof OpenError && error.code === 'downgrade' && options.downgrade === 'restore-snapshot'))
        throw error;
      if (snapshots === undefined) {
        throw new OpenError(
          'downgrade',
          `"${name}" is at version ${error.oldVersion}, newer than ${env.target}, and snapshots are off: nothing to restore`,
          {
            oldVersion: error.oldVersion!,
            newVersion: env.target,
          },
        );
      }
      downgraded = await snapshots.downgrade(name, plan, error.oldVersion!, env.target, restoreOptions(options, env));
      result = await open(name, plan, options, env, false, snapshots, trace);
    }
  } catch (error) {
    const started = trace.started;
    const snapshot = trace.snapshot ?? null;
    // A failed upgrade may still have written its snapshot: an app retrying at every start must not pile them up.
    if (snapshot !== null) await snapshots?.prune(name, { snapshot, failed: true });
    if (started !== undefined && error instanceof IdbEvolveError) {
      safely(options.hooks?.onFailed, error, {
        ...started,
        ms: Date.now() - started.startedAt.getTime(),
        completed: trace.completed,
        snapshot,
      });
      if (options.history === true) {
        await recordMigration(
          env.factory,
          migrationRecord(started, 'failed', trace.completed, snapshot?.id ?? null, error),
        );
      }
    }
    throw error;
  }
  if (result.report !== null && trace.started !== undefined) {
    safely(options.hooks?.onComplete, result.report, { ...trace.started, snapshot: result.snapshot });
    if (options.history === true) {
      await recordMigration(
        env.factory,
        migrationRecord(trace.started, 'upgraded', result.report.versions, result.snapshot?.id ?? null, null),
      );
    }
  }
  if (result.snapshot !== null) await snapshots?.prune(name, { snapshot: result.snapshot, failed: false });
  return { ...result, db: result.db!, downgraded };
}

function restoreOptions(options: DryRunOptions, env: Environment): PolicyRestoreOptions {
  return {
    indexedDB: env.factory,
    IDBKeyRange: env.keyRange,
    ...(options.onBlocked === undefined
      ? {}
      : {
          onBlocked: (info: { oldVersion: number }) =>
            options.onBlocked!({ oldVersion: info.oldVersion, newVersion: env.target }),
        }),
    ...(options.blockedTimeout === undefined ? {} : { blockedTimeout: options.blockedTimeout }),
  };
}

/**
 * Runs the whole pending upgrade, then rolls it back and resolves with its report: the way to learn, on real
 * data, whether an upgrade would succeed and how long it takes. The database is left exactly as it was; a
 * database that did not exist is not created. Rejects like {@link openDatabase} when the upgrade fails.
 */
export async function dryRun(name: string, plan: Plan, options: DryRunOptions = {}): Promise<UpgradeReport> {
  const result = await open(name, plan, options, environment(plan, options), true, undefined, { completed: [] });
  if (result.report !== null) return result.report;
  // Nothing pending: the database is already at the target version.
  const version = result.db?.version ?? 0;
  result.db?.close();
  return { oldVersion: version, newVersion: version, fresh: false, dryRun: true, versions: [], ms: 0 };
}

interface Opened {
  readonly db: IDBDatabase | null;
  readonly report: UpgradeReport | null;
  readonly snapshot: SnapshotInfo | null;
  readonly snapshotError: SnapshotError | null;
}

function open(
  name: string,
  plan: Plan,
  options: DryRunOptions & Partial<Pick<OpenOptions, 'hooks'>>,
  { factory, keyRange, target }: Environment,
  isDryRun: boolean,
  snapshots: SnapshotPolicy | undefined,
  trace: Trace,
): Promise<Opened> {
  return new Promise<Opened>((resolve, reject) => {
    let request: IDBOpenDBRequest;
    try {
      request = factory.open(name, target);
    } catch (error) {
      reject(new OpenError('open_failed', `Could not open "${name}"`, { cause: error, newVersion: target }));
      return;
    }
    let guard: TransactionGuard | undefined;
    let report: UpgradeReport | undefined;
    let snapshotError: SnapshotError | null = null;
    let gaveUp = false;
    let blockedTimer: ReturnType<typeof setTimeout> | undefined;
    let stopWatchingPage = (): void => {};

    request.onblocked = (event) => {
      options.onBlocked?.({ oldVersion: event.oldVersion, newVersion: event.newVersion ?? target });
      if (options.blockedTimeout !== undefined && blockedTimer === undefined) {
        blockedTimer = setTimeout(() => {
          gaveUp = true;
          reject(
            new OpenError(
              'blocked',
              `Other connections kept "${name}" open for ${options.blockedTimeout} ms; the upgrade did not run`,
              {
                oldVersion: event.oldVersion,
                newVersion: target,
              },
            ),
          );
        }, options.blockedTimeout);
      }
    };

    request.onupgradeneeded = (event) => {
      clearTimeout(blockedTimer);
      const transaction = request.transaction!;
      if (gaveUp) {
        // The caller was told the open failed; upgrading now would change the database behind its back.
        transaction.abort();
        return;
      }
      const db = request.result;
      const info: UpgradeInfo = {
        database: name,
        oldVersion: event.oldVersion,
        newVersion: target,
        startedAt: new Date(),
        pending:
          event.oldVersion === 0
            ? [target]
            : plan.versions.filter((v) => v.version > event.oldVersion && v.version <= target).map((v) => v.version),
      };
      trace.started = info;
      if (!isDryRun) safely(options.hooks?.onStart, info);
      guard = new TransactionGuard(db, transaction, keyRange, () => {});
      const running = guard;
      stopWatchingPage = abortOnPageHide(running);
      running.start();
      const upgrade = async (): Promise<UpgradeReport> => {
        if (snapshots !== undefined && event.oldVersion > 0) {
          // Inside the versionchange transaction: no other connection can write between snapshot and upgrade.
          ({ snapshot: trace.snapshot, error: snapshotError } = await snapshots.takeSnapshot({
            db,
            guard: running,
            keyRange,
            factory,
            database: name,
            version: event.oldVersion,
            onProgress:
              options.onProgress &&
              ((store, done, total) =>
                options.onProgress!({ phase: 'snapshot', version: event.oldVersion, store, done, total })),
          }));
        }
        return runUpgrade({
          db,
          guard: running,
          plan,
          factory,
          keyRange,
          oldVersion: event.oldVersion,
          newVersion: target,
          dryRun: isDryRun,
          onProgress: options.onProgress,
          onVersion: isDryRun
            ? undefined
            : (version) => {
                trace.completed.push(version);
                safely(options.hooks?.onVersion, version, info);
              },
        });
      };
      upgrade().then(
        (done) => {
          report = done;
          if (isDryRun) running.rollBack();
          else running.stop();
        },
        (error: unknown) => {
          running.fail(error);
        },
      );
    };

    request.onsuccess = () => {
      clearTimeout(blockedTimer);
      stopWatchingPage();
      const db = request.result;
      if (gaveUp) {
        db.close();
        return;
      }
      if (guard !== undefined && report === undefined) {
        // The keepalive could not hold the transaction (no store to keep a request on): it committed mid-migration.
        db.close();
        reject(
          guard.failure ??
            new UpgradeError(
              'transaction_inactive',
              `The upgrade committed before its steps finished; "${name}" is at version ${db.version} but may be half-migrated`,
              { version: db.version },
            ),
        );
        return;
      }
      watchVersionChange(db, options);
      resolve({ db, report: report ?? null, snapshot: trace.snapshot ?? null, snapshotError });
    };

    request.onerror = (event) => {
      event.preventDefault();
      clearTimeout(blockedTimer);
      stopWatchingPage();
      if (gaveUp) return;
      if (isDryRun && report !== undefined && guard?.failure === undefined) {
        resolve({ db: null, report, snapshot: null, snapshotError: null });
        return;
      }
      if (guard?.failure !== undefined) {
        reject(guard.failure);
        return;
      }
      const error = request.error;
      if (error?.name === 'VersionError') {
        installedVersion(factory, name).then(
          (installed) =>
            reject(
              new OpenError(
                'downgrade',
                `"${name}" is at version ${installed}, newer than the requested version ${target}: this code is older than the data. Restore a snapshot or ship the newer plan`,
                { oldVersion: installed, newVersion: target, cause: error },
              ),
            ),
          reject,
        );
        return;
      }
      if (guard !== undefined) {
        reject(
          new UpgradeError(
            'upgrade_aborted',
            'The upgrade was aborted from outside (connection closed, page hidden, browser shutdown); nothing was changed',
            {
              cause: error,
            },
          ),
        );
        return;
      }
      reject(
        new OpenError('open_failed', `Could not open "${name}": ${error?.message ?? 'unknown error'}`, {
          cause: error,
          newVersion: target,
        }),
      );
    };
  });
}

/**
 * Aborts the upgrade when the page is hidden for navigation or the back/forward cache: a page frozen with its
 * upgrade pending would leave the next page's open hanging.
 */
function abortOnPageHide(guard: TransactionGuard): () => void {
  const target = globalThis as {
    addEventListener?: typeof addEventListener;
    removeEventListener?: typeof removeEventListener;
    document?: unknown;
  };
  if (typeof target.addEventListener !== 'function' || target.document === undefined) return () => {};
  const onPageHide = (): void => {
    guard.fail(
      new UpgradeError(
        'upgrade_aborted',
        'The page was hidden during the upgrade; it was rolled back and runs again on the next open',
      ),
    );
  };
  target.addEventListener('pagehide', onPageHide);
  return () => target.removeEventListener?.('pagehide', onPageHide);
}
