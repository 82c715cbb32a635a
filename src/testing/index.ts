/**
 * `idb-evolve/testing`: a kit to test your own migrations. Create a database at any version of a plan with fixture
 * records, migrate it, read every store back, and feed generated records through a chain of versions with
 * fast-check. Nothing here imports fast-check or fake-indexeddb: pass your `fc` module, and your IndexedDB factory
 * (the global one by default, so it works unchanged in a browser).
 *
 * @example
 * ```ts
 * import { migrateFixtures } from 'idb-evolve/testing'
 *
 * const { after, error } = await migrateFixtures(plan, { from: 1, to: 2, fixtures: { notes: [{ id: 1, name: 'a' }] } })
 * expect(error).toBeNull()
 * expect(after.stores.notes?.records).toEqual([[1, { id: 1, title: 'a' }]])
 * ```
 *
 * @module
 */
import {
  deleteDatabase as deleteByName,
  type IndexedDBOptions,
  openExisting,
  requestResult as request,
  resolveIndexedDB,
} from '../idb/request.js';
import { IdbEvolveError, isIdbEvolveError, PlanError, type ValidationIssue } from '../errors.js';
import { readLayout, type NormalizedLayout, type NormalizedStore } from '../plan/layout.js';
import { openDatabase } from '../upgrade/open-database.js';
import type { Plan } from '../plan/define-plan.js';
import {
  checkSchemaHistory,
  formatHistoryDifferences,
  type HistoryDifference,
  type HistoryFiles,
} from '../tooling/schema-history.js';
import type { SnapshotPolicy } from '../snapshot/policy.js';
import type { ProgressCallback } from '../progress.js';
import { evaluateKeyPath } from '../upgrade/step-store.js';
import type { UpgradeReport } from '../upgrade/run-upgrade.js';

/**
 * Records to put in a database, by store. Stores with an in-line key (a `keyPath`) take the records themselves;
 * stores with out-of-line keys take `[key, value]` pairs, the same shape {@link readAll} gives back.
 */
export type Fixtures = Readonly<Record<string, readonly unknown[]>>;

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

/** Codes of {@link FixtureError}. */
export type FixtureErrorCode = 'unknown_fixture_store' | 'invalid_fixture' | 'write_failed';

/** Context of a {@link FixtureError}. */
export interface FixtureErrorContext {
  readonly version?: number;
  readonly store?: string;
  /** Position of the fixture in its store's list. */
  readonly index?: number;
  readonly key?: IDBValidKey;
  readonly issues?: readonly ValidationIssue[];
  readonly cause?: unknown;
}

/**
 * Fixtures could not be written: a store the version does not have, a malformed entry, a record IndexedDB refused
 * (two fixtures with the same key, a value that cannot be cloned) or, with `validate`, an invalid record.
 */
export class FixtureError extends IdbEvolveError {
  override name = 'FixtureError' as const;
  declare readonly code: FixtureErrorCode;
  readonly index: number | undefined;
  readonly issues: readonly ValidationIssue[] | undefined;

  constructor(code: FixtureErrorCode, message: string, context: FixtureErrorContext = {}) {
    super(code, message, context);
    this.index = context.index;
    this.issues = context.issues;
  }
}

let counter = 0;

