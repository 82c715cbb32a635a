import { type IndexedDBOptions, openOwnDatabase, requestResult, resolveIndexedDB } from '../idb/request.js';
import { fileLock, holdLock, lockIsFree } from './locks.js';
import { type SnapshotSink, type SnapshotStorage, writeFailure } from './storage.js';

/** Options of {@link indexedDBSnapshotStorage}. */
export interface IndexedDBSnapshotStorageOptions extends IndexedDBOptions {
  /** Name of the database the files are kept in (default `idb-evolve-snapshots`); never one of the app's own. */
  readonly databaseName?: string;
}

const FILES = 'files';
const CHUNKS = 'chunks';
// Written in pieces this large: each is one small transaction, and memory holds at most one piece.
const CHUNK_BYTES = 1 << 20;

/** A complete file: listed, readable. Its chunks are keyed [name, 0], [name, 1], ... */
interface FileEntry {
  readonly name: string;
  readonly size: number;
  readonly chunks: number;
}

/**
 * Snapshot storage inside IndexedDB itself: a database of its own holding each file as chunks, for where OPFS is
 * missing (private windows of Firefox and Safari, whose IndexedDB works in memory) or cannot be written. Same
 * files, same verification and retention as in OPFS. A file is listed only once its last chunk is stored and its
 * entry written (one transaction), so a writer that dies mid-file leaves chunks that nothing lists, which the next
 * `create` or `list` sweeps once their writer's Web Lock is free (never where there are no Web Locks).
 *
 * It lives in the same origin as the app's database: the browser evicts both together. Send a copy off the origin
 * (`onSnapshot`) for backups that must outlive that.
 */
export function indexedDBSnapshotStorage(options: IndexedDBSnapshotStorageOptions = {}): SnapshotStorage {
  const { factory, keyRange } = resolveIndexedDB(options);
  const name = options.databaseName ?? 'idb-evolve-snapshots';
  const open = (): Promise<IDBDatabase> => openFiles(factory, name);
  const chunksOf = (file: string): IDBKeyRange => keyRange.bound([file, 0], [file, Number.POSITIVE_INFINITY]);
  const run = async <T>(mode: IDBTransactionMode, work: (t: IDBTransaction) => Promise<T>): Promise<T> => {
    const db = await open();
    try {
      const transaction = db.transaction([FILES, CHUNKS], mode);
      const done = new Promise<void>((resolve, reject) => {
        transaction.oncomplete = () => resolve();
        transaction.onabort = () => reject(transaction.error);
      });
      let result: T;
      try {
        result = await work(transaction);
      } catch (error) {
        done.catch(() => {});
        try {
          transaction.abort();
        } catch {
          // Already finished.
        }
        throw error;
      }
      await done;
      return result;
    } finally {
      db.close();
    }
  };
  const sweep = async (): Promise<void> => {
    const [files, keys] = await run('readonly', async (t) =>
      Promise.all([
        requestResult(t.objectStore(FILES).getAllKeys()),
        requestResult(t.objectStore(CHUNKS).getAllKeys()),
      ]),
    );
    const complete = new Set(files.map(String));
    const orphans = new Set((keys as [string, number][]).map(([file]) => file).filter((file) => !complete.has(file)));
    for (const file of orphans) {
      // Without Web Locks a live writer cannot be told from a dead one: keep its chunks (they are only space).
      if ((await lockIsFree(fileLock(name, file))) !== true) continue;
      await run('readwrite', async (t) => requestResult(t.objectStore(CHUNKS).delete(chunksOf(file))));
    }
  };
  return {
    list: async () => {
      await sweep().catch(() => {});
      return (await run('readonly', (t) => requestResult(t.objectStore(FILES).getAllKeys()))).map(String);
    },
    create: async (file) => {
      await sweep().catch(() => {});
      // An earlier file of that name (an aborted one's chunks) must not mix with this one.
      await run('readwrite', async (t) => {
        t.objectStore(FILES).delete(file);
        return requestResult(t.objectStore(CHUNKS).delete(chunksOf(file)));
      });
      return chunkSink(file, await holdLock(fileLock(name, file)), run, chunksOf);
    },
    read: async (file) => {
      const [entry, chunks] = await run('readonly', (t) =>
        Promise.all([
          requestResult(t.objectStore(FILES).get(file)) as Promise<FileEntry | undefined>,
          requestResult(t.objectStore(CHUNKS).getAll(chunksOf(file))) as Promise<(Blob | ArrayBuffer)[]>,
        ]),
      );
      if (entry === undefined) return undefined;
      return new File(chunks, file, { type: 'application/octet-stream' });
    },
    delete: async (file) => {
      await run('readwrite', async (t) => {
        t.objectStore(FILES).delete(file);
        return requestResult(t.objectStore(CHUNKS).delete(chunksOf(file)));
      });
    },
  };
}

