import { OpenError, PlanError, UpgradeError } from './errors.js';
import type { Plan } from './plan.js';
import { TransactionGuard } from './transaction-guard.js';
import { runUpgrade, type UpgradeProgress, type UpgradeReport } from './upgrade.js';

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

/** Options of {@link openDatabase} and {@link dryRun}. */
export interface OpenOptions {
  /**
   * Version to open at (default: the plan's latest). Lower it for a staged rollout: the database is migrated up to
   * this version only. It must be a version of the plan.
   */
  readonly version?: number;
  /** The IndexedDB factory to use (default: `globalThis.indexedDB`); tests pass fake-indexeddb's. */
  readonly indexedDB?: IDBFactory;
  /** The key range class belonging to that factory (default: `globalThis.IDBKeyRange`). */
  readonly IDBKeyRange?: typeof IDBKeyRange;
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

/** What {@link openDatabase} resolves to. */
export interface OpenResult {
  /** The open connection, at the requested version. */
  readonly db: IDBDatabase;
  /** What the upgrade did, or null when the database was already at the requested version. */
  readonly report: UpgradeReport | null;
}

interface Environment {
  readonly factory: IDBFactory;
  readonly keyRange: typeof IDBKeyRange;
  readonly target: number;
}

function environment(plan: Plan, options: OpenOptions): Environment {
  const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  const keyRange = options.IDBKeyRange ?? (globalThis as { IDBKeyRange?: typeof IDBKeyRange }).IDBKeyRange;
  if (factory === undefined || keyRange === undefined) {
    throw new OpenError('open_failed', 'IndexedDB is not available here; pass `indexedDB` and `IDBKeyRange` in the options');
  }
  const target = options.version ?? plan.latest;
  if (plan.get(target) === undefined) {
    throw new PlanError('invalid_target_version', `Cannot open at version ${String(target)}: the plan does not declare it`, {
      ...(typeof target === 'number' ? { version: target } : {}),
    });
  }
  return { factory, keyRange, target };
}

/** Reads the installed version without creating the database (an open that would create it is aborted). */
export function installedVersion(factory: IDBFactory, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = factory.open(name);
    request.onupgradeneeded = () => request.transaction?.abort();
    request.onsuccess = () => {
      const version = request.result.version;
      request.result.close();
      resolve(version);
    };
    request.onerror = (event) => {
      event.preventDefault();
      if (request.error?.name === 'AbortError') resolve(0);
      else reject(new OpenError('open_failed', `Could not read the installed version of "${name}"`, { cause: request.error }));
    };
  });
}

function watchVersionChange(db: IDBDatabase, options: OpenOptions): void {
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
 * promise rejects with an {@link UpgradeError} naming version, step, store and key.
 *
 * @example
 * ```ts
 * const { db, report } = await openDatabase('app', plan, { onProgress: (p) => bar.update(p.done, p.total) })
 * ```
 */
export async function openDatabase(name: string, plan: Plan, options: OpenOptions = {}): Promise<OpenResult> {
  const result = await open(name, plan, options, false);
  return { db: result.db!, report: result.report };
}

/**
 * Runs the whole pending upgrade, then rolls it back and resolves with its report: the way to learn, on real
 * data, whether an upgrade would succeed and how long it takes. The database is left exactly as it was; a
 * database that did not exist is not created. Rejects like {@link openDatabase} when the upgrade fails.
 */
export async function dryRun(name: string, plan: Plan, options: OpenOptions = {}): Promise<UpgradeReport> {
  const result = await open(name, plan, options, true);
  if (result.report !== null) return result.report;
  // Nothing pending: the database is already at the target version.
  const version = result.db?.version ?? 0;
  result.db?.close();
  return { oldVersion: version, newVersion: version, fresh: false, dryRun: true, versions: [], ms: 0 };
}

interface Opened {
  readonly db: IDBDatabase | null;
  readonly report: UpgradeReport | null;
}

function open(name: string, plan: Plan, options: OpenOptions, isDryRun: boolean): Promise<Opened> {
  let env: Environment;
  try {
    env = environment(plan, options);
  } catch (error) {
    return Promise.reject(error);
  }
  const { factory, keyRange, target } = env;
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
    let gaveUp = false;
    let blockedTimer: ReturnType<typeof setTimeout> | undefined;
    let stopWatchingPage = (): void => {};

    request.onblocked = (event) => {
      options.onBlocked?.({ oldVersion: event.oldVersion, newVersion: event.newVersion ?? target });
      if (options.blockedTimeout !== undefined && blockedTimer === undefined) {
        blockedTimer = setTimeout(() => {
          gaveUp = true;
          reject(
            new OpenError('blocked', `Other connections kept "${name}" open for ${options.blockedTimeout} ms; the upgrade did not run`, {
              oldVersion: event.oldVersion,
              newVersion: target,
            }),
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
      guard = new TransactionGuard(db, transaction, keyRange, () => {});
      const running = guard;
      stopWatchingPage = abortOnPageHide(running);
      running.start();
      runUpgrade({
        db,
        guard: running,
        plan,
        factory,
        keyRange,
        oldVersion: event.oldVersion,
        newVersion: target,
        dryRun: isDryRun,
        onProgress: options.onProgress,
      }).then(
        (done) => {
          report = done;
          running.stop();
          if (isDryRun) transaction.abort();
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
      resolve({ db, report: report ?? null });
    };

    request.onerror = (event) => {
      event.preventDefault();
      clearTimeout(blockedTimer);
      stopWatchingPage();
      if (gaveUp) return;
      if (isDryRun && report !== undefined && guard?.failure === undefined) {
        resolve({ db: null, report });
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
          new UpgradeError('upgrade_aborted', 'The upgrade was aborted from outside (connection closed, page hidden, browser shutdown); nothing was changed', {
            cause: error,
          }),
        );
        return;
      }
      reject(new OpenError('open_failed', `Could not open "${name}": ${error?.message ?? 'unknown error'}`, { cause: error, newVersion: target }));
    };
  });
}

/**
 * Aborts the upgrade when the page is hidden for navigation or the back/forward cache: a page frozen with its
 * upgrade pending would leave the next page's open hanging.
 */
function abortOnPageHide(guard: TransactionGuard): () => void {
  const target = globalThis as { addEventListener?: typeof addEventListener; removeEventListener?: typeof removeEventListener; document?: unknown };
  if (typeof target.addEventListener !== 'function' || target.document === undefined) return () => {};
  const onPageHide = (): void => {
    guard.fail(new UpgradeError('upgrade_aborted', 'The page was hidden during the upgrade; it was rolled back and runs again on the next open'));
  };
  target.addEventListener('pagehide', onPageHide);
  return () => target.removeEventListener?.('pagehide', onPageHide);
}