// Unique without crypto.randomUUID, which insecure browser contexts lack.
function uniqueName(): string {
  counter++;
  return `idb-evolve-test-${Date.now().toString(36)}-${counter.toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

interface FixtureEntry {
  readonly store: string;
  readonly index: number;
  /** Given for out-of-line keys, else the in-line key if it can be read (for messages). */
  readonly key: IDBValidKey | undefined;
  readonly outOfLine: boolean;
  readonly value: unknown;
}

function fixtureEntries(layout: NormalizedLayout, fixtures: Fixtures, version: number): FixtureEntry[] {
  const entries: FixtureEntry[] = [];
  for (const [store, list] of Object.entries(fixtures)) {
    const storeLayout = layout[store];
    if (storeLayout === undefined) {
      const known =
        Object.keys(layout)
          .map((s) => `"${s}"`)
          .join(', ') || 'none';
      throw new FixtureError(
        'unknown_fixture_store',
        `Fixtures for store "${store}", which version ${version} does not have (it has: ${known})`,
        {
          version,
          store,
        },
      );
    }
    if (!Array.isArray(list)) {
      throw new FixtureError('invalid_fixture', `Fixtures of store "${store}" must be an array`, { version, store });
    }
    const outOfLine = storeLayout.keyPath === null;
    list.forEach((entry: unknown, index) => {
      if (outOfLine) {
        if (!Array.isArray(entry) || entry.length !== 2) {
          throw new FixtureError(
            'invalid_fixture',
            `Store "${store}" has out-of-line keys: give its fixtures as [key, value] pairs (fixture ${index} is ${describe(entry)})`,
            { version, store, index },
          );
        }
        entries.push({ store, index, key: entry[0] as IDBValidKey, outOfLine, value: entry[1] });
      } else {
        entries.push({
          store,
          index,
          key: evaluateKeyPath(entry, storeLayout.keyPath!) as IDBValidKey | undefined,
          outOfLine,
          value: entry,
        });
      }
    });
  }
  return entries;
}

async function validateFixtures(plan: Plan, version: number, entries: readonly FixtureEntry[]): Promise<void> {
  const validators = plan.get(version)?.validators ?? {};
  for (const entry of entries) {
    const validator = validators[entry.store];
    if (validator === undefined) continue;
    const result = await validator['~standard'].validate(entry.value);
    if (result.issues === undefined) continue;
    const issues: ValidationIssue[] = result.issues.map((issue) => ({
      message: issue.message,
      ...(issue.path === undefined
        ? {}
        : { path: issue.path.map((part) => (typeof part === 'object' && part !== null ? part.key : part)) }),
    }));
    const first = issues[0];
    const where = first?.path !== undefined && first.path.length > 0 ? ` at ${first.path.map(String).join('.')}` : '';
    throw new FixtureError(
      'invalid_fixture',
      `Fixture ${entry.index} of store "${entry.store}" fails the validator of version ${version}${where}: ${first?.message ?? 'invalid'}`,
      {
        version,
        store: entry.store,
        index: entry.index,
        ...(entry.key === undefined ? {} : { key: entry.key }),
        issues,
      },
    );
  }
}

/** Adds every fixture in one transaction; `add`, not `put`, so that two fixtures with one key fail loudly. */
async function writeFixtures(db: IDBDatabase, entries: readonly FixtureEntry[], version: number): Promise<void> {
  const stores = [...new Set(entries.map((e) => e.store))];
  if (stores.length === 0) return;
  const transaction = db.transaction(stores, 'readwrite');
  let failure: FixtureError | undefined;
  const fail = (entry: FixtureEntry, cause: unknown): FixtureError => {
    const reason =
      typeof cause === 'object' && cause !== null && 'message' in cause
        ? `${(cause as Error).name}: ${(cause as Error).message}`
        : String(cause);
    const key = entry.key === undefined ? '' : ` (key ${describe(entry.key)})`;
    return new FixtureError(
      'write_failed',
      `Could not add fixture ${entry.index} of store "${entry.store}"${key}: ${reason}`,
      {
        version,
        store: entry.store,
        index: entry.index,
        ...(entry.key === undefined ? {} : { key: entry.key }),
        cause,
      },
    );
  };
  const settled = new Promise<void>((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onabort = () =>
      reject(
        failure ??
          new FixtureError('write_failed', 'The fixture transaction was aborted', {
            version,
            cause: transaction.error,
          }),
      );
  });
  for (const entry of entries) {
    try {
      const objectStore = transaction.objectStore(entry.store);
      const req = entry.outOfLine ? objectStore.add(entry.value, entry.key) : objectStore.add(entry.value);
      req.onerror = () => {
        failure ??= fail(entry, req.error);
      };
    } catch (error) {
      // Thrown synchronously: a value that cannot be cloned, or no valid key.
      failure ??= fail(entry, error);
      try {
        transaction.abort();
      } catch {
        // Already finished.
      }
      break;
    }
  }
  await settled;
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

/**
 * The part of a fast-check arbitrary that {@link checkMigration} needs to know the generated type; any
 * `fc.Arbitrary<T>` is one.
 */
export interface ArbitraryLike<T> {
  canShrinkWithoutContext(value: unknown): value is T;
}

/** The run details {@link checkMigration} reads from `fc.check`. */
export interface RunDetailsLike {
  readonly failed: boolean;
  readonly numRuns: number;
  readonly numShrinks: number;
  readonly seed: number;
  readonly counterexample: readonly unknown[] | null;
  readonly counterexamplePath: string | null;
  readonly errorInstance?: unknown;
}

/**
 * The part of the fast-check module {@link checkMigration} uses: pass `fc` itself (`import fc from 'fast-check'`).
 * Taking it as a parameter keeps fast-check a dev dependency of your project, not a dependency of this one.
 */
export interface FastCheckLike {
  asyncProperty(...args: any[]): any;
  check(property: any, parameters?: any): Promise<RunDetailsLike> | RunDetailsLike;
  stringify?(value: unknown): string;
}

/** fast-check run parameters passed through to `fc.check` (`numRuns`, `seed`, `path`, `endOnFailure`, ...). */
export interface CheckParameters {
  readonly numRuns?: number;
  readonly seed?: number;
  readonly path?: string;
  readonly endOnFailure?: boolean;
  readonly [parameter: string]: unknown;
}

/** Options of {@link checkMigration}. */
export interface CheckMigrationOptions<F extends Fixtures> extends TestingOptions {
  /** Your fast-check module. */
  readonly fc: FastCheckLike;
  /** Version the generated fixtures belong to. */
  readonly from: number;
  /** Version to migrate to (default: the plan's latest). */
  readonly to?: number;
  /** Generates the fixtures of one run, e.g. `fc.record({ notes: fc.uniqueArray(note, { selector: (n) => n.id }) })`. */
  readonly fixtures: ArbitraryLike<F>;
  /**
   * What must hold after each migration; throw (an `expect` failing) or return false to fail the run. Without it,
   * the property is that the migration succeeds.
   */
  readonly property?: (outcome: MigrationOutcome, fixtures: F) => boolean | void | Promise<boolean | void>;
  /**
   * Call the property also when the upgrade failed (default false: a failed upgrade fails the run, and the
   * property only sees successful ones). Set it to check properties of failures, like "nothing changed".
   */
  readonly allowErrors?: boolean;
  /** Check fixtures against the validators of `from` (default true here: generated records must be realistic). */
  readonly validate?: boolean;
  /** Passed to `fc.check`; a failure's error message says which `seed` and `path` replay it. */
  readonly parameters?: CheckParameters;
}

/** What a passing {@link checkMigration} ran. */
export interface MigrationCheckSummary {
  readonly numRuns: number;
  readonly seed: number;
}

/** Context of a {@link MigrationCheckError}. */
export interface MigrationCheckErrorContext {
  readonly from: number;
  readonly to: number;
  readonly fixtures: Fixtures | undefined;
  readonly outcome: MigrationOutcome | null;
  readonly failure: unknown;
  readonly seed: number;
  readonly path: string | null;
  readonly numRuns: number;
  readonly numShrinks: number;
}

/**
 * A {@link checkMigration} property failed. The message shows the smallest failing fixtures, why they failed and
 * the `seed` and `path` that replay the run; the same is here as data.
 */
export class MigrationCheckError extends IdbEvolveError {
  override name = 'MigrationCheckError' as const;
  declare readonly code: 'migration_check_failed';
  readonly from: number;
  readonly to: number;
  /** The smallest fixtures found that fail (after shrinking); undefined when fast-check gave none. */
  readonly fixtures: Fixtures | undefined;
  /** What the migration of those fixtures did; null when it did not get that far (a fixture error). */
  readonly outcome: MigrationOutcome | null;
  /** The upgrade's typed error for those fixtures, or null when the upgrade succeeded and the property failed. */
  readonly error: IdbEvolveError | null;
  /** What failed the run: the upgrade's error, the property's throw, or a {@link FixtureError}. */
  readonly failure: unknown;
  readonly seed: number;
  readonly path: string | null;
  readonly numRuns: number;
  readonly numShrinks: number;

  constructor(message: string, context: MigrationCheckErrorContext) {
    super('migration_check_failed', message, { cause: context.failure });
    this.from = context.from;
    this.to = context.to;
    this.fixtures = context.fixtures;
    this.outcome = context.outcome;
    this.error = context.outcome?.error ?? null;
    this.failure = context.failure;
    this.seed = context.seed;
    this.path = context.path;
    this.numRuns = context.numRuns;
    this.numShrinks = context.numShrinks;
  }
}

/** Marks a property that returned false, so the report can say so. */
class PropertyReturnedFalse extends Error {
  override name = 'PropertyReturnedFalse' as const;
}

function describeFailure(failure: unknown): string {
  if (failure instanceof Error) {
    const code = (failure as { code?: unknown }).code;
    return `${failure.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${failure.message}`;
  }
  return describe(failure);
}

/**
 * Property test of a migration: fast-check generates fixtures for version `from`, each run migrates them in a
 * fresh database (unique name, deleted afterwards) to `to`, and `property` must hold. On failure, fast-check
 * shrinks the fixtures, and this rejects with a {@link MigrationCheckError} naming the smallest failing fixtures,
 * the upgrade's typed error and the seed to replay.
 *
 * @example
 * ```ts
 * import fc from 'fast-check'
 *
 * await checkMigration(plan, {
 *   fc,
 *   from: 1,
 *   fixtures: fc.record({ notes: fc.uniqueArray(fc.record({ id: fc.nat(), name: fc.string() }), { selector: (n) => n.id }) }),
 *   property: ({ after }, { notes }) => {
 *     expect(after.stores.notes?.records.map(([, note]) => note.title)).toEqual(notes.map((n) => n.name))
 *   },
 * })
 * ```
 */
export async function checkMigration<F extends Fixtures>(
  plan: Plan,
  options: CheckMigrationOptions<F>,
): Promise<MigrationCheckSummary> {
  const {
    fc,
    fixtures,
    property,
    allowErrors = false,
    validate = true,
    parameters = {},
    from,
    to = plan.latest,
    ...testing
  } = options;
  interface Failing {
    readonly fixtures: F;
    readonly outcome: MigrationOutcome | null;
    readonly failure: unknown;
  }
  // One run in its own database; what failed it, or undefined when the property held.
  const attempt = async (generated: F): Promise<Failing | undefined> => {
    let outcome: MigrationOutcome | null = null;
    try {
      outcome = await migrateFixtures(plan, { ...testing, from, to, fixtures: generated, validate });
      if (outcome.error !== null && !allowErrors) return { fixtures: generated, outcome, failure: outcome.error };
      if (property !== undefined && (await property(outcome, generated)) === false) {
        return { fixtures: generated, outcome, failure: new PropertyReturnedFalse('The property returned false') };
      }
      return undefined;
    } catch (failure) {
      return { fixtures: generated, outcome, failure };
    }
  };
  let last: Failing | undefined;
  const predicate = async (generated: F): Promise<void> => {
    const failing = await attempt(generated);
    if (failing === undefined) return;
    last = failing;
    throw failing.failure;
  };
  const details = await fc.check(fc.asyncProperty(fixtures, predicate), parameters);
  if (!details.failed) return { numRuns: details.numRuns, seed: details.seed };

  const counterexample = details.counterexample?.[0] as F | undefined;
  let failing = last;
  if (counterexample !== undefined && failing?.fixtures !== counterexample) {
    // fast-check handed back a copy of the value: replay it to learn what it did.
    failing = (await attempt(counterexample)) ?? {
      fixtures: counterexample,
      outcome: null,
      failure: details.errorInstance,
    };
  }
  const show = (value: unknown): string => (fc.stringify === undefined ? describe(value) : fc.stringify(value));
  const failure = failing?.failure ?? details.errorInstance;
  const lines = [
    `Migration from version ${from} to ${to} failed after ${details.numRuns} run${details.numRuns === 1 ? '' : 's'} and ${details.numShrinks} shrink${details.numShrinks === 1 ? '' : 's'}`,
    `  failure: ${describeFailure(failure)}`,
    `  fixtures: ${counterexample === undefined ? '(none)' : show(counterexample)}`,
    `  replay with parameters: { seed: ${details.seed}${details.counterexamplePath === null ? '' : `, path: ${JSON.stringify(details.counterexamplePath)}`} }`,
  ];
  throw new MigrationCheckError(lines.join('\n'), {
    from,
    to,
    fixtures: counterexample,
    outcome: failing?.outcome ?? null,
    failure,
    seed: details.seed,
    path: details.counterexamplePath,
    numRuns: details.numRuns,
    numShrinks: details.numShrinks,
  });
}

/** The schema history recorded for a plan does not match it; the message is the readable diff. */
export class SchemaHistoryError extends IdbEvolveError {
  override name = 'SchemaHistoryError' as const;
  declare readonly code: 'schema_history_changed';
  /** Every difference found. */
  readonly differences: readonly HistoryDifference[];
  constructor(message: string, differences: readonly HistoryDifference[]) {
    super('schema_history_changed', message);
    this.differences = differences;
  }
}

/**
 * Throws a {@link SchemaHistoryError} with a readable diff when released versions of `plan` changed since their
 * schema history files were written (see `checkSchemaHistory`). Pass the files' text by name; with Vite or Vitest
 * (Node or browser mode) `import.meta.glob` reads them.
 *
 * Step fingerprints hash source text as the runtime sees it, and transpilers print code differently: check the
 * files in the environment that wrote them. Files written by the `idb-evolve-history` CLI from compiled JavaScript
 * are best checked by the CLI; to check them here, write them from here too, with `schemaHistoryFiles(plan)`.
 *
 * @example
 * ```ts
 * const files = import.meta.glob('../schema-history/*.json', { query: '?raw', import: 'default', eager: true })
 * test('released versions are unchanged', () => assertSchemaHistory(plan, files))
 * ```
 */
export function assertSchemaHistory(plan: Plan, files: HistoryFiles): void {
  const result = checkSchemaHistory(plan, files);
  if (!result.ok) throw new SchemaHistoryError(formatHistoryDifferences(result.differences), result.differences);
}
