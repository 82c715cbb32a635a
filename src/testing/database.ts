import {
  deleteDatabase as deleteByName,
  type IndexedDBOptions,
  openExisting,
  requestResult as request,
  resolveIndexedDB,
} from '../idb/request.js';
import { type IdbEvolveError, isIdbEvolveError, PlanError } from '../errors.js';
import { readLayout, type NormalizedStore } from '../plan/layout.js';
import { openDatabase } from '../upgrade/open-database.js';
import type { Plan } from '../plan/define-plan.js';
import type { SnapshotPolicy } from '../snapshot/policy.js';
import type { ProgressCallback } from '../progress.js';
import type { UpgradeReport } from '../upgrade/run-upgrade.js';
import { type Fixtures, FixtureError, fixtureEntries, validateFixtures, writeFixtures } from './fixtures.js';

/** Where test databases live and how they are upgraded. */
export interface TestingOptions extends IndexedDBOptions {
  /**
   * Snapshots before the upgrades {@link migrate} runs, the same values as `openDatabase`'s `snapshots`; off
   * (`false`) by default. Pass `snapshotPolicy({ storage: memorySnapshotStorage() })` to keep tests out of OPFS.
   */
  readonly snapshots?: SnapshotPolicy | false;
}

/** Options of {@link createDatabaseAt}. */
export interface CreateDatabaseOptions extends TestingOptions {
  /**
   * Database name. Default: a new unique name, so that runs never see each other's data in a real browser. A given
   * name is deleted first when it exists.
   */
  readonly name?: string;
  /** Run the plan's `seed` step when creating the database (default false: the fixtures are the only records). */
  readonly seed?: boolean;
  /**
   * Check every fixture against the version's validators before writing any (default false). Turn it on when
   * fixtures are generated, so that records the app could never have written at that version are reported as
   * such instead of as a failing migration.
   */
  readonly validate?: boolean;
}

/** A database created by {@link createDatabaseAt}; pass it to {@link migrate}, {@link readAll}, {@link deleteDatabase}. */
export interface TestDatabase {
  readonly name: string;
  /** The plan {@link migrate} upgrades with unless told otherwise. */
  readonly plan: Plan;
  readonly indexedDB: IDBFactory;
  readonly IDBKeyRange: typeof IDBKeyRange;
  readonly snapshots: SnapshotPolicy | false;
}

/** What {@link migrate} did: the upgrade's report, or the typed error it failed with. */
export interface MigrateResult {
  /** The report, or null when the upgrade failed or there was nothing to do. */
  readonly report: UpgradeReport | null;
  /** Why the upgrade failed (the database then keeps its old version and data), or null. */
  readonly error: IdbEvolveError | null;
}

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** Upgrade with this plan instead of the one the database was created with (a newer release of it, say). */
  readonly plan?: Plan;
  /** Passed to `openDatabase`. */
  readonly onProgress?: ProgressCallback;
}

/** One store as {@link readAll} found it. */
export interface StoreContents {
  /** The store's real layout, read from the database. */
  readonly layout: NormalizedStore;
  /** Every record in primary-key order, as `[primaryKey, value]`. */
  readonly records: [IDBValidKey, unknown][];
}

/** Everything a database holds: its version and every store. Version 0 and no stores when it does not exist. */
export interface DatabaseContents {
  readonly version: number;
  readonly stores: Record<string, StoreContents>;
}

/** What {@link migrateFixtures} saw. */
export interface MigrationOutcome {
  /** The database at `from`, with the fixtures written, just before the upgrade. */
  readonly before: DatabaseContents;
  /** The database after the upgrade; equal to `before` when it failed (the upgrade is one transaction). */
  readonly after: DatabaseContents;
  readonly report: UpgradeReport | null;
  /** The upgrade's typed error, or null when it succeeded. */
  readonly error: IdbEvolveError | null;
}

/** Options of {@link migrateFixtures}. */
export interface MigrateFixturesOptions extends TestingOptions {
  /** Version to create the database at; 0 means no database (a fresh install, which runs the plan's seed). */
  readonly from: number;
  /** Version to migrate to (default: the plan's latest). */
  readonly to?: number;
  /** Records of version `from` (default none). */
  readonly fixtures?: Fixtures;
  /** See {@link CreateDatabaseOptions.validate}. */
  readonly validate?: boolean;
}

let counter = 0;

