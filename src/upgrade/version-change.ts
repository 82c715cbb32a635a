import { OpenError, UpgradeError } from '../errors.js';
import { type BlockedOptions, installedVersion, openStart, settleRequest } from '../idb/request.js';
import { type UpgradeElsewhere, Wait } from '../idb/wait.js';
import type { Progress } from '../progress.js';
import { newsChannel, upgradeLock, UpgradeNews } from './election.js';
import { TransactionGuard } from '../idb/transaction-guard.js';
import type { Plan } from '../plan/define-plan.js';
import type { ProgressCallback } from '../progress.js';
import type { SnapshotPolicy } from '../snapshot/policy.js';
import { type Backup, safely, type Trace, type UpgradeHooks, type UpgradeInfo } from './lifecycle.js';
import { type Duplicate, isBareConstraint, uniqueViolation } from './constraints.js';
import { runUpgrade, type UpgradeReport } from './run-upgrade.js';

/** Passed to `onVersionChange` after the library closed its connection for another one's upgrade or deletion. */
export interface VersionChangeInfo {
  readonly oldVersion: number;
  /** The version the other connection asked for; null when the database is being deleted. */
  readonly newVersion: number | null;
  /**
   * True when that version is newer than this code's plan knows: another tab runs a newer release, and this one
   * is stale (its next open would be refused as a `downgrade`). Show "a new version is ready, reload".
   */
  readonly stale: boolean;
}

/** One open of a database with a plan: everything the versionchange run needs. */
export interface VersionChange {
  readonly name: string;
  readonly plan: Plan;
  readonly factory: IDBFactory;
  readonly keyRange: typeof IDBKeyRange;
  readonly target: number;
  /** Roll the upgrade back once it has run (dry run): hooks are not called and nothing is kept. */
  readonly dryRun: boolean;
  /** Set on the replay that explains a unique index build's bare ConstraintError (see {@link explainFailure}). */
  readonly findDuplicates?: boolean;
  /** The snapshot policy, or `off` (`snapshots: false`): then no backup is taken. */
  readonly snapshots: SnapshotPolicy | 'off';
  readonly trace: Trace;
  readonly waits: BlockedOptions;
  readonly onProgress: ProgressCallback | undefined;
  /** Set on the connection as soon as it opens, so that another connection's upgrade is never blocked by it. */
  readonly onVersionChange: ((info: VersionChangeInfo) => void) | undefined;
  /** Told while another open of the database (this app, a tab, a worker) holds the upgrade. */
  readonly onUpgradeElsewhere?: ((event: UpgradeElsewhere) => void) | undefined;
  readonly hooks: UpgradeHooks | undefined;
}

/** How the request ended: the connection (null after a dry run), and the upgrade if one ran. */
export interface Opened {
  readonly db: IDBDatabase | null;
  readonly upgrade: { readonly report: UpgradeReport; readonly backup: Backup } | null;
}

/** State of one request, shared by its event handlers. */
interface Running {
  guard?: TransactionGuard;
  /** The upgrade's news to other opens of the database, once it started. */
  news?: UpgradeNews;
  upgrade?: Opened['upgrade'];
  stopWatchingPage: () => void;
}

/**
 * Opens the database at the target version and, when an upgrade is needed, runs it inside the versionchange
 * transaction: the backup first, then every pending version. Resolves once the transaction has committed (or been
 * rolled back, for a dry run); rejects with the typed error {@link openFailure} chooses.
 */
export async function runVersionChange(change: VersionChange): Promise<Opened> {
  try {
    return await versionChange(change);
  } catch (error) {
    throw await explainFailure(change, error);
  }
}

/**
 * A unique index built over records that share a key aborts the transaction with a bare ConstraintError: no
 * store, index or record. The upgrade is then replayed as a dry run that reads each store before building its
 * unique indexes, which finds the two records; the database stays as it was. Any other error is returned as is.
 */
async function explainFailure(change: VersionChange, error: unknown): Promise<unknown> {
  if (!isBareConstraint(error) || change.findDuplicates === true) return error;
  const replay: VersionChange = {
    ...change,
    dryRun: true,
    findDuplicates: true,
    snapshots: 'off',
    trace: { completed: [] },
    onProgress: undefined,
    onVersionChange: undefined,
    hooks: undefined,
  };
  const found = await versionChange(replay).then(
    () => undefined,
    (replayed: unknown) => replayed,
  );
  if (!(found instanceof UpgradeError && found.code === 'constraint_violation' && found.primaryKeys?.length === 2)) {
    return error;
  }
  const duplicate = found as UpgradeError & Duplicate;
  return uniqueViolation(duplicate, error.cause);
}

