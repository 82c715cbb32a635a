import { SnapshotError } from '../errors.js';

/** A file being written; nothing is visible under its name until {@link SnapshotSink.close} resolves. */
export interface SnapshotSink {
  write(chunk: string): Promise<void>;
  /** Commits the file atomically. */
  close(): Promise<void>;
  /** Discards everything written. */
  abort(): Promise<void>;
}

/**
 * Where snapshots live. Files are named by the library; a storage only keeps text files atomically. Implement it
 * to keep snapshots elsewhere (a server, the Cache API); {@link opfsSnapshotStorage} and
 * {@link memorySnapshotStorage} are built in.
 */
export interface SnapshotStorage {
  /** Names of complete files. */
  list(): Promise<string[]>;
  /** Starts a new file. */
  create(name: string): Promise<SnapshotSink>;
  /** The file's content, or undefined when there is no such file. */
  read(name: string): Promise<Blob | undefined>;
  /** Deletes a file; no error when it is absent. */
  delete(name: string): Promise<void>;
}

/**
 * Snapshot storage in memory, for tests and for environments without OPFS where a snapshot only needs to
 * outlive the upgrade (to download it, for example). Lost when the page goes.
 */
export function memorySnapshotStorage(): SnapshotStorage {
  const files = new Map<string, Blob>();
  return {
    list: async () => [...files.keys()],
    create: async (name) => {
      let chunks: string[] | undefined = [];
      return {
        write: async (chunk) => {
          if (chunks === undefined) throw new Error('This snapshot file is already closed');
          chunks.push(chunk);
        },
        close: async () => {
          if (chunks === undefined) throw new Error('This snapshot file is already closed');
          files.set(name, new Blob(chunks, { type: 'application/x-ndjson' }));
          chunks = undefined;
        },
        abort: async () => {
          chunks = undefined;
        },
      };
    },
    read: async (name) => files.get(name),
    delete: async (name) => {
      files.delete(name);
    },
  };
}

/** Options of {@link opfsSnapshotStorage}. */
export interface OpfsSnapshotStorageOptions {
  /** Folder under the origin's OPFS root (default `idb-evolve-snapshots`). */
  readonly directory?: string;
}

const PARTIAL = '.partial';

function isQuota(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === 'QuotaExceededError';
}

function wrapWriteError(error: unknown, name: string): SnapshotError {
  return isQuota(error)
    ? new SnapshotError('snapshot_quota', `Not enough storage quota to write snapshot "${name}"`, {
        snapshotId: name,
        cause: error,
      })
    : new SnapshotError('snapshot_write_failed', `Could not write snapshot "${name}"`, {
        snapshotId: name,
        cause: error,
      });
}

// Temporary files of a writer that may still be running are kept; without Web Locks, "may" means "is recent".
const STALE_MS = 60 * 60 * 1000;
const lockName = (directory: string, file: string): string => `idb-evolve-snapshot:${directory}/${file}`;