/**
 * Opens the files database at whatever version it has, creating its stores when they are missing: another piece
 * of code that opened the name without a version (a devtools script, a "dump every database" helper) leaves an
 * empty database at version 1, which a fixed `open(name, 1)` would take for ours.
 */
async function openFiles(factory: IDBFactory, name: string): Promise<IDBDatabase> {
  const db = await openFilesAt(factory, name, undefined);
  if (db.objectStoreNames.contains(FILES) && db.objectStoreNames.contains(CHUNKS)) return db;
  const version = db.version + 1;
  db.close();
  return openFilesAt(factory, name, version);
}

function openFilesAt(factory: IDBFactory, name: string, version: number | undefined): Promise<IDBDatabase> {
  // Another tab holding it open during an upgrade of this small database must not stall a snapshot.
  return openOwnDatabase(factory, name, version, { blockedTimeout: 10_000 }, (db) => {
    if (!db.objectStoreNames.contains(FILES)) db.createObjectStore(FILES, { keyPath: 'name' });
    if (!db.objectStoreNames.contains(CHUNKS)) db.createObjectStore(CHUNKS);
  });
}

type Run = <T>(mode: IDBTransactionMode, work: (t: IDBTransaction) => Promise<T>) => Promise<T>;

/**
 * Collects written bytes into chunks of about a megabyte, each stored as a Blob (the engines keep Blobs on disk),
 * or as bytes where this IndexedDB cannot store a Blob (some private modes); the entry is written with the last.
 */
function chunkSink(file: string, release: () => void, run: Run, chunksOf: (file: string) => IDBKeyRange): SnapshotSink {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let stored = 0;
  let size = 0;
  let blobs = true;
  const store = async (entry: FileEntry | undefined): Promise<void> => {
    const bytes = pending;
    pending = [];
    pendingBytes = 0;
    const put = (value: Blob | Uint8Array) =>
      run('readwrite', async (t) => {
        if (bytes.length > 0) t.objectStore(CHUNKS).put(value, [file, stored]);
        if (entry !== undefined) t.objectStore(FILES).put(entry);
      });
    const blob = new Blob(bytes as BlobPart[]);
    try {
      await (blobs ? put(blob) : put(await bytesOf(blob)));
    } catch (error) {
      if ((error as DOMException | null)?.name !== 'DataCloneError' || !blobs) throw error;
      blobs = false;
      await put(await bytesOf(blob));
    }
    if (bytes.length > 0) stored++;
  };
  const fail = async (error: unknown): Promise<never> => {
    await discard();
    throw writeFailure(error, file);
  };
  const discard = async (): Promise<void> => {
    pending = [];
    await run('readwrite', async (t) => requestResult(t.objectStore(CHUNKS).delete(chunksOf(file)))).catch(() => {});
    release();
  };
  return {
    writer: 'indexeddb',
    write: async (chunk) => {
      pending.push(chunk);
      pendingBytes += chunk.byteLength;
      size += chunk.byteLength;
      if (pendingBytes >= CHUNK_BYTES) await store(undefined).catch(fail);
    },
    close: async () => {
      await store({ name: file, size, chunks: stored + (pending.length > 0 ? 1 : 0) }).catch(fail);
      release();
    },
    abort: discard,
  };
}

async function bytesOf(blob: Blob): Promise<Uint8Array> {
  return new Uint8Array(await blob.arrayBuffer());
}