/**
 * One open request with the plan: after this realm's earlier requests for the database and the cross-context upgrade
 * lock (whose holder's news the wait hears), all within the call's one bounded wait.
 */
async function versionChange(change: VersionChange): Promise<Opened> {
  const { factory, name } = change;
  const running: Running = { stopWatchingPage: () => {} };
  const wait = new Wait(name, change.waits, 'the upgrade did not run', {
    channel: newsChannel(factory, name),
    onUpgradeElsewhere: change.onUpgradeElsewhere,
  });
  const open = {
    ...openStart(factory, name, change.target),
    acquire: upgradeLock(factory, name, change.onUpgradeElsewhere),
  };
  return settleRequest<Opened>(open, wait, {
    gaveUp: 'the upgrade did not run',
    settled: (ok) => finishNews(change, running, ok),
    upgrade: (r, event) => startUpgrade(change, running, r, event.oldVersion),
    success: (r) => {
      running.stopWatchingPage();
      const db = r.result;
      if (running.guard !== undefined && running.upgrade === undefined) {
        // The keepalive could not hold the transaction (no store to keep a request on): it committed mid-migration.
        db.close();
        throw (
          running.guard.failure ??
          new UpgradeError(
            'transaction_inactive',
            `The upgrade committed before its steps finished; "${change.name}" is at version ${db.version} but may be half-migrated`,
            { version: db.version },
          )
        );
      }
      if (!change.dryRun) closeOnVersionChange(db, change.plan.latest, change.onVersionChange);
      // Nothing left to run here: the upgrade heard starting elsewhere did finish, at this version.
      if (running.upgrade === undefined && wait.unfinished) {
        change.onUpgradeElsewhere?.({ type: 'finished', ok: true, version: db.version });
      }
      return { db, upgrade: running.upgrade ?? null };
    },
    failure: (error) => {
      running.stopWatchingPage();
      return openFailure(change, running, error);
    },
  });
}

/**
 * Tells the other opens how the upgrade this request ran (if any) ended, as the request settles: before the next
 * call of this realm starts, so that a call waiting here hears it first.
 */
function finishNews(change: VersionChange, running: Running, ok: boolean): void {
  const { news, guard } = running;
  if (news === undefined) return;
  const committed = ok && !change.dryRun;
  const version = committed ? change.target : (change.trace.started?.oldVersion ?? 0);
  const finished = { type: 'finished', ok, version } as const;
  const code = guard?.failure?.code;
  news.post(!ok && code !== undefined ? { ...finished, code } : finished);
  news.close();
}

function startUpgrade(change: VersionChange, running: Running, request: IDBOpenDBRequest, oldVersion: number): void {
  const { plan, target, trace } = change;
  const db = request.result;
  const info: UpgradeInfo = {
    database: change.name,
    oldVersion,
    newVersion: target,
    startedAt: new Date(),
    pending:
      oldVersion === 0
        ? [target]
        : plan.versions.filter((v) => v.version > oldVersion && v.version <= target).map((v) => v.version),
  };
  trace.started = info;
  if (!change.dryRun) safely(change.hooks?.onStart, info);
  const news = new UpgradeNews(change.factory, change.name);
  running.news = news;
  news.post({ type: 'started', oldVersion, newVersion: target, dryRun: change.dryRun });
  // Every progress event goes to the other opens too: a waiting tab shows it, and a wait that sees progress is no hang.
  const onProgress = (progress: Progress): void => {
    change.onProgress?.(progress);
    news.post({ type: 'progress', progress });
  };
  const guard = new TransactionGuard(db, request.transaction!, change.keyRange, () => {});
  running.guard = guard;
  running.stopWatchingPage = abortOnPageHide(guard);
  guard.start();
  upgrade({ ...change, onProgress }, db, guard, info).then(
    (done) => {
      running.upgrade = done;
      if (change.dryRun) guard.rollBack();
      else guard.stop();
    },
    (error: unknown) => {
      guard.fail(error);
    },
  );
}

