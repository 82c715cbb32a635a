import { OpenError, OptionsError } from '../errors.js';

/** Where IndexedDB comes from: injected for tests and workers, else the global one. */
export interface IndexedDBOptions {
  /** The IndexedDB factory to use (default: `globalThis.indexedDB`); tests pass fake-indexeddb's. Give both or neither. */
  readonly indexedDB?: IDBFactory;
  /** The key range class belonging to that factory (default: `globalThis.IDBKeyRange`). Give both or neither. */
  readonly IDBKeyRange?: typeof IDBKeyRange;
}

/** The factory and key range a call uses. */
export interface IndexedDB {
  readonly factory: IDBFactory;
  readonly keyRange: typeof IDBKeyRange;
}

/**
 * The factory and key range to use, read when called (never at import). Half an injected implementation is refused:
 * fake-indexeddb's factory with the browser's IDBKeyRange fails later, far from the mistake.
 */
export function resolveIndexedDB(options: IndexedDBOptions): IndexedDB {
  if ((options.indexedDB === undefined) !== (options.IDBKeyRange === undefined)) {
    throw new OptionsError('Pass `indexedDB` and `IDBKeyRange` together: each belongs to the other', {
      option: options.indexedDB === undefined ? 'indexedDB' : 'IDBKeyRange',
    });
  }
  const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  const keyRange = options.IDBKeyRange ?? (globalThis as { IDBKeyRange?: typeof IDBKeyRange }).IDBKeyRange;
  if (factory === undefined || keyRange === undefined) {
    throw new OpenError(
      'indexeddb_unavailable',
      'IndexedDB is not available here; pass `indexedDB` and `IDBKeyRange` in the options (fake-indexeddb in Node)',
    );
  }
  return { factory, keyRange };
}

/** Passed to `onBlocked`: other connections keep the database open at `oldVersion`; the call waits for them. */
export interface BlockedInfo {
  readonly oldVersion: number;
  /** The version asked for; null when the database is being deleted. */
  readonly newVersion: number | null;
}

/** How a call waits for other connections: the same two options on every call that opens, restores or deletes. */
export interface BlockedOptions {
  /** Called when other connections keep the database open; the call waits for them to close. */
  readonly onBlocked?: (info: BlockedInfo) => void;
  /**
   * Milliseconds to wait while `blocked` before rejecting with `OpenError` code `blocked` (default: wait, as
   * IndexedDB does). A call that gave up never changes the database later, even when the others do close.
   */
  readonly blockedTimeout?: number;
}

/** What to do at each event of an open or delete request. */
export interface RequestHandlers<T> {
  /** What did not happen when the call gives up, for the `blocked` error ("the upgrade did not run"). */
  readonly gaveUp: string;
  /** In `upgradeneeded`, unless the call gave up (then the upgrade is aborted). */
  readonly upgrade?: (request: IDBOpenDBRequest, event: IDBVersionChangeEvent) => void;
  /** The value to resolve with on `success`; a throw rejects. */
  readonly success: (request: IDBOpenDBRequest) => T;
  /** On `error`: throws (or rejects with) the error to reject with, or returns what to resolve with after all. */
  readonly failure: (error: DOMException | null) => T | Promise<T>;
}

/**
 * Settles an open or delete request, with the one rule for waiting: `onBlocked` at each `blocked` event, and after
 * `blockedTimeout` an `OpenError('blocked')`, after which the request may still go through but changes nothing
 * (its upgrade is aborted, its connection closed). Every call that opens, upgrades, restores or deletes goes
 * through here, so that these rules cannot drift apart again.
 */
