import type { IdbEvolveError } from '../errors.js';
import { type IndexedDBOptions, openOwnDatabase, requestResult, resolveIndexedDB } from '../idb/request.js';
import { checkOptions, rule } from '../options.js';
import type { UpgradeInfo } from './lifecycle.js';
import type { VersionReport } from './run-upgrade.js';

/** The database idb-evolve keeps its upgrade log in (`upgradeLog: true`), apart from the app's own databases. */
export const UPGRADE_LOG_DATABASE = 'idb-evolve-history';
const STORE = 'migrations';

/** One upgrade as the log keeps it: what ran, when, how long, with which snapshot, and how it ended. */
export interface UpgradeLogEntry {
  readonly database: string;
  readonly outcome: 'upgraded' | 'failed';
  readonly oldVersion: number;
  readonly newVersion: number;
  /** ISO 8601 start time. */
  readonly startedAt: string;
  readonly ms: number;
  /** Per version: time and per-step counts; for a failed upgrade, the versions that completed before the failure (rolled back). */
  readonly versions: readonly {
    readonly version: number;
    readonly ms: number;
    readonly steps: readonly {
      readonly name: string;
      readonly ms: number;
      readonly visited: number;
      readonly updated: number;
      readonly deleted: number;
      readonly written: number;
    }[];
  }[];
  /** Id of the snapshot taken before the upgrade, if any (also kept when the upgrade then failed). */
  readonly snapshotId: string | null;
  /** The typed error of a failed upgrade. */
  readonly error: {
    readonly name: string;
    readonly code: string;
    readonly message: string;
    readonly version?: number;
    readonly step?: string;
    readonly store?: string;
    /** The primary key of the record being processed, for per-record failures. */
    readonly key?: IDBValidKey;
  } | null;
}

function openLog(factory: IDBFactory): Promise<IDBDatabase> {
  // Barely wait for another tab holding the log open: the log is best effort, the app's open is what matters.
  return openOwnDatabase(factory, UPGRADE_LOG_DATABASE, 1, { blockedTimeout: 5_000 }, (db) =>
    db.createObjectStore(STORE, { autoIncrement: true }).createIndex('database', 'database'),
  );
}

/** Summarizes an upgrade for the log. */
export function upgradeLogEntry(
  info: UpgradeInfo,
  outcome: UpgradeLogEntry['outcome'],
  versions: readonly VersionReport[],
  snapshotId: string | null,
  error: IdbEvolveError | null,
): UpgradeLogEntry {
  return {
    database: info.database,
    outcome,
    oldVersion: info.oldVersion,
    newVersion: info.newVersion,
    startedAt: info.startedAt.toISOString(),
    ms: Date.now() - info.startedAt.getTime(),
    versions: versions.map((v) => ({
      version: v.version,
      ms: v.ms,
      steps: v.steps.map(({ name, ms, visited, updated, deleted, written }) => ({
        name,
        ms,
        visited,
        updated,
        deleted,
        written,
      })),
    })),
    snapshotId,
    error:
      error === null
        ? null
        : {
            name: error.name,
            code: error.code,
            message: error.message,
            ...(error.version === undefined ? {} : { version: error.version }),
            ...(error.step === undefined ? {} : { step: error.step }),
            ...(error.store === undefined ? {} : { store: error.store }),
            ...(error.key === undefined ? {} : { key: error.key }),
          },
  };
}

/** Appends an entry; the log is best effort and never fails the open it describes. */
export async function recordUpgrade(factory: IDBFactory, entry: UpgradeLogEntry): Promise<void> {
  try {
    const db = await openLog(factory);
    try {
      const transaction = db.transaction(STORE, 'readwrite');
      await requestResult(transaction.objectStore(STORE).add(entry));
    } finally {
      db.close();
    }
  } catch {
    // Private mode, quota, a blocked log database: the upgrade itself is what matters.
  }
}

/** Options of {@link readUpgradeLog}. */
export interface ReadUpgradeLogOptions extends IndexedDBOptions {
  /** Only the entries of this database. */
  readonly database?: string;
}

/**
 * The upgrade log, oldest first: every upgrade `openDatabase` ran (or failed to run) with `upgradeLog: true` in
 * this browser profile, kept in a database of its own so that it survives restores and never touches the app's
 * stores.
 *
 * @example
 * ```ts
 * const last = (await readUpgradeLog({ database: 'app' })).at(-1)
 * if (last?.outcome === 'failed') report(last.error)
 * ```
 */
export async function readUpgradeLog(options: ReadUpgradeLogOptions = {}): Promise<UpgradeLogEntry[]> {
  checkOptions('readUpgradeLog', options, { database: rule.string });
  const db = await openLog(resolveIndexedDB(options).factory);
  try {
    const store = db.transaction(STORE, 'readonly').objectStore(STORE);
    const { database } = options;
    return (await requestResult(
      database === undefined ? store.getAll() : store.index('database').getAll(database),
    )) as UpgradeLogEntry[];
  } finally {
    db.close();
  }
}
