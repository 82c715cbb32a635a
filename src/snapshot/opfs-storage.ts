import { SnapshotError } from '../errors.js';
import { fileLock, holdLock, lockIsFree } from './locks.js';
import { inDedicatedWorker, startWriterWorker, syncFileWriter } from './opfs-sync.js';
import { type SnapshotSink, type SnapshotStorage, writeFailure } from './storage.js';

/**
 * The ways of writing an OPFS file, tried in this order: `opfs-writable` (`createWritable`: Chrome 86, Firefox 111,
 * Safari 26), `opfs-sync` (`createSyncAccessHandle`, in a dedicated worker: where the library itself runs in one),
 * `opfs-worker` (the same through a worker the page starts: Safari 15.2 to 25).
 */
export type OpfsWriter = 'opfs-writable' | 'opfs-sync' | 'opfs-worker';

/** Options of {@link opfsSnapshotStorage}. */
export interface OpfsSnapshotStorageOptions {
  /** Folder under the origin's OPFS root (default `idb-evolve-snapshots`). */
  readonly directory?: string;
  /** The writers to try, in order (default: all three). */
  readonly writers?: readonly OpfsWriter[];
}

const PARTIAL = '.partial';
const SWAP = '.crswap';
// Temporary files of a writer that may still be running are kept; without Web Locks, "may" means "is recent".
const STALE_MS = 60 * 60 * 1000;

type Entries = AsyncIterable<[string, FileSystemHandle]>;

/**
 * Deletes temporary files that a crashed or killed writer left behind (ours and Chromium's `.crswap` swap
 * files): invisible to `list()`, they still count against the quota. A file whose writer is alive is kept: its
 * Web Lock is held (or, without Web Locks, it is less than an hour old).
 */
async function sweep(folder: FileSystemDirectoryHandle, directory: string): Promise<void> {
  for await (const [name, handle] of folder as unknown as Entries) {
    if (handle.kind !== 'file' || !(name.endsWith(PARTIAL) || name.endsWith(`${PARTIAL}${SWAP}`))) continue;
    const temporary = name.endsWith(SWAP) ? name.slice(0, -SWAP.length) : name;
    let stale = await lockIsFree(fileLock(directory, temporary));
    if (stale === undefined) {
      const file = await (handle as FileSystemFileHandle).getFile().catch(() => undefined);
      stale = file !== undefined && Date.now() - file.lastModified > STALE_MS;
    }
    if (stale) await folder.removeEntry(name).catch(() => {});
  }
}

/** A temporary file to write, and how to drop it. */
interface Temporary {
  readonly folder: FileSystemDirectoryHandle;
  readonly directory: string;
  readonly temporary: string;
  readonly name: string;
}

async function writableSink(t: Temporary): Promise<SnapshotSink> {
  const handle = await t.folder.getFileHandle(t.temporary, { create: true });
  if (typeof handle.createWritable !== 'function') throw new Error('no createWritable() (Safari before 26)');
  const writable = await handle.createWritable();
  return {
    writer: 'opfs-writable',
    write: (chunk) => writable.write(chunk as BufferSource),
    close: async () => {
      await writable.close();
      await (
        handle as FileSystemFileHandle & { move(dir: FileSystemDirectoryHandle, name: string): Promise<void> }
      ).move(t.folder, t.name);
    },
    abort: async () => {
      await writable.abort().catch(() => {});
    },
  };
}

async function syncSink(t: Temporary): Promise<SnapshotSink> {
  if (!inDedicatedWorker()) throw new Error('not in a dedicated worker');
  const writer = syncFileWriter();
  const file = await writer.open(t.directory, t.temporary);
  return {
    writer: 'opfs-sync',
    write: async (chunk) => writer.write(file, chunk),
    close: () => writer.close(file, t.name),
    abort: async () => writer.abort(file),
  };
}

async function workerSink(t: Temporary): Promise<SnapshotSink> {
  if (inDedicatedWorker()) throw new Error('in a dedicated worker: the sync handle is used directly');
  const worker = startWriterWorker();
  try {
    await worker.call({ op: 'open', directory: t.directory, temporary: t.temporary });
  } catch (error) {
    worker.terminate();
    throw error;
  }
  return {
    writer: 'opfs-worker',
    // Copied, not transferred: the chunk may be a view into a buffer the caller still uses.
    write: (chunk) => worker.call({ op: 'write', bytes: chunk }),
    close: () => worker.call({ op: 'close', name: t.name }).finally(() => worker.terminate()),
    // A dead worker never answers: give it a moment, then stop it either way (which releases the file).
    abort: () =>
      worker
        .call({ op: 'abort' }, 2000)
        .catch(() => {})
        .finally(() => worker.terminate()),
  };
}

