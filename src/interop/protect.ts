// protectUpgrade: the backup-before-upgrade promise for databases that another library (Dexie, idb, localForage,
// PouchDB) opens and upgrades. That library's versionchange transaction is not ours, so the snapshot is taken just
// before its open, in one read-only transaction, holding the upgrade lock every protected open of the database waits on.
import {
  type BlockedOptions,
  type IndexedDBOptions,
  installedVersion,
  openExisting,
  resolveIndexedDB,
} from '../idb/request.js';
import type { UpgradeElsewhere } from '../idb/wait.js';
import { checkOptions, rule } from '../options.js';
import type { NormalizedLayout } from '../plan/layout.js';
import type { ProgressCallback } from '../progress.js';
import type { SnapshotInfo } from '../snapshot/format.js';
import { readConsistently } from '../snapshot/manage.js';
import { type SnapshotPolicy, snapshotPolicy } from '../snapshot/policy.js';
import { type RestoreReport, restoreInto } from '../snapshot/restore.js';
import { installedLayout } from '../upgrade/drift.js';
import { newsChannel, UpgradeNews, withUpgradeLock } from '../upgrade/election.js';
import type { Backup } from '../upgrade/lifecycle.js';
import { ProtectedOpenError } from './protect-error.js';

/** A database as installed before a protected open: version 0 and no store when it does not exist. */
export interface InstalledDatabase {
  readonly name: string;
  readonly version: number;
  readonly layout: NormalizedLayout;
}

/** What a protected open hands to the library's open. */
export interface Protection {
  /**
   * Wraps an upgrade callback (idb's `upgrade`, an `onupgradeneeded` handler): the protected open waits for what it
   * returns once the open has resolved, and fails if it threw or rejected. That is how an upgrade that IndexedDB
   * committed anyway is caught: an `await` of anything but an IndexedDB request inside the callback ends the
   * versionchange transaction, so what the callback does after it fails without aborting anything, and the open
   * resolves at the new version with half the work done.
   */
  track<A extends unknown[], R>(callback: (...args: A) => R): (...args: A) => R;
}

/** How another library opens a database, for {@link protectUpgrade}; {@link dexieOpen} and its peers build one. */
export interface ForeignOpen<T> {
  /** The IndexedDB database name (PouchDB's and Dexie's own naming applied). */
  readonly name: string;
  /**
   * The IndexedDB version the open will ask for; a function reads it off the installed database, for libraries that
   * decide at open time (localForage adds 1 when its store is missing).
   */
  readonly version: number | ((installed: InstalledDatabase) => number);
  /** Opens the database with the library; resolves when it is ready. */
  readonly open: (protection: Protection) => T | PromiseLike<T>;
  /** Closes what `open` returned, so that a restore is not blocked by it (default: its `close()`, if it has one). */
  readonly close?: (opened: T) => unknown;
}

/** Options of {@link protectUpgrade}. */
export interface ProtectOptions<T> extends IndexedDBOptions, BlockedOptions {
  /** Where the snapshot goes and what happens when it cannot be written (default `snapshotPolicy()`). */
  readonly snapshots?: SnapshotPolicy;
  /**
   * After a failure that changed the database: `auto` (default) restores the snapshot before rejecting; `manual`
   * leaves it to the app (`error.restore()`).
   */
  readonly restore?: 'auto' | 'manual';
  /**
   * Checks the opened database after an upgrade (records still readable, a count, a sentinel); a throw, a rejection
   * or `false` fails the protected open like a failed upgrade.
   */
  readonly verify?: (opened: T) => unknown;
  /** Progress of the snapshot (phase `snapshot`) and of a restore (`verify`, `restore`). */
  readonly onProgress?: ProgressCallback;
  /** News of another context's protected open of the same database, while this one waits for it. */
  readonly onUpgradeElsewhere?: (event: UpgradeElsewhere) => void;
}

/** What {@link protectUpgrade} resolves with. */
export interface ProtectedOpen<T> {
  /** What the library's open resolved with (the Dexie instance, idb's database, ...). */
  readonly opened: T;
  /** The version installed before (0: the database did not exist). */
  readonly oldVersion: number;
  /** The version installed now. */
  readonly version: number;
  /** The snapshot taken before the upgrade (`taken`), or why there is none. */
  readonly backup: Backup;
}

const optionRules = {
  snapshots: rule.methods('a snapshot policy from snapshotPolicy()', 'takeSnapshot', 'prune', 'deliver'),
  restore: rule.oneOf('auto', 'manual'),
  verify: rule.function,
  onProgress: rule.function,
  onUpgradeElsewhere: rule.function,
  onBlocked: rule.function,
  blockedTimeout: rule.timeout,
};

