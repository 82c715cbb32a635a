import { expect } from 'vitest';
import { IDBFactory as FakeIDBFactory, IDBKeyRange as FakeIDBKeyRange } from 'fake-indexeddb';
import {
  definePlan,
  memorySnapshotStorage,
  openDatabase,
  snapshotPolicy,
  type SnapshotPolicy,
  UpgradeError,
  type OpenOptions,
  type Plan,
  type Progress,
  type SnapshotStorage,
  type VersionDefinition,
} from '../src/index.js';

/**
 * True when the suite runs in a real browser (vitest browser mode): the same tests then exercise the engine's own
 * IndexedDB, whose transaction lifetime fake-indexeddb does not model.
 */
export const realIndexedDB: boolean =
  typeof window !== 'undefined' &&
  globalThis.indexedDB !== undefined &&
  !(globalThis.indexedDB instanceof FakeIDBFactory);

let environments = 0;
// Test files each load this module afresh: the random part keeps their databases apart too.
const run = Math.random().toString(36).slice(2, 8);

/**
 * The browser's IndexedDB seen through a name prefix, so that each environment of a test has databases of its own
 * (what a fresh fake-indexeddb factory gives in Node).
 */
function namespaced(prefix: string): IDBFactory {
  const native = globalThis.indexedDB;
  return {
    open: (name: string, version?: number) =>
      version === undefined ? native.open(prefix + name) : native.open(prefix + name, version),
    deleteDatabase: (name: string) => native.deleteDatabase(prefix + name),
    cmp: (a: unknown, b: unknown) => native.cmp(a, b),
    databases: async () =>
      (await native.databases())
        // WebKit still lists a database whose creation was rolled back, at version 0, with nothing in it.
        .filter((d) => d.name?.startsWith(prefix) && d.version !== 0)
        .map((d) => ({ ...d, name: d.name!.slice(prefix.length) })),
  };
}

/**
 * The IndexedDB a test uses, with the options that point the library at it: in Node a fresh, isolated
 * fake-indexeddb per test; in a browser the real one (test/setup-browser.ts deletes every database before each
 * test). Snapshots go to an in-memory storage, so every upgrade in the suite also writes (and exercises) one.
 */
export function fakeEnvironment(): {
  factory: IDBFactory;
  storage: SnapshotStorage;
  options: OpenOptions & { indexedDB: IDBFactory; IDBKeyRange: typeof IDBKeyRange; snapshots: SnapshotPolicy };
} {
  const factory = realIndexedDB
    ? namespaced(`${run}-${++environments}:`)
    : (new FakeIDBFactory() as unknown as IDBFactory);
  const keyRange = realIndexedDB ? globalThis.IDBKeyRange : (FakeIDBKeyRange as unknown as typeof IDBKeyRange);
  const storage = memorySnapshotStorage();
  return {
    factory,
    storage,
    options: { indexedDB: factory, IDBKeyRange: keyRange, snapshots: snapshotPolicy({ storage }) },
  };
}