/** The backup, then the plan's pending versions, all inside the versionchange transaction. */
async function upgrade(
  change: VersionChange,
  db: IDBDatabase,
  guard: TransactionGuard,
  info: UpgradeInfo,
): Promise<NonNullable<Opened['upgrade']>> {
  const { oldVersion } = info;
  const { backup, snapshotMs } = await takeBackup(change, db, guard, oldVersion);
  const report = await runUpgrade({
    db,
    guard,
    plan: change.plan,
    factory: change.factory,
    keyRange: change.keyRange,
    oldVersion,
    newVersion: change.target,
    dryRun: change.dryRun,
    findDuplicates: change.findDuplicates ?? false,
    onProgress: change.onProgress,
    onVersion: change.dryRun
      ? undefined
      : (version) => {
          change.trace.completed.push(version);
          safely(change.hooks?.onVersion, version, info);
        },
  });
  return { report: { ...report, snapshotMs, ms: report.ms + snapshotMs }, backup };
}

async function takeBackup(
  change: VersionChange,
  db: IDBDatabase,
  guard: TransactionGuard,
  version: number,
): Promise<{ backup: Backup; snapshotMs: number }> {
  // Timed only when a snapshot is attempted: "no backup" costs nothing, and reports 0.
  if (version === 0) return { backup: { status: 'not-needed' }, snapshotMs: 0 };
  // A dry run changes nothing, so there is nothing to protect.
  if (change.snapshots === 'off' || change.dryRun) return { backup: { status: 'off' }, snapshotMs: 0 };
  const { onProgress } = change;
  const started = Date.now();
  // Inside the versionchange transaction: no other connection can write between snapshot and upgrade.
  const taken = await change.snapshots.takeSnapshot({
    db,
    guard,
    keyRange: change.keyRange,
    factory: change.factory,
    database: change.name,
    version,
    onProgress:
      onProgress &&
      ((store, done, total) => onProgress({ phase: 'snapshot', unit: 'records', version, store, done, total })),
  });
  change.trace.snapshot = taken.snapshot;
  const snapshotMs = Date.now() - started;
  if (taken.snapshot === null) return { backup: { status: 'skipped', error: taken.error! }, snapshotMs };
  // The copy is sent once the upgrade has settled (openDatabase), never from inside the transaction.
  const { snapshot, persistent } = taken;
  return { backup: { status: 'taken', snapshot, persistent, copy: { status: 'no-hook' } }, snapshotMs };
}

/**
 * The outcome of a request that ended in `error`: a dry run's own rollback (its report), the upgrade's recorded
 * failure, a downgrade (the database is newer than the plan), an abort from outside, or the platform's refusal.
 */
function openFailure(change: VersionChange, running: Running, error: DOMException | null): Promise<Opened> | Opened {
  const { guard, upgrade } = running;
  const { name, target } = change;
  if (change.dryRun && upgrade !== undefined && guard?.failure === undefined) return { db: null, upgrade };
  if (guard?.failure !== undefined) throw guard.failure;
  if (error?.name === 'VersionError') {
    return installedVersion(name, { indexedDB: change.factory, IDBKeyRange: change.keyRange }).then((installed) => {
      throw new OpenError(
        'downgrade',
        `"${name}" is at version ${installed}, newer than the requested version ${target}: this code is older than the data (a tab loaded before a deploy: reload it; else restore a snapshot or ship the newer plan)`,
        { oldVersion: installed, newVersion: target, cause: error },
      );
    });
  }
  if (guard !== undefined) {
    throw new UpgradeError(
      'upgrade_aborted',
      'The upgrade was aborted from outside (connection closed, page hidden, browser shutdown); nothing was changed',
      { cause: error },
    );
  }
  throw new OpenError('open_failed', `Could not open "${name}": ${error?.message ?? 'unknown error'}`, {
    cause: error,
    newVersion: target,
  });
}

/** The library closes first, so that another connection's upgrade or deletion is never blocked by this one. */
function closeOnVersionChange(
  db: IDBDatabase,
  latest: number,
  onVersionChange: VersionChange['onVersionChange'],
): void {
  db.onversionchange = (event) => {
    db.close();
    const { oldVersion, newVersion } = event;
    onVersionChange?.({ oldVersion, newVersion, stale: newVersion !== null && newVersion > latest });
  };
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