const WRITERS: Record<OpfsWriter, (t: Temporary) => Promise<SnapshotSink>> = {
  'opfs-writable': writableSink,
  'opfs-sync': syncSink,
  'opfs-worker': workerSink,
};

/** The first writer that opens the temporary file; `snapshot_unavailable` with each one's reason when none does. */
async function openSink(t: Temporary, writers: readonly OpfsWriter[]): Promise<SnapshotSink> {
  const attempts: { writer: string; reason: string }[] = [];
  for (const writer of writers) {
    try {
      return await WRITERS[writer](t);
    } catch (error) {
      if ((error as DOMException | null)?.name === 'QuotaExceededError') throw writeFailure(error, t.name);
      attempts.push({ writer, reason: (error as Error)?.message ?? String(error) });
      await t.folder.removeEntry(t.temporary).catch(() => {});
    }
  }
  throw new SnapshotError(
    'snapshot_unavailable',
    `No OPFS writer works here: ${attempts.map((a) => `${a.writer}: ${a.reason}`).join('; ')}`,
    { attempts },
  );
}

/**
 * Snapshot storage in the Origin Private File System. Each file is written under a temporary name and renamed when
 * complete, so a crash, a closed tab, a killed worker or a full disk never leaves a file that could pass for a
 * snapshot; the leftovers are swept by the next `list` or `create`. Quota errors become `snapshot_quota`.
 *
 * OPFS is missing in Firefox private windows, WebKit ephemeral sessions and on opaque origins; every call then
 * rejects with `snapshot_unavailable` (the default storage then falls back to IndexedDB).
 */
export function opfsSnapshotStorage(options: OpfsSnapshotStorageOptions = {}): SnapshotStorage {
  const directory = options.directory ?? 'idb-evolve-snapshots';
  const writers = options.writers ?? (['opfs-writable', 'opfs-sync', 'opfs-worker'] as const);
  // Looked up on every call, never cached: clearing site data (or a test) removes the folder, and a kept handle
  // would then fail every later write.
  const dir = async (): Promise<FileSystemDirectoryHandle> => {
    const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
    if (typeof storage?.getDirectory !== 'function') {
      throw new SnapshotError('snapshot_unavailable', 'OPFS (navigator.storage.getDirectory) is not available here');
    }
    try {
      return await (await storage.getDirectory()).getDirectoryHandle(directory, { create: true });
    } catch (error) {
      throw new SnapshotError(
        'snapshot_unavailable',
        'OPFS is not usable here (private window, ephemeral session or opaque origin?)',
        { cause: error },
      );
    }
  };
  return {
    list: async () => {
      const folder = await dir();
      await sweep(folder, directory).catch(() => {});
      const names: string[] = [];
      // entries() is async-iterable in every engine with OPFS; the DOM typings lag behind.
      for await (const [name, handle] of folder as unknown as Entries) {
        if (handle.kind === 'file' && !name.endsWith(PARTIAL) && !name.endsWith(SWAP)) names.push(name);
      }
      return names;
    },
    create: async (name) => {
      const folder = await dir();
      await sweep(folder, directory).catch(() => {});
      const t: Temporary = { folder, directory, temporary: `${name}${PARTIAL}`, name };
      // Marks the temporary file as being written, so that another tab's sweep leaves it alone.
      const release = await holdLock(fileLock(directory, t.temporary));
      let sink: SnapshotSink;
      try {
        sink = await openSink(t, writers);
      } catch (error) {
        release();
        throw error;
      }
      return guardedSink(sink, t, release);
    },
    read: async (name) => {
      try {
        return await (await (await dir()).getFileHandle(name)).getFile();
      } catch (error) {
        if ((error as { name?: unknown } | null)?.name === 'NotFoundError') return undefined;
        throw error;
      }
    },
    delete: async (name) => {
      await (await dir()).removeEntry(name).catch((error: unknown) => {
        if ((error as { name?: unknown } | null)?.name !== 'NotFoundError') throw error;
      });
    },
  };
}

/** A writer's sink with the storage's rules: any failure discards the temporary file and frees its lock. */
function guardedSink(sink: SnapshotSink, t: Temporary, release: () => void): SnapshotSink {
  const discard = async (): Promise<void> => {
    await sink.abort().catch(() => {});
    await t.folder.removeEntry(t.temporary).catch(() => {});
    release();
  };
  const failing = async (error: unknown): Promise<never> => {
    await discard();
    throw writeFailure(error, t.name);
  };
  return {
    ...(sink.writer === undefined ? {} : { writer: sink.writer }),
    write: (chunk) => sink.write(chunk).catch(failing),
    close: () => sink.close().then(release, failing),
    abort: discard,
  };
}
