import { OpenError, SnapshotError } from '../errors.js';
import { type IndexedDBOptions, resolveIndexedDB } from '../idb/request.js';
import { indexedDBSnapshotStorage } from './indexeddb-storage.js';
import { opfsSnapshotStorage } from './opfs-storage.js';
import type { SnapshotStorage } from './storage.js';

const shared = new WeakMap<IDBFactory, SnapshotStorage>();

/**
 * The storage every function uses unless given one: OPFS where any OPFS writer works (see `OpfsWriter`), else a
 * database of its own in the same IndexedDB (private windows, service workers of Safari before 26). One per
 * IndexedDB factory, created on first use (never at import).
 */
export function defaultSnapshotStorage(options: IndexedDBOptions = {}): SnapshotStorage {
  const connection: IndexedDBOptions = {
    ...(options.indexedDB === undefined ? {} : { indexedDB: options.indexedDB }),
    ...(options.IDBKeyRange === undefined ? {} : { IDBKeyRange: options.IDBKeyRange }),
  };
  let factory: IDBFactory | undefined;
  try {
    factory = resolveIndexedDB(connection).factory;
  } catch {
    factory = undefined;
  }
  const found = factory === undefined ? undefined : shared.get(factory);
  if (found !== undefined) return found;
  const storage = fallbackStorage([
    ['opfs', opfsSnapshotStorage()],
    // Only the connection: the caller's other options (a `database` filter of listSnapshots, say) are not for it.
    ['indexeddb', () => indexedDBSnapshotStorage(connection)],
  ]);
  if (factory !== undefined) shared.set(factory, storage);
  return storage;
}

type Candidate = readonly [name: string, storage: SnapshotStorage | (() => SnapshotStorage)];

/**
 * Storages tried in order: files are created in the first that can write here, and listed, read and deleted in
 * all that can be reached, so a snapshot stays visible whichever storage took it. Only `snapshot_unavailable`
 * moves on to the next: a full disk is full for all of them.
 */
function fallbackStorage(candidates: readonly Candidate[]): SnapshotStorage {
  const resolved = new Map<string, SnapshotStorage>();
  const storageOf = ([name, storage]: Candidate): SnapshotStorage => {
    let found = resolved.get(name);
    if (found === undefined) {
      found = typeof storage === 'function' ? storage() : storage;
      resolved.set(name, found);
    }
    return found;
  };
  /** Runs `work` on every reachable storage; a storage that is unavailable here counts as empty. */
  const each = async <T>(work: (storage: SnapshotStorage) => Promise<T>): Promise<T[]> => {
    const results: T[] = [];
    for (const candidate of candidates) {
      try {
        results.push(await work(storageOf(candidate)));
      } catch (error) {
        if (!unavailable(error)) throw error;
      }
    }
    return results;
  };
  return {
    list: async () => [...new Set((await each((s) => s.list())).flat())],
    create: async (file) => {
      const attempts: { writer: string; reason: string }[] = [];
      for (const candidate of candidates) {
        try {
          return await storageOf(candidate).create(file);
        } catch (error) {
          if (!unavailable(error)) throw error;
          attempts.push(...reasons(candidate[0], error));
        }
      }
      throw new SnapshotError(
        'snapshot_unavailable',
        `No snapshot storage can write here: ${attempts.map((a) => `${a.writer}: ${a.reason}`).join('; ')}`,
        { snapshotId: file, attempts },
      );
    },
    read: async (file) => (await each((s) => s.read(file))).find((blob) => blob !== undefined),
    delete: async (file) => {
      await each((s) => s.delete(file));
    },
  };
}

function unavailable(error: unknown): boolean {
  if (error instanceof SnapshotError) return error.code === 'snapshot_unavailable';
  // No IndexedDB for the fallback (Node without an injected one) or one that refuses to open (an opaque origin).
  return error instanceof OpenError && (error.code === 'indexeddb_unavailable' || error.code === 'open_failed');
}

function reasons(storage: string, error: unknown): { writer: string; reason: string }[] {
  if (error instanceof SnapshotError && error.attempts !== undefined) return [...error.attempts];
  return [{ writer: storage, reason: (error as Error)?.message ?? String(error) }];
}
