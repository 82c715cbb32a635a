import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import {
  definePlan,
  memorySnapshotStorage,
  openDatabase,
  type OpenOptions,
  type Plan,
  type SnapshotStorage,
  type VersionDefinition,
} from '../src/index.js';

/**
 * A fresh, isolated fake-indexeddb per test, with the options that point the library at it. Snapshots go to an
 * in-memory storage, so every upgrade in the suite also writes (and so exercises) a snapshot.
 */
export function fakeEnvironment(): {
  factory: IDBFactory;
  storage: SnapshotStorage;
  options: OpenOptions & { indexedDB: IDBFactory; IDBKeyRange: typeof IDBKeyRange; snapshot: { storage: SnapshotStorage } };
} {
  const factory = new IDBFactory();
  const storage = memorySnapshotStorage();
  return { factory, storage, options: { indexedDB: factory, IDBKeyRange, snapshot: { storage } } };
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
    return result;
  } finally {
    db.close();
  }
}

/** Opens (creating or upgrading) and closes again; returns the report. */
export async function openAndClose(name: string, plan: Plan, options: OpenOptions) {
  const { db, report } = await openDatabase(name, plan, options);
  db.close();
  return report;
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