type Locks = {
  request(
    name: string,
    options: { ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<void> | void,
  ): Promise<void>;
};
const locks = (): Locks | undefined => (globalThis as { navigator?: { locks?: Locks } }).navigator?.locks;

/** Holds a Web Lock on a temporary file until `release` is called; resolves once held (at once without Web Locks). */
async function holdLock(name: string): Promise<() => void> {
  const manager = locks();
  if (manager === undefined) return () => {};
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  await new Promise<void>((held) => {
    void manager.request(name, {}, () => {
      held();
      return released;
    });
  });
  return release;
}

/**
 * Deletes temporary files that a crashed or killed writer left behind (ours and Chromium's `.crswap` swap
 * files): invisible to `list()`, they still count against the quota. A file whose writer is alive is kept: its
 * Web Lock is held (or, without Web Locks, it is less than an hour old).
 */
async function sweep(folder: FileSystemDirectoryHandle, directory: string): Promise<void> {
  const manager = locks();
  for await (const [name, handle] of folder as unknown as AsyncIterable<[string, FileSystemHandle]>) {
    if (handle.kind !== 'file' || !(name.endsWith(PARTIAL) || name.endsWith(`${PARTIAL}.crswap`))) continue;
    const temporary = name.endsWith('.crswap') ? name.slice(0, -'.crswap'.length) : name;
    let stale: boolean;
    if (manager !== undefined) {
      stale = false;
      await manager.request(lockName(directory, temporary), { ifAvailable: true }, (lock) => {
        stale = lock !== null;
      });
    } else {
      const file = await (handle as FileSystemFileHandle).getFile().catch(() => undefined);
      stale = file !== undefined && Date.now() - file.lastModified > STALE_MS;
    }
    if (stale) await folder.removeEntry(name).catch(() => {});
  }
}

/**
 * Snapshot storage in the Origin Private File System. Each file is written under a temporary name with
 * `createWritable()` and renamed when complete, so a crash, a closed tab or a full disk never leaves a file that
 * could pass for a snapshot. Quota errors become {@link SnapshotError} `snapshot_quota`.
 *
 * OPFS is missing in Firefox private windows, WebKit ephemeral sessions and on opaque origins; every call then
 * rejects with `snapshot_unavailable`, which `openDatabase` turns into a refused upgrade unless told otherwise.
 */
export function opfsSnapshotStorage(options: OpfsSnapshotStorageOptions = {}): SnapshotStorage {
  const folder = options.directory ?? 'idb-evolve-snapshots';
  // Looked up on every call, never cached: clearing site data (or a test) removes the folder, and a kept handle
  // would then fail every later write.
  const dir = async (): Promise<FileSystemDirectoryHandle> => {
    const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
    if (typeof storage?.getDirectory !== 'function') {
      throw new SnapshotError('snapshot_unavailable', 'OPFS (navigator.storage.getDirectory) is not available here');
    }
    try {
      const root = await storage.getDirectory();
      return await root.getDirectoryHandle(folder, { create: true });
    } catch (error) {
      throw new SnapshotError(
        'snapshot_unavailable',
        `OPFS is not usable here (private window, ephemeral session or opaque origin?)`,
        {
          cause: error,
        },
      );
    }
  };
  return {
    list: async () => {
      const names: string[] = [];
      // entries() is async-iterable in every engine with OPFS; the DOM typings lag behind.
      for await (const [name, handle] of (await dir()) as unknown as AsyncIterable<[string, FileSystemHandle]>) {
        if (handle.kind === 'file' && !name.endsWith(PARTIAL) && !name.endsWith('.crswap')) names.push(name);
      }
      return names;
    },
    create: async (name) => {
      const folderHandle = await dir();
      await sweep(folderHandle, folder).catch(() => {});
      const temporary = `${name}${PARTIAL}`;
      // Marks the temporary file as being written, so that another tab's sweep leaves it alone.
      const release = await holdLock(lockName(folder, temporary));
      let handle: FileSystemFileHandle;
      let writable: FileSystemWritableFileStream;
      try {
        handle = await folderHandle.getFileHandle(temporary, { create: true });
        if (typeof handle.createWritable !== 'function') {
          throw new SnapshotError(
            'snapshot_unavailable',
            'This browser cannot write OPFS files from a page (no createWritable)',
          );
        }
        writable = await handle.createWritable();
      } catch (error) {
        await folderHandle.removeEntry(temporary).catch(() => {});
        release();
        throw error instanceof SnapshotError ? error : wrapWriteError(error, name);
      }
      const discard = async (): Promise<void> => {
        await writable.abort().catch(() => {});
        await folderHandle.removeEntry(temporary).catch(() => {});
        release();
      };
      return {
        write: async (chunk) => {
          try {
            await writable.write(chunk);
          } catch (error) {
            await discard();
            throw wrapWriteError(error, name);
          }
        },
        close: async () => {
          try {
            await writable.close();
            // The two-argument form: WebKit rejects move(name) alone with "Not enough arguments".
            await (
              handle as FileSystemFileHandle & { move(dir: FileSystemDirectoryHandle, name: string): Promise<void> }
            ).move(folderHandle, name);
            release();
          } catch (error) {
            await discard();
            throw wrapWriteError(error, name);
          }
        },
        abort: discard,
      };
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
