import { describeKey, UpgradeError } from '../errors.js';
import { indexEntries, keyId } from '../idb/keys.js';
import type { ExplainCollision, TransactionGuard } from '../idb/transaction-guard.js';
import type { IndexLayout } from '../plan/layout.js';
import { readWholeStore } from './read-pages.js';

function settle<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = (event) => {
      event.preventDefault();
      reject(request.error);
    };
  });
}

function indexLayout(index: IDBIndex): Required<IndexLayout> {
  return { keyPath: index.keyPath, unique: index.unique, multiEntry: index.multiEntry };
}

/** The message naming a unique index, its key path, the shared key and the two records. */
function uniqueMessage(
  store: string,
  index: string,
  keyPath: IndexLayout['keyPath'],
  indexKey: IDBValidKey,
  keys: readonly IDBValidKey[],
): string {
  const records = keys.map(describeKey).join(' and ');
  return `Unique index "${store}.${index}" (keyPath ${JSON.stringify(keyPath)}) would hold the key ${describeKey(indexKey)} twice: records ${records}`;
}

/**
 * Explains a put or add of `value` (primary key `key`, undefined while a generator has to pick it) that failed
 * with ConstraintError: an add onto an existing primary key, else the unique index entry an existing record holds.
 */
export function explainWrite(
  factory: IDBFactory,
  store: IDBObjectStore,
  name: string,
  method: 'put' | 'add',
  value: unknown,
  key: IDBValidKey | undefined,
): ExplainCollision {
  return async () => {
    if (method === 'add' && key !== undefined && (await settle(store.count(key))) > 0) {
      return {
        message: `A record with this primary key is already in "${name}": add never overwrites`,
        store: name,
        key,
      };
    }
    for (const indexName of Array.from(store.indexNames)) {
      const index = store.index(indexName);
      if (!index.unique) continue;
      for (const indexKey of indexEntries(factory, value, indexLayout(index))) {
        const holder = await settle(index.getKey(indexKey));
        if (holder === undefined || (key !== undefined && factory.cmp(holder, key) === 0)) continue;
        const primaryKeys = key === undefined ? [holder] : [holder, key];
        const message = uniqueMessage(name, indexName, index.keyPath, indexKey, primaryKeys);
        return {
          message,
          store: name,
          key: key ?? holder,
          index: indexName,
          keyPath: index.keyPath,
          indexKey,
          primaryKeys,
        };
      }
    }
    return undefined;
  };
}

/** A unique index build that found two records sharing a key. */
export interface Duplicate {
  readonly version: number;
  readonly store: string;
  readonly index: string;
  readonly keyPath: IndexLayout['keyPath'];
  readonly indexKey: IDBValidKey;
  /** The record found first, then the one that repeats its key. */
  readonly primaryKeys: readonly [IDBValidKey, IDBValidKey];
}

/** The error reporting a {@link Duplicate}; `cause` is the engine's bare ConstraintError, when there was one. */
export function uniqueViolation(duplicate: Duplicate, cause?: unknown): UpgradeError {
  const { store, index, keyPath, indexKey, primaryKeys } = duplicate;
  return new UpgradeError('constraint_violation', uniqueMessage(store, index, keyPath, indexKey, primaryKeys), {
    ...duplicate,
    key: primaryKeys[1],
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * True for the ConstraintError of a unique index built over records that share a key: the engine aborts with it
 * bare (no store, index or record), and only a replay that reads the records first can name them.
 */
export function isBareConstraint(error: unknown): error is UpgradeError {
  return (
    error instanceof UpgradeError &&
    error.code === 'constraint_violation' &&
    error.index === undefined &&
    error.key === undefined
  );
}

/** Where a unique index is about to be built over a store's records. */
export interface UniqueBuild {
  readonly guard: TransactionGuard;
  readonly keyRange: typeof IDBKeyRange;
  readonly factory: IDBFactory;
  readonly store: IDBObjectStore;
  readonly index: string;
  readonly layout: Required<IndexLayout>;
  readonly version: number;
}

/**
 * Reads every record before a unique index is built over them and fails with the first two records that share
 * an index key. The engine reports such a build only as a bare ConstraintError abort; this pass runs when a failed
 * upgrade is replayed, as a dry run, to name the duplicate.
 */
export async function findDuplicate({
  guard,
  keyRange,
  factory,
  store,
  index,
  layout,
  version,
}: UniqueBuild): Promise<void> {
  const seen = new Map<string, IDBValidKey>();
  const context = { store: store.name };
  await readWholeStore({
    guard,
    keyRange,
    factory,
    store,
    context,
    onPage: async (page) => {
      for (const record of page) {
        for (const indexKey of indexEntries(factory, record.value, layout)) {
          const id = keyId(indexKey);
          const first = seen.get(id);
          if (first === undefined) {
            seen.set(id, record.primaryKey);
            continue;
          }
          const duplicate = { version, store: store.name, index, keyPath: layout.keyPath, indexKey };
          throw guard.fail(uniqueViolation({ ...duplicate, primaryKeys: [first, record.primaryKey] }));
        }
      }
    },
  });
}