export function settleRequest<T>(
  request: IDBOpenDBRequest,
  name: string,
  waits: BlockedOptions,
  handlers: RequestHandlers<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let gaveUp = false;
    request.onblocked = (event) => {
      waits.onBlocked?.({ oldVersion: event.oldVersion, newVersion: event.newVersion });
      if (waits.blockedTimeout === undefined || timer !== undefined) return;
      timer = setTimeout(() => {
        gaveUp = true;
        reject(
          new OpenError(
            'blocked',
            `Other connections kept "${name}" open at version ${event.oldVersion} for ${waits.blockedTimeout} ms; ${handlers.gaveUp}`,
            { oldVersion: event.oldVersion, ...(event.newVersion === null ? {} : { newVersion: event.newVersion }) },
          ),
        );
      }, waits.blockedTimeout);
    };
    request.onupgradeneeded = (event) => {
      clearTimeout(timer);
      // The caller was told the call failed; upgrading now would change the database behind its back.
      if (gaveUp) request.transaction?.abort();
      else handlers.upgrade?.(request, event);
    };
    request.onsuccess = () => {
      clearTimeout(timer);
      if (gaveUp) {
        (request.result as IDBDatabase | undefined)?.close();
        return;
      }
      try {
        resolve(handlers.success(request));
      } catch (error) {
        reject(error);
      }
    };
    request.onerror = (event) => {
      // Handled here: the error must not also surface as an unhandled one on the global scope.
      event.preventDefault();
      clearTimeout(timer);
      if (gaveUp) return;
      Promise.resolve()
        .then(() => handlers.failure(request.error))
        .then(resolve, reject);
    };
  });
}

/** Starts an open, turning a synchronous throw (invalid name or version) into an `open_failed` rejection. */
export function openRequest(factory: IDBFactory, name: string, version?: number): IDBOpenDBRequest | Promise<never> {
  try {
    return version === undefined ? factory.open(name) : factory.open(name, version);
  } catch (error) {
    return Promise.reject(
      new OpenError('open_failed', `Could not open "${name}": ${(error as Error)?.message ?? String(error)}`, {
        cause: error,
        ...(version === undefined ? {} : { newVersion: version }),
      }),
    );
  }
}

/**
 * Opens `name` at whatever version it has, without creating it: resolves undefined when it does not exist (the
 * creating upgrade is aborted, which leaves no database behind).
 */
export async function openExisting(
  factory: IDBFactory,
  name: string,
  waits: BlockedOptions = {},
): Promise<IDBDatabase | undefined> {
  const request = openRequest(factory, name);
  if (request instanceof Promise) return request;
  return settleRequest<IDBDatabase | undefined>(request, name, waits, {
    gaveUp: 'it was not opened',
    upgrade: (r) => r.transaction?.abort(),
    success: (r) => r.result,
    failure: (error) => {
      // The creation this open started was aborted: the database does not exist.
      if (error?.name === 'AbortError') return undefined;
      throw new OpenError('open_failed', `Could not open "${name}": ${error?.message ?? 'unknown error'}`, {
        cause: error,
      });
    },
  });
}

/**
 * Opens one of the library's own databases (the upgrade log, the snapshot storage): `upgrade` creates what is
 * missing, and the connection closes itself on `versionchange`, so that it never holds up another tab.
 */
export function openOwnDatabase(
  factory: IDBFactory,
  name: string,
  version: number | undefined,
  waits: BlockedOptions,
  upgrade: (db: IDBDatabase) => void,
): Promise<IDBDatabase> {
  const request = openRequest(factory, name, version);
  if (request instanceof Promise) return request;
  return settleRequest(request, name, waits, {
    gaveUp: `"${name}" was not opened`,
    upgrade: (r) => upgrade(r.result),
    success: (r) => {
      const db = r.result;
      db.onversionchange = () => db.close();
      return db;
    },
    failure: (error) => {
      throw error;
    },
  });
}

/** Deletes a database, waiting for other connections by the same rules as an open. */
export function deleteDatabase(
  factory: IDBFactory,
  name: string,
  waits: BlockedOptions,
  gaveUp = 'it was not deleted (the deletion still goes ahead when they close)',
): Promise<void> {
  return settleRequest<void>(factory.deleteDatabase(name), name, waits, {
    gaveUp,
    success: () => undefined,
    failure: (error) => {
      throw new OpenError('open_failed', `Could not delete "${name}": ${error?.message ?? 'unknown error'}`, {
        cause: error,
      });
    },
  });
}

/** The result of a plain request (get, getAll, count, add) once it succeeds. */
export function requestResult<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Reads the installed version without creating the database (0 when it does not exist). */
export async function installedVersion(name: string, options: IndexedDBOptions = {}): Promise<number> {
  const db = await openExisting(resolveIndexedDB(options).factory, name);
  const version = db?.version ?? 0;
  db?.close();
  return version;
}
