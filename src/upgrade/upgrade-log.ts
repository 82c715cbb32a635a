import type { IdbEvolveError } from '../errors.js';
import { resolveIndexedDB, type IndexedDBOptions } from '../idb/environment.js';
import type { UpgradeInfo } from './open-database.js';
import type { VersionReport } from './run-upgrade.js';

/** The database idb-evolve keeps its migration history in, apart from the app's own databases. */
export const HISTORY_DATABASE = 'idb-evolve-history';
const STORE = 'migrations';

/** One upgrade as the history keeps it: what ran, when, how long, with which snapshot, and how it ended. */
export interface MigrationRecord {
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
  readonly snapshot: string | null;
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

function openHistory(factory: IDBFactory): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = factory.open(HISTORY_DATABASE, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore(STORE, { autoIncrement: true }).createIndex('database', 'database');
    };
    request.onsuccess = () => {
      const db = request.result;
      // Never hold up another tab's deletion or upgrade of the history.
      db.onversionchange = () => db.close();
      resolve(db);
    };
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error('The migration history database is blocked'));
  });
}

/** Summarizes an upgrade for the history. */
export function migrationRecord(
  info: UpgradeInfo,
  outcome: MigrationRecord['outcome'],
  versions: readonly VersionReport[],
  snapshot: string | null,
  error: IdbEvolveError | null,
): MigrationRecord {
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
    snapshot,
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

/** Appends a record; history is best effort and never fails the open it describes. */
export async function recordMigration(factory: IDBFactory, record: MigrationRecord): Promise<void> {
  try {
    const db = await openHistory(factory);
    try {
      await new Promise<void>((resolve, reject) => {
        const transaction = db.transaction(STORE, 'readwrite');
        transaction.objectStore(STORE).add(record);
        transaction.oncomplete = () => resolve();
        transaction.onerror = () => reject(transaction.error);
      });
    } finally {
      db.close();
    }
  } catch {
    // Private mode, quota, a blocked history database: the migration itself is what matters.
  }
}

/**
 * The migration history, oldest first: every upgrade `openDatabase` ran (or failed to run) in this browser
 * profile, kept in a database of its own so that it survives restores and never touches the app's stores.
 *
 * @example
 * ```ts
 * const last = (await migrationHistory('app')).at(-1)
 * if (last?.outcome === 'failed') report(last.error)
 * ```
 */
export async function migrationHistory(database?: string, options: IndexedDBOptions = {}): Promise<MigrationRecord[]> {
  const { factory } = resolveIndexedDB(options);
  const db = await openHistory(factory);
  try {
    return await new Promise<MigrationRecord[]>((resolve, reject) => {
      const store = db.transaction(STORE, 'readonly').objectStore(STORE);
      const request = database === undefined ? store.getAll() : store.index('database').getAll(database);
      request.onsuccess = () => resolve(request.result as MigrationRecord[]);
      request.onerror = () => reject(request.error);
    });
  } finally {
    db.close();
  }
}
