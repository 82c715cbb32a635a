import { OpenError, OptionsError } from '../errors.js';
import { type BlockedOptions, Wait } from './wait.js';

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

export type { BlockedInfo, BlockedOptions } from './wait.js';

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
  /** As the request settles, before the next request of this realm for the database may start. */
  readonly settled?: (ok: boolean) => void;
}

/** The request a call makes, made only once the call's turn has come. */
export interface RequestStart {
  readonly factory: IDBFactory;
  readonly name: string;
  /** Makes the request (`factory.open`, `deleteDatabase`). */
  readonly start: () => IDBOpenDBRequest;
  /**
   * Taken after the turn and before the request (the cross-context upgrade lock); what it returns is called once
   * the request has settled, whatever the call did meanwhile.
   */
  readonly acquire?: (wait: Wait) => Promise<() => void>;
}

/** A place in a queue: whether someone was ahead, when they are gone, and how to leave it. */
export interface Turn {
  readonly queued: boolean;
  readonly ready: Promise<void>;
  readonly leave: () => void;
}

/** Joins the queue of `key` in `queues`: each member waits for the one before it to leave. */
export function joinQueue(queues: Map<string, Promise<void>>, key: string): Turn {
  const previous = queues.get(key);
  let leave: () => void = () => {};
  const mine = new Promise<void>((resolve) => {
    leave = resolve;
  });
  const tail = (previous ?? Promise.resolve()).then(() => mine);
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return { queued: previous !== undefined, ready: previous ?? Promise.resolve(), leave };
}

/** Requests of this realm still pending, by factory and database: each waits for the one before it. */
const turns = new WeakMap<IDBFactory, Map<string, Promise<void>>>();
/** Databases whose upgrade lock this realm holds for work of several requests (a restore, a protected open). */
const lockedHere = new WeakMap<IDBFactory, Map<string, number>>();

/**
 * Runs `work` as the holder of `name`'s upgrade lock: its requests skip this realm's queue. A call queued there is
 * waiting for this very lock, and the work's requests would wait for it in turn: each for the other, until one
 * gives up.
 */
export async function asLockHolder<T>(factory: IDBFactory, name: string, work: () => Promise<T>): Promise<T> {
  let held = lockedHere.get(factory);
  if (held === undefined) lockedHere.set(factory, (held = new Map()));
  held.set(name, (held.get(name) ?? 0) + 1);
  try {
    return await work();
  } finally {
    const left = held.get(name)! - 1;
    if (left === 0) held.delete(name);
    else held.set(name, left);
  }
}

/**
 * A place in this realm's queue for `name`. IndexedDB queues opens of a database too, but only its head hears
 * `blocked`: a call behind an earlier one that waits on a stale connection would wait silently. Queuing here first
 * means every call knows what it waits on. Requests of a lock holder's work (see {@link asLockHolder}) go first.
 */
function takeTurn(open: RequestStart): Turn {
  const { factory, name } = open;
  if (open.acquire === undefined && lockedHere.get(factory)?.has(name) === true) {
    return { queued: false, ready: Promise.resolve(), leave: () => {} };
  }
  let byName = turns.get(factory);
  if (byName === undefined) turns.set(factory, (byName = new Map()));
  return joinQueue(byName, name);
}

/**
 * Makes and settles an open or delete request, with the one rule for waiting: one clock from the call (see
 * {@link BlockedOptions}) over this realm's earlier requests, the `acquire` step and `blocked`; past it an
 * `OpenError('blocked')` naming what was waited on, after which the request, if made, may still go through but
 * changes nothing (its upgrade is aborted, its connection closed). Every call that opens, upgrades, restores or
 * deletes goes through here, so that these rules cannot drift apart again.
 */
export function settleRequest<T>(
  open: RequestStart,
  waits: BlockedOptions | Wait,
  handlers: RequestHandlers<T>,
): Promise<T> {
  const wait = waits instanceof Wait ? waits : new Wait(open.name, waits, handlers.gaveUp);
  const turn = takeTurn(open);
  if (turn.queued) wait.waitingOn('queued-request');
  const settled = turn.ready.then(async () => {
    let release = (): void => {};
    try {
      // Given up while queued: the request is never made.
      if (wait.gaveUp) return await wait.expired;
      if (open.acquire !== undefined) release = await wait.race(open.acquire(wait));
      wait.waitingOn('unknown');
      const request = open.start();
      return await settle(request, wait, handlers, () => {
        release();
        turn.leave();
      });
    } catch (error) {
      release();
      turn.leave();
      wait.end();
      throw error;
    }
  });
  return wait.race(settled);
}

function settle<T>(request: IDBOpenDBRequest, wait: Wait, handlers: RequestHandlers<T>, done: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    request.onblocked = (event) => wait.blocked({ oldVersion: event.oldVersion, newVersion: event.newVersion });
    request.onupgradeneeded = (event) => {
      // The caller was told the call failed; upgrading now would change the database behind its back.
      if (wait.gaveUp) return request.transaction?.abort();
      wait.end();
      handlers.upgrade?.(request, event);
    };
    request.onsuccess = () => {
      wait.end();
      handlers.settled?.(true);
      done();
      if (wait.gaveUp) return (request.result as IDBDatabase | undefined)?.close();
      try {
        resolve(handlers.success(request));
      } catch (error) {
        reject(error);
      }
    };
    request.onerror = (event) => {
      // Handled here: the error must not also surface as an unhandled one on the global scope.
      event.preventDefault();
      wait.end();
      handlers.settled?.(false);
      done();
      if (wait.gaveUp) return;
      Promise.resolve()
        .then(() => handlers.failure(request.error))
        .then(resolve, reject);
    };
  });
}

/** Starts an open, turning a synchronous throw (invalid name or version) into an `open_failed` error. */
export function openRequest(factory: IDBFactory, name: string, version?: number): IDBOpenDBRequest {
  try {
    return version === undefined ? factory.open(name) : factory.open(name, version);
  } catch (error) {
    throw new OpenError('open_failed', `Could not open "${name}": ${(error as Error)?.message ?? String(error)}`, {
      cause: error,
      ...(version === undefined ? {} : { newVersion: version }),
    });
  }
}

/** The {@link RequestStart} of a plain open of `name` (at `version`, when given). */
export function openStart(factory: IDBFactory, name: string, version?: number): RequestStart {
  return { factory, name, start: () => openRequest(factory, name, version) };
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
  return settleRequest<IDBDatabase | undefined>(openStart(factory, name), waits, {
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
  return settleRequest(openStart(factory, name, version), waits, {
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
  const start = (): IDBOpenDBRequest => factory.deleteDatabase(name);
  return settleRequest<void>({ factory, name, start }, waits, {
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
