import { IdbEvolveError, type ValidationIssue } from '../errors.js';
import type { NormalizedLayout } from '../plan/layout.js';
import type { Plan } from '../plan/define-plan.js';
import { evaluateKeyPath } from '../idb/keys.js';

/**
 * Records to put in a database, by store. Stores with an in-line key (a `keyPath`) take the records themselves;
 * stores with out-of-line keys take `[key, value]` pairs, the same shape {@link readAll} gives back.
 */
export type Fixtures = Readonly<Record<string, readonly unknown[]>>;

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

/** A value for a message: JSON where it can be. */
export function describeValue(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** One fixture, checked against the version's layout. */
export interface FixtureEntry {
  readonly store: string;
  readonly index: number;
  /** Given for out-of-line keys, else the in-line key if it can be read (for messages). */
  readonly key: IDBValidKey | undefined;
  readonly outOfLine: boolean;
  readonly value: unknown;
}

export function fixtureEntries(layout: NormalizedLayout, fixtures: Fixtures, version: number): FixtureEntry[] {
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
            `Store "${store}" has out-of-line keys: give its fixtures as [key, value] pairs (fixture ${index} is ${describeValue(entry)})`,
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

export async function validateFixtures(plan: Plan, version: number, entries: readonly FixtureEntry[]): Promise<void> {
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
export async function writeFixtures(db: IDBDatabase, entries: readonly FixtureEntry[], version: number): Promise<void> {
  const stores = [...new Set(entries.map((e) => e.store))];
  if (stores.length === 0) return;
  const transaction = db.transaction(stores, 'readwrite');
  let failure: FixtureError | undefined;
  const fail = (entry: FixtureEntry, cause: unknown): FixtureError => {
    const reason =
      typeof cause === 'object' && cause !== null && 'message' in cause
        ? `${(cause as Error).name}: ${(cause as Error).message}`
        : String(cause);
    const key = entry.key === undefined ? '' : ` (key ${describeValue(entry.key)})`;
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