/** Everything observable about a database: version, layout and every record as [primaryKey, value]. */
export interface DatabaseDump {
  version: number;
  stores: Record<
    string,
    {
      keyPath: string | string[] | null;
      autoIncrement: boolean;
      indexes: Record<string, { keyPath: string | string[]; unique: boolean; multiEntry: boolean }>;
      records: [IDBValidKey, unknown][];
    }
  >;
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/**
 * Asserts that two Blobs (or Files) hold the same bytes, type and size, and for Files the same name and
 * lastModified. `toEqual` cannot be trusted with them: a Blob's contents are not properties, so two Blobs of one
 * size compare equal whatever their bytes (and in a browser, whatever their size too).
 */
export async function expectSameBlob(actual: unknown, expected: Blob): Promise<void> {
  expect(actual).toBeInstanceOf(Blob);
  const blob = actual as Blob;
  expect({ type: blob.type, size: blob.size }).toEqual({ type: expected.type, size: expected.size });
  expect(new Uint8Array(await blob.arrayBuffer())).toEqual(new Uint8Array(await expected.arrayBuffer()));
  if (expected instanceof File) {
    expect(blob).toBeInstanceOf(File);
    const file = blob as File;
    expect({ name: file.name, lastModified: file.lastModified }).toEqual({
      name: expected.name,
      lastModified: expected.lastModified,
    });
  }
}

/** Reads a whole database without changing it; version 0 and no stores when it does not exist. */
export async function dump(factory: IDBFactory, name: string): Promise<DatabaseDump> {
  const names = (await factory.databases()).map((d) => d.name);
  if (!names.includes(name)) return { version: 0, stores: {} };
  const db = await request(factory.open(name));
  try {
    const result: DatabaseDump = { version: db.version, stores: {} };
    const storeNames = Array.from(db.objectStoreNames);
    if (storeNames.length === 0) return result;
    const tx = db.transaction(storeNames, 'readonly');
    for (const storeName of storeNames) {
      const store = tx.objectStore(storeName);
      const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
      const indexes: DatabaseDump['stores'][string]['indexes'] = {};
      for (const indexName of Array.from(store.indexNames)) {
        const index = store.index(indexName);
        indexes[indexName] = { keyPath: index.keyPath, unique: index.unique, multiEntry: index.multiEntry };
      }
      result.stores[storeName] = {
        keyPath: store.keyPath,
        autoIncrement: store.autoIncrement,
        indexes,
        records: keys.map((key, i) => [key, values[i]]),
      };
    }
    // After the transaction: Blob bytes stay readable once it has ended.
    for (const store of Object.values(result.stores)) {
      for (const record of store.records) record[1] = await withBlobBytes(record[1]);
    }
    return result;
  } finally {
    db.close();
  }
}

/**
 * Two Blobs are `toEqual` whatever they hold: a dump shows each Blob (and File) with its type, size and bytes, so
 * that comparing dumps compares Blob content too. Plain objects and arrays are walked; other values are kept as is.
 */
async function withBlobBytes(value: unknown, seen = new Map<object, unknown>()): Promise<unknown> {
  if (value instanceof Blob) {
    return { blob: value.type, size: value.size, bytes: Array.from(new Uint8Array(await value.arrayBuffer())) };
  }
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return seen.get(value);
  const plain = Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype;
  if (!plain) return value;
  const walked: Record<string, unknown> | unknown[] = Array.isArray(value) ? [] : {};
  seen.set(value, walked);
  for (const key of Object.keys(value)) {
    // Defined, not assigned: an own `__proto__` key must stay a key, not become the prototype.
    const walkedValue = await withBlobBytes((value as Record<string, unknown>)[key], seen);
    Object.defineProperty(walked, key, { value: walkedValue, enumerable: true, writable: true, configurable: true });
  }
  return walked;
}

/** Opens (creating or upgrading) and closes again; returns the upgrade's report (null when none ran). */
export async function openAndClose(name: string, plan: Plan, options: OpenOptions) {
  const { db, upgrade } = await openDatabase(name, plan, options);
  db.close();
  return upgrade?.report ?? null;
}

/** Creates a database at `version` of `plan` and fills stores with records (puts, in one transaction). */
export async function seedDatabase(
  name: string,
  plan: Plan,
  version: number,
  records: Record<string, unknown[] | [IDBValidKey, unknown][]>,
  options: OpenOptions,
  { outOfLine = false }: { outOfLine?: boolean } = {},
): Promise<void> {
  const { db } = await openDatabase(name, plan, { ...options, version });
  try {
    const stores = Object.keys(records);
    if (stores.length === 0) return;
    const tx = db.transaction(stores, 'readwrite');
    for (const [store, list] of Object.entries(records)) {
      for (const record of list) {
        if (outOfLine) {
          const [key, value] = record as [IDBValidKey, unknown];
          tx.objectStore(store).put(value, key);
        } else tx.objectStore(store).put(record);
      }
    }
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/** Shorthand used across tests. */
export function plan(...versions: VersionDefinition[]): Plan {
  return definePlan({ versions });
}

export { request };

/**
 * Seeds `records` at version 1, expects the upgrade to the plan's latest version to reject with an UpgradeError,
 * and checks the database is exactly as seeded afterwards. Returns the error for further checks.
 */
export async function upgradeMustFail(
  p: Plan,
  records: Record<string, unknown[] | [IDBValidKey, unknown][]>,
  { outOfLine = false }: { outOfLine?: boolean } = {},
): Promise<UpgradeError> {
  const { factory, options } = fakeEnvironment();
  await seedDatabase('db', p, 1, records, options, { outOfLine });
  const before = await dump(factory, 'db');
  const error = await openDatabase('db', p, options).then(
    ({ db }) => {
      db.close();
      throw new Error('the upgrade was expected to fail');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UpgradeError);
  expect(await dump(factory, 'db')).toEqual(before);
  return error as UpgradeError;
}

/**
 * Checks the progress rule every consumer relies on: within one run of a phase (same phase, version, step, store
 * and index), `done` never goes down nor past `total`, `total` stays the same, and the last event has
 * `done === total`, so that a progress bar never ends short.
 */
export function expectPhasesEndAtTotal(events: readonly Progress[]): void {
  const runs = new Map<string, Progress[]>();
  for (const event of events) {
    const key = JSON.stringify([event.phase, event.version, event.stepIndex, event.store, event.index]);
    runs.set(key, [...(runs.get(key) ?? []), event]);
  }
  for (const [key, run] of runs) {
    const last = run.at(-1)!;
    expect(last.done, `last event of ${key}`).toBe(last.total);
    for (const [i, event] of run.entries()) {
      expect(event.total, `total of ${key}`).toBe(last.total);
      expect(event.done, `done of ${key}`).toBeLessThanOrEqual(event.total);
      if (i > 0) expect(event.done, `done of ${key}`).toBeGreaterThanOrEqual(run[i - 1]!.done);
    }
  }
}

/** Text as the bytes a snapshot sink takes. */
export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Byte-for-byte equality, fast on megabytes (a deep `toEqual` over millions of elements is not). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
