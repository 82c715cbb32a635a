// Raw IndexedDB helpers used outside the timed regions: creating, filling, checking and deleting databases.
import { INDEX, KEY_PATH, STORE, expectedItem, makeItem, sameValue, sampleKeys } from './data.js';

export function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('transaction aborted'));
  });
}

/**
 * Deletes a database. `blocked` is not an error here: a connection whose close() waits for its last transaction
 * still counts as open for a moment. Gives up after 30 s.
 */
export function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    const timer = setTimeout(
      () => reject(new Error(`deleting "${name}" stayed blocked by an open connection for 30 s`)),
      30_000,
    );
    req.onsuccess = () => {
      clearTimeout(timer);
      resolve();
    };
    req.onerror = () => {
      clearTimeout(timer);
      reject(req.error);
    };
  });
}

/** Opens at `version` (or the installed one) without any upgrade work beyond `onUpgrade`. */
export function openRaw(
  name: string,
  version?: number,
  onUpgrade?: (db: IDBDatabase, tx: IDBTransaction) => void,
): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = version === undefined ? indexedDB.open(name) : indexedDB.open(name, version);
    req.onupgradeneeded = () => onUpgrade?.(req.result, req.transaction!);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error(`opening "${name}" is blocked`));
  });
}

export function createV1Store(db: IDBDatabase): void {
  const store = db.createObjectStore(STORE, { keyPath: KEY_PATH });
  store.createIndex(INDEX, INDEX);
}

const FILL_TX = 10_000;

/**
 * Creates `name` at version 1 with records 1..count. Several transactions of 10k puts: one huge transaction
 * is slower in Chromium and this part is not measured.
 */
export async function populate(name: string, count: number): Promise<void> {
  await deleteDatabase(name);
  const db = await openRaw(name, 1, (d) => createV1Store(d));
  try {
    for (let start = 1; start <= count; start += FILL_TX) {
      const tx = db.transaction(STORE, 'readwrite', { durability: 'relaxed' });
      const store = tx.objectStore(STORE);
      const end = Math.min(count, start + FILL_TX - 1);
      for (let i = start; i <= end; i++) store.put(makeItem(i));
      await done(tx);
    }
  } finally {
    db.close();
  }
}

/** Checks count and sample records of a database against `expected`; throws with details on mismatch. */
export async function verify(
  name: string,
  count: number,
  expected: (i: number) => unknown,
  version?: number,
): Promise<void> {
  const db = await openRaw(name);
  try {
    if (version !== undefined && db.version !== version)
      throw new Error(`"${name}" is at version ${db.version}, expected ${version}`);
    const tx = db.transaction(STORE, 'readonly');
    const store = tx.objectStore(STORE);
    const found = await request(store.count());
    if (found !== count) throw new Error(`"${name}" has ${found} records, expected ${count}`);
    const indexCount = await request(store.index(INDEX).count());
    if (indexCount !== count) throw new Error(`"${name}" index has ${indexCount} entries, expected ${count}`);
    for (const key of sampleKeys(count)) {
      const value = await request(store.get(key));
      if (!sameValue(value, expected(key))) {
        throw new Error(
          `"${name}" record ${key} is ${JSON.stringify(value)}, expected ${JSON.stringify(expected(key))}`,
        );
      }
    }
  } finally {
    db.close();
  }
}

export const verifyMigrated = (name: string, count: number): Promise<void> => verify(name, count, expectedItem, 2);
export const verifyOriginal = (name: string, count: number): Promise<void> => verify(name, count, makeItem, 1);

export async function opfsRoot(): Promise<FileSystemDirectoryHandle> {
  return navigator.storage.getDirectory();
}

/**
 * Empties OPFS outside timed regions: files at the root go, folders are emptied but kept. Deleting the library's
 * folder itself would leave the default storage of openDatabase holding a handle to a folder that no longer exists.
 */
export async function clearOpfs(dir?: FileSystemDirectoryHandle): Promise<void> {
  const root = dir ?? (await opfsRoot());
  const entries: [string, FileSystemHandle][] = [];
  for await (const entry of root as unknown as AsyncIterable<[string, FileSystemHandle]>) entries.push(entry);
  for (const [name, handle] of entries) {
    if (handle.kind === 'directory' && dir === undefined) await clearOpfs(handle as FileSystemDirectoryHandle);
    else await root.removeEntry(name, { recursive: true });
  }
}

/** Total bytes of every file under a directory (recursively). */
export async function opfsBytes(dir?: FileSystemDirectoryHandle): Promise<number> {
  const root = dir ?? (await opfsRoot());
  let total = 0;
  for await (const [, handle] of root as unknown as AsyncIterable<[string, FileSystemHandle]>) {
    if (handle.kind === 'file') total += (await (handle as FileSystemFileHandle).getFile()).size;
    else total += await opfsBytes(handle as FileSystemDirectoryHandle);
  }
  return total;
}
