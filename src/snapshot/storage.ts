import { SnapshotError } from '../errors.js';

/** A file being written; nothing is visible under its name until {@link SnapshotSink.close} resolves. */
export interface SnapshotSink {
  /** Which writer this is (`opfs-writable`, `opfs-sync`, `opfs-worker`, `indexeddb`, `memory`), for reports. */
  readonly writer?: string;
  write(chunk: Uint8Array): Promise<void>;
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
      let chunks: Uint8Array[] | undefined = [];
      return {
        writer: 'memory',
        write: async (chunk) => {
          if (chunks === undefined) throw new Error('This snapshot file is already closed');
          chunks.push(chunk);
        },
        close: async () => {
          if (chunks === undefined) throw new Error('This snapshot file is already closed');
          files.set(name, new File(chunks as BlobPart[], name));
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

const isQuota = (error: unknown): boolean => (error as { name?: unknown } | null)?.name === 'QuotaExceededError';

/** A writer's failure as the SnapshotError to report: `snapshot_quota` for a full disk, else `snapshot_write_failed`. */
export function writeFailure(error: unknown, name: string): SnapshotError {
  if (error instanceof SnapshotError) return error;
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
