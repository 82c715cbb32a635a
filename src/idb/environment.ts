import { OpenError } from '../errors.js';

/** Where IndexedDB comes from: injected for tests and workers, else the global one. */
export interface IndexedDBOptions {
  /** The IndexedDB factory to use (default: `globalThis.indexedDB`); tests pass fake-indexeddb's. */
  readonly indexedDB?: IDBFactory;
  /** The key range class belonging to that factory (default: `globalThis.IDBKeyRange`). */
  readonly IDBKeyRange?: typeof IDBKeyRange;
}

/** The factory and key range to use, read when called (never at import), or an OpenError when there is none. */
export function resolveIndexedDB(options: IndexedDBOptions): { factory: IDBFactory; keyRange: typeof IDBKeyRange } {
  const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  const keyRange = options.IDBKeyRange ?? (globalThis as { IDBKeyRange?: typeof IDBKeyRange }).IDBKeyRange;
  if (factory === undefined || keyRange === undefined) {
    throw new OpenError(
      'open_failed',
      'IndexedDB is not available here; pass `indexedDB` and `IDBKeyRange` in the options',
    );
  }
  return { factory, keyRange };
}

/** Reads the installed version without creating the database (0 when it does not exist). */
export function installedVersion(factory: IDBFactory, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = factory.open(name);
    // The database does not exist and this open would create it: roll that back.
    request.onupgradeneeded = () => request.transaction?.abort();
    request.onsuccess = () => {
      const version = request.result.version;
      request.result.close();
      resolve(version);
    };
    request.onerror = (event) => {
      event.preventDefault();
      if (request.error?.name === 'AbortError') resolve(0);
      else
        reject(
          new OpenError('open_failed', `Could not read the installed version of "${name}"`, { cause: request.error }),
        );
    };
  });
}