/**
 * Opens a database with another library, protected like an idb-evolve upgrade: when the open will upgrade an
 * existing database, a snapshot of it is written first; if the upgrade fails, or IndexedDB committed it although
 * it failed, the promise rejects with a {@link ProtectedOpenError} naming the snapshot, which is restored first
 * (`restore: 'auto'`). Every protected open of the database, in any tab or worker, takes turns on one lock, so that
 * none opens or upgrades it between another's snapshot and upgrade.
 *
 * @example
 * ```ts
 * const db = new Dexie('app')
 * db.version(3).stores({ notes: '++id, title' }).upgrade(migrateNotes)
 * const { opened, backup } = await protectUpgrade(dexieOpen(db))
 * ```
 */
export async function protectUpgrade<T>(
  target: ForeignOpen<T>,
  options: ProtectOptions<T> = {},
): Promise<ProtectedOpen<T>> {
  checkTarget(target);
  checkOptions('protectUpgrade', options, optionRules);
  const connection = resolveIndexedDB(options);
  const policy = options.snapshots ?? snapshotPolicy();
  const { name } = target;
  const idb = { indexedDB: connection.factory, IDBKeyRange: connection.keyRange };
  // An interrupted restore first: it takes the lock itself.
  await policy.resumeRestore(name, { ...idb, ...options });
  const listener = { channel: newsChannel(connection.factory, name), onUpgradeElsewhere: options.onUpgradeElsewhere };
  const run = new ProtectedRun(target, options, policy, idb);
  const outcome = await withUpgradeLock(
    connection.factory,
    name,
    options,
    'the protected open did not start',
    () => run.start(),
    listener,
  );
  // Outside the lock: the copy may be slow (an upload), and no other tab needs to wait for it.
  if (outcome.backup.status !== 'taken') return outcome;
  const copy = await policy.deliver(outcome.backup.snapshot, idb);
  return { ...outcome, backup: { ...outcome.backup, copy } };
}

function checkTarget(target: object): void {
  checkOptions('protectUpgrade', target, {
    name: rule.required(rule.string),
    version: rule.required(rule.either(rule.count, rule.function)),
    open: rule.required(rule.function),
    close: rule.function,
  });
}

type Connection = Required<IndexedDBOptions>;

/** One protected open, run while holding the database's upgrade lock. */
class ProtectedRun<T> {
  readonly #target: ForeignOpen<T>;
  readonly #options: ProtectOptions<T>;
  readonly #policy: SnapshotPolicy;
  readonly #idb: Connection;
  readonly #tracked: Promise<unknown>[] = [];

  constructor(target: ForeignOpen<T>, options: ProtectOptions<T>, policy: SnapshotPolicy, idb: Connection) {
    this.#target = target;
    this.#options = options;
    this.#policy = policy;
    this.#idb = idb;
  }