// Unique without crypto.randomUUID, which insecure browser contexts lack.
function uniqueName(): string {
  counter++;
  return `idb-evolve-test-${Date.now().toString(36)}-${counter.toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

function withoutSeed(plan: Plan): Plan {
  return { versions: plan.versions, latest: plan.latest, seed: undefined, get: (version) => plan.get(version) };
}

/**
 * Creates a database at `version` of `plan` (its layout directly, as a fresh install of that version would) and
 * adds the fixtures in one transaction. Nothing runs but the layout, unless `seed` is set. On failure the database
 * is deleted again and a {@link FixtureError} (or `PlanError` for a version the plan lacks) is thrown.
 * Version 0 creates nothing: migrating from it is a fresh install.
 *
 * @example
 * ```ts
 * const database = await createDatabaseAt(plan, 1, { notes: [{ id: 1, name: 'a' }] })
 * try {
 *   const { error } = await migrate(database, 2)
 *   expect((await readAll(database)).stores.notes?.records).toEqual([[1, { id: 1, title: 'a' }]])
 * } finally {
 *   await deleteDatabase(database)
 * }
 * ```
 */
export async function createDatabaseAt(
  plan: Plan,
  version: number,
  fixtures: Fixtures = {},
  options: CreateDatabaseOptions = {},
): Promise<TestDatabase> {
  const { factory, keyRange } = resolveIndexedDB(options);
  const planned = plan.get(version);
  if (planned === undefined && version !== 0) {
    throw new PlanError(
      'invalid_target_version',
      `Cannot create a database at version ${String(version)}: the plan does not declare it`,
      {
        ...(typeof version === 'number' ? { version } : {}),
      },
    );
  }
  const entries = fixtureEntries(planned?.layout ?? {}, fixtures, version);
  if (options.validate === true) await validateFixtures(plan, version, entries);
  const database: TestDatabase = {
    name: options.name ?? uniqueName(),
    plan,
    indexedDB: factory,
    IDBKeyRange: keyRange,
    snapshots: options.snapshots ?? false,
  };
  if (options.name !== undefined) await deleteByName(factory, database.name, {});
  if (version === 0) return database;
  try {
    const { db } = await openDatabase(database.name, options.seed === true ? plan : withoutSeed(plan), {
      indexedDB: factory,
      IDBKeyRange: keyRange,
      version,
      snapshots: false,
    });
    try {
      await writeFixtures(db, entries, version);
    } finally {
      db.close();
    }
  } catch (error) {
    await deleteByName(factory, database.name, {}).catch(() => {});
    throw error;
  }
  return database;
}

/**
 * Opens the database with its plan at version `to` (default: the plan's latest), upgrading it as an app would,
 * and closes it again. Upgrade, open and snapshot failures are returned as `error`, not thrown; a `PlanError` (a
 * version the plan lacks) is thrown, since it is a mistake in the test rather than an outcome of the migration.
 */
export async function migrate(
  database: TestDatabase,
  to?: number,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const plan = options.plan ?? database.plan;
  try {
    const { db, upgrade } = await openDatabase(database.name, plan, {
      indexedDB: database.indexedDB,
      IDBKeyRange: database.IDBKeyRange,
      version: to ?? plan.latest,
      snapshots: database.snapshots,
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    });
    db.close();
    return { report: upgrade?.report ?? null, error: null };
  } catch (error) {
    if (isIdbEvolveError(error) && error.name !== 'PlanError') return { report: null, error };
    throw error;
  }
}

/**
 * Reads the whole database without changing it: its version, and every store's real layout and records in key
 * order. A database that does not exist reads as version 0 with no stores (and is not created).
 */
export async function readAll(database: Pick<TestDatabase, 'name' | 'indexedDB'>): Promise<DatabaseContents> {
  const db = await openExisting(database.indexedDB, database.name);
  if (db === undefined) return { version: 0, stores: {} };
  try {
    const names = Array.from(db.objectStoreNames);
    const stores: Record<string, StoreContents> = {};
    if (names.length === 0) return { version: db.version, stores };
    const transaction = db.transaction(names, 'readonly');
    const layout = readLayout(db, transaction);
    await Promise.all(
      names.map(async (name) => {
        const store = transaction.objectStore(name);
        const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
        stores[name] = { layout: layout[name]!, records: keys.map((key, i) => [key, values[i]]) };
      }),
    );
    // Name order, whatever order the reads finished in.
    return { version: db.version, stores: Object.fromEntries(names.map((name) => [name, stores[name]!])) };
  } finally {
    db.close();
  }
}

/** Deletes the database. Resolves once it is gone; waits while a connection someone else opened stays open. */
export function deleteDatabase(database: Pick<TestDatabase, 'name' | 'indexedDB'>): Promise<void> {
  return deleteByName(database.indexedDB, database.name, {});
}

/**
 * Creates a fresh database at `from` with the fixtures, migrates it to `to`, reads it back before and after, and
 * deletes it. The upgrade's typed error is returned in the outcome, not thrown.
 *
 * @example
 * ```ts
 * const { after, error } = await migrateFixtures(plan, { from: 1, to: 3, fixtures: { notes: [{ id: 1, name: 'a' }] } })
 * ```
 */
export async function migrateFixtures(plan: Plan, options: MigrateFixturesOptions): Promise<MigrationOutcome> {
  const { from, to, fixtures = {}, ...rest } = options;
  const database = await createDatabaseAt(plan, from, fixtures, rest);
  try {
    const before = await readAll(database);
    const { report, error } = await migrate(database, to);
    const after = await readAll(database);
    return { before, after, report, error };
  } finally {
    await deleteDatabase(database);
  }
}
