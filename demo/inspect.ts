// Reading the demo database and the snapshot folder directly, without the library: what the page shows as the
// database's state and what the "data intact" check compares. Nothing here creates or changes a database.
import type { Counts } from './api.js';
import { noteKey } from './plan.js';

export function requestOf<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export function completion(transaction: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error ?? new DOMException('Transaction aborted', 'AbortError'));
  });
}

/** Opens the database as it is (no version, no upgrade); null when it does not exist (it is not created). */
function openExisting(name: string): Promise<IDBDatabase | null> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name);
    request.onupgradeneeded = () => request.transaction?.abort();
    request.onsuccess = () => {
      const db = request.result;
      db.onversionchange = () => db.close();
      resolve(db);
    };
    request.onerror = (event) => {
      event.preventDefault();
      if (request.error?.name === 'AbortError') resolve(null);
      else reject(request.error);
    };
  });
}

/**
 * Runs `read` in one read-only transaction over `stores` and waits for the transaction to end before closing: a
 * connection closed while its transaction finishes still counts as open, and another tab's upgrade would report
 * it as blocking.
 */
async function reading<T>(
  name: string,
  stores: (db: IDBDatabase) => string[],
  read: (transaction: IDBTransaction | null, db: IDBDatabase) => Promise<T>,
  absent: T,
): Promise<T> {
  const db = await openExisting(name);
  if (db === null) return absent;
  try {
    const names = stores(db).filter((store) => db.objectStoreNames.contains(store));
    if (names.length === 0) return await read(null, db);
    const transaction = db.transaction(names, 'readonly');
    const result = await read(transaction, db);
    await completion(transaction);
    return result;
  } finally {
    db.close();
  }
}

/** Version and record count per store (version 0 when the database does not exist). */
export function counts(name: string): Promise<Counts> {
  return reading(
    name,
    (db) => Array.from(db.objectStoreNames),
    async (transaction, db) => {
      const stores: Record<string, number> = {};
      if (transaction === null) return { version: db.version, stores };
      for (const store of Array.from(db.objectStoreNames))
        stores[store] = await requestOf(transaction.objectStore(store).count());
      return { version: db.version, stores };
    },
    { version: 0, stores: {} },
  );
}

/** The first and last note, and note `id` when given, as JSON: what the intact check compares. */
export function sample(name: string, id: number | undefined): Promise<string> {
  return reading(
    name,
    () => ['notes'],
    async (transaction, db) => {
      if (transaction === null) return '[]';
      const store = transaction.objectStore('notes');
      const first = await requestOf(store.openCursor());
      const last = await requestOf(store.openCursor(null, 'prev'));
      const middle = id === undefined ? undefined : await requestOf(store.get(noteKey(db.version, id)));
      return JSON.stringify([first?.value, middle, last?.value]);
    },
    '[]',
  );
}

/** One record, or undefined when the database, the store or the record is absent. */
export function read(name: string, store: string, key: IDBValidKey): Promise<unknown> {
  return reading(
    name,
    () => [store],
    async (transaction) => (transaction === null ? undefined : requestOf(transaction.objectStore(store).get(key))),
    undefined,
  );
}

export function deleteDatabase(name: string, onBlocked: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onblocked = onBlocked;
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
}

/** Every file in an OPFS folder with its size, including the partial and swap files listSnapshots hides. */
export async function folderFiles(folder: string): Promise<{ name: string; size: number }[]> {
  let directory: FileSystemDirectoryHandle;
  try {
    directory = await (await navigator.storage.getDirectory()).getDirectoryHandle(folder);
  } catch {
    return [];
  }
  const files: { name: string; size: number }[] = [];
  // entries() is async-iterable in every engine with OPFS; the DOM typings lag behind.
  for await (const [name, handle] of directory as unknown as AsyncIterable<[string, FileSystemHandle]>) {
    const size =
      handle.kind === 'file' ? ((await (handle as FileSystemFileHandle).getFile().catch(() => null))?.size ?? -1) : -1;
    files.push({ name, size });
  }
  return files.sort((a, b) => (a.name < b.name ? -1 : 1));
}