  async start(): Promise<ProtectedOpen<T>> {
    // One connection reads the installed layout and, when the open will upgrade, writes the snapshot; it is closed
    // before the library's open, which it would otherwise block.
    const db = await openExisting(this.#idb.indexedDB, this.#target.name);
    const name = this.#target.name;
    const installed =
      db === undefined ? { name, version: 0, layout: {} } : { name, version: db.version, layout: installedLayout(db) };
    let newVersion: number;
    try {
      newVersion = this.#targetVersion(installed);
    } catch (error) {
      db?.close();
      throw error;
    }
    if (db === undefined || newVersion <= installed.version) {
      db?.close();
      const opened = await this.#target.open(this.#protection());
      return {
        opened,
        oldVersion: installed.version,
        version: await this.#version(),
        backup: { status: 'not-needed' },
      };
    }
    const news = new UpgradeNews(this.#idb.indexedDB, name);
    news.post({ type: 'started', oldVersion: installed.version, newVersion, dryRun: false });
    let ok = false;
    let version = installed.version;
    try {
      const backup = await this.#backup(db, installed.version, news).finally(() => db.close());
      const snapshot = backup.status === 'taken' ? backup.snapshot : null;
      const opened = await this.#openChecked(installed.version, newVersion, snapshot);
      ok = true;
      version = await this.#version();
      if (snapshot !== null) await this.#policy.prune(name, { snapshot, failed: false }, this.#idb);
      return { opened, oldVersion: installed.version, version, backup };
    } finally {
      if (!ok) version = await this.#version().catch(() => installed.version);
      news.post({ type: 'finished', ok, version });
      news.close();
    }
  }

  #targetVersion(installed: InstalledDatabase): number {
    const { version } = this.#target;
    const value = typeof version === 'function' ? version(installed) : version;
    checkOptions('protectUpgrade', { version: value }, { version: rule.count });
    return value;
  }

  #version(): Promise<number> {
    return installedVersion(this.#target.name, this.#idb);
  }

  /** The snapshot of the installed database, in one read-only transaction of `db`, as the policy writes it. */
  async #backup(db: IDBDatabase, version: number, news: UpgradeNews): Promise<Backup> {
    const { onProgress } = this.#options;
    const taken = await readConsistently(db, this.#idb.IDBKeyRange, (guard) =>
      this.#policy.takeSnapshot({
        db,
        guard,
        keyRange: this.#idb.IDBKeyRange,
        factory: this.#idb.indexedDB,
        database: this.#target.name,
        version,
        onProgress: (store, done, total) => {
          const progress = { phase: 'snapshot', unit: 'records', version, store, done, total } as const;
          news.post({ type: 'progress', progress });
          onProgress?.(progress);
        },
      }),
    );
    if (taken.snapshot === null) return { status: 'skipped', error: taken.error! };
    return { status: 'taken', snapshot: taken.snapshot, persistent: taken.persistent, copy: { status: 'no-hook' } };
  }

  #protection(): Protection {
    const tracked = this.#tracked;
    return {
      track: <A extends unknown[], R>(callback: (...args: A) => R) => {
        function wrapped(this: unknown, ...args: A): R {
          try {
            const result = callback.apply(this, args);
            tracked.push(Promise.resolve(result));
            return result;
          } catch (error) {
            tracked.push(Promise.reject(error));
            throw error;
          }
        }
        // Still an "AsyncFunction" to libraries that check (Dexie keeps its zone across native awaits for those).
        const tag = (callback as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
        if (tag !== undefined) Object.defineProperty(wrapped, Symbol.toStringTag, { value: tag });
        return wrapped;
      },
    };
  }

  /** The library's open, then the tracked callbacks and `verify`; a failure of any rejects, restored first. */
  async #openChecked(oldVersion: number, newVersion: number, snapshot: SnapshotInfo | null): Promise<T> {
    let opened: { value: T } | undefined;
    try {
      opened = { value: await this.#target.open(this.#protection()) };
      await Promise.all(this.#tracked);
      if (this.#options.verify !== undefined && (await this.#options.verify(opened.value)) === false) {
        throw new Error('verify returned false');
      }
      return opened.value;
    } catch (cause) {
      if (opened !== undefined) await this.#close(opened.value);
      throw await this.#failure({ cause, resolved: opened !== undefined, oldVersion, newVersion, snapshot });
    }
  }

  async #close(opened: T): Promise<void> {
    try {
      const close = this.#target.close ?? ((o: T) => (o as { close?: () => unknown } | null)?.close?.());
      await close(opened);
    } catch {
      // A close that fails leaves a connection that may block the restore; the restore reports that itself.
    }
  }

  async #failure(failed: {
    cause: unknown;
    resolved: boolean;
    oldVersion: number;
    newVersion: number;
    snapshot: SnapshotInfo | null;
  }): Promise<ProtectedOpenError> {
    const { cause, resolved, oldVersion, newVersion, snapshot } = failed;
    const name = this.#target.name;
    const installed = await this.#version().catch(() => Number.NaN);
    // An open that rejected at the old version was rolled back by IndexedDB: there is nothing to put back.
    const committed = resolved || installed !== oldVersion;
    const restore = (lockHeld: boolean): Promise<RestoreReport> => {
      if (snapshot === null) {
        return Promise.reject(new Error(`No snapshot of "${name}" was taken before the failed upgrade`));
      }
      const restoring = { ...this.#idb, ...this.#options, storage: this.#policy.storage };
      return restoreInto(name, snapshot.id, restoring, undefined, lockHeld);
    };
    let restored: RestoreReport | null = null;
    let restoreError: unknown;
    if (committed && snapshot !== null && this.#options.restore !== 'manual') {
      restored = await restore(true).catch((error: unknown) => {
        restoreError = error;
        return null;
      });
    }
    if (snapshot !== null) await this.#policy.prune(name, { snapshot, failed: true }, this.#idb);
    const code = resolved ? 'protected_upgrade_failed' : 'protected_open_failed';
    return new ProtectedOpenError(code, describeFailure(name, failed, { committed, restored, restoreError }), {
      database: name,
      oldVersion,
      newVersion,
      installedVersion: installed,
      committed,
      snapshot,
      restored,
      restoreError,
      restore: () => restore(false),
      cause,
    });
  }
}

function describeFailure(
  name: string,
  failed: { cause: unknown; resolved: boolean; oldVersion: number; newVersion: number; snapshot: SnapshotInfo | null },
  after: { committed: boolean; restored: RestoreReport | null; restoreError: unknown },
): string {
  const what = failed.resolved
    ? `The upgrade of "${name}" from version ${failed.oldVersion} to ${failed.newVersion} failed although the open resolved`
    : `Opening "${name}" at version ${failed.newVersion} (installed: ${failed.oldVersion}) failed`;
  const reason = (failed.cause as { message?: unknown } | null)?.message ?? String(failed.cause);
  const state = !after.committed
    ? 'IndexedDB rolled the upgrade back: the database kept its version and data'
    : after.restored !== null
      ? `the snapshot ${failed.snapshot!.id} taken before it was restored`
      : failed.snapshot === null
        ? 'no snapshot was taken before it: the database is as the failed upgrade left it'
        : after.restoreError !== undefined
          ? `restoring the snapshot ${failed.snapshot.id} failed too (${(after.restoreError as Error)?.message}); call error.restore() to try again`
          : `the snapshot ${failed.snapshot.id} taken before it was not restored (restore: 'manual'): call error.restore()`;
  return `${what}: ${reason}; ${state}`;
}
