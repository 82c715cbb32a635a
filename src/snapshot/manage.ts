import { SnapshotError } from '../errors.js';
import { type IndexedDBOptions, openExisting, resolveIndexedDB } from '../idb/request.js';
import { checkOptions, type OptionRule, rule } from '../options.js';
import type { ProgressCallback } from '../progress.js';
import {
  parseSnapshotFileName,
  snapshotFileName,
  SnapshotReader,
  writeSnapshot,
  type SnapshotInfo,
  type SnapshotReason,
} from './format.js';
import { isGzip, type SnapshotCompression } from './compression.js';
import { defaultSnapshotStorage } from './default-storage.js';
import type { SnapshotStorage } from './storage.js';
import { TransactionGuard } from '../idb/transaction-guard.js';

/** The check of a `storage` option, shared by every function that takes one. */
export const storageRule: OptionRule = rule.methods(
  'a SnapshotStorage (list, create, read and delete), such as opfsSnapshotStorage() or memorySnapshotStorage()',
  'list',
  'create',
  'read',
  'delete',
);

/** Options shared by the snapshot functions. */
export interface SnapshotStorageOption {
  /** Where snapshots live (default: {@link opfsSnapshotStorage} with its default folder). */
  readonly storage?: SnapshotStorage;
}

/** Options of {@link snapshotDatabase}. */
export interface SnapshotDatabaseOptions extends SnapshotStorageOption, IndexedDBOptions {
  /** Recorded in the snapshot (default `manual`). */
  readonly reason?: SnapshotReason;
  /** Records read per page (default 1000). */
  readonly batchSize?: number;
  /** `gzip` (default where `CompressionStream` exists) or `none` for plain NDJSON. */
  readonly compression?: SnapshotCompression;
  /** Called after each page: phase `snapshot`, the store, records written and the store's total. */
  readonly onProgress?: ProgressCallback;
}

/**
 * The storage to use: the given one (checked, for the public function `where`), or one shared OPFS storage created
 * on first use (never at import).
 */
export function storageOf(
  options: SnapshotStorageOption & IndexedDBOptions,
  where = 'snapshot storage',
): SnapshotStorage {
  checkOptions(where, options, { storage: storageRule });
  return options.storage ?? defaultSnapshotStorage(options);
}

/**
 * Writes a snapshot of any IndexedDB database by name, without a plan (Dexie's included). All stores are read in
 * one read-only transaction, kept open across the OPFS writes, so the snapshot is one consistent point in time.
 *
 * @example
 * ```ts
 * const snapshot = await snapshotDatabase('app')
 * const file = await exportSnapshot(snapshot.id) // a Blob to offer as a download
 * ```
 */
export async function snapshotDatabase(name: string, options: SnapshotDatabaseOptions = {}): Promise<SnapshotInfo> {
  checkOptions('snapshotDatabase', options, {
    reason: rule.oneOf('manual', 'upgrade', 'downgrade', 'import'),
    batchSize: rule.count,
    onProgress: rule.function,
    compression: rule.oneOf('gzip', 'none'),
  });
  const { factory, keyRange } = resolveIndexedDB(options);
  const storage = storageOf(options, 'snapshotDatabase');
  const db = await openExisting(factory, name);
  if (db === undefined) throw new SnapshotError('database_not_found', `There is no database "${name}" to snapshot`);
  try {
    return await readConsistently(db, keyRange, (guard) =>
      writeSnapshot({
        db,
        guard,
        keyRange,
        factory,
        storage,
        database: name,
        version: db.version,
        reason: options.reason ?? 'manual',
        compression: options.compression,
        ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
        onProgress:
          options.onProgress &&
          ((store, done, total) =>
            options.onProgress!({ phase: 'snapshot', unit: 'records', version: db.version, store, done, total })),
      }),
    );
  } finally {
    db.close();
  }
}

/**
 * Runs `work` in one read-only transaction over every store of `db`, kept alive (by the guard) across the work's
 * non-IndexedDB awaits, so that what it reads is one consistent point in time. Resolves once the transaction ended.
 */
export function readConsistently<T>(
  db: IDBDatabase,
  keyRange: typeof IDBKeyRange,
  work: (guard: TransactionGuard) => Promise<T>,
): Promise<T> {
  const names = Array.from(db.objectStoreNames);
  const transaction = db.transaction(names.length > 0 ? names : [], 'readonly');
  return new Promise<T>((resolve, reject) => {
    let done: { value: T } | undefined;
    const guard = new TransactionGuard(db, transaction, keyRange, reject);
    guard.start();
    transaction.oncomplete = () => (done === undefined ? reject(guard.failure) : resolve(done.value));
    work(guard).then(
      (value) => {
        done = { value };
        guard.stop();
      },
      (error: unknown) => guard.fail(error),
    );
  });
}

/** Options of {@link listSnapshots}. */
export interface ListSnapshotsOptions extends SnapshotStorageOption {
  /** Only this database's snapshots. */
  readonly database?: string;
}

/** Lists complete snapshots, newest first, with their sizes. Reads no file content. */
export async function listSnapshots(options: ListSnapshotsOptions = {}): Promise<SnapshotInfo[]> {
  checkOptions('listSnapshots', options, { database: rule.string });
  const storage = storageOf(options, 'listSnapshots');
  const infos: SnapshotInfo[] = [];
  for (const id of await storage.list()) {
    const info = parseSnapshotFileName(id);
    if (info === undefined || (options.database !== undefined && info.database !== options.database)) continue;
    const file = await storage.read(id);
    if (file !== undefined) infos.push({ ...info, size: file.size });
  }
  return infos.sort((a, b) => b.created.getTime() - a.created.getTime() || (a.id < b.id ? 1 : -1));
}

/** The stored file of snapshot `id`; `snapshot_not_found` when there is none. */
export async function readFile(storage: SnapshotStorage, id: string): Promise<Blob> {
  const file = await storage.read(id);
  if (file === undefined)
    throw new SnapshotError('snapshot_not_found', `There is no snapshot "${id}"`, { snapshotId: id });
  return file;
}

/** Reads a snapshot file completely and checks its format, counts and checksum; returns what it holds. */
export async function verifySnapshotFile(file: Blob, id: string): Promise<SnapshotInfo> {
  const reader = new SnapshotReader(file, id);
  try {
    const { header, counts } = await reader.verify();
    return {
      id,
      database: header.database,
      version: header.version,
      created: new Date(header.created),
      reason: header.reason,
      size: file.size,
      counts,
    };
  } finally {
    await reader.cancel();
  }
}

/** Checks a stored snapshot end to end (format, every record, counts, checksum); rejects with `snapshot_corrupt` if it fails. */
export async function verifySnapshot(id: string, options: SnapshotStorageOption = {}): Promise<SnapshotInfo> {
  return verifySnapshotFile(await readFile(storageOf(options, 'verifySnapshot'), id), id);
}

/** The snapshot file as a Blob (NDJSON), e.g. to offer as a download named by its id. */
export async function exportSnapshot(id: string, options: SnapshotStorageOption = {}): Promise<Blob> {
  return readFile(storageOf(options, 'exportSnapshot'), id);
}

/**
 * Stores a snapshot file from elsewhere (a download, another device) after checking all of it; a file that fails
 * the check is not stored. Returns the stored snapshot, which can then be restored.
 */
export async function importSnapshot(file: Blob, options: SnapshotStorageOption = {}): Promise<SnapshotInfo> {
  const storage = storageOf(options, 'importSnapshot');
  const checked = await verifySnapshotFile(file, (file as { name?: string }).name ?? 'imported file');
  // Keep a downloaded file's own name, so that the same snapshot keeps one id across devices; the file is stored
  // as it is (compressed or not), so its checksum and its name's suffix stay true.
  const compression = (await isGzip(file)) ? 'gzip' : 'none';
  const named = parseSnapshotFileName((file as { name?: string }).name ?? '');
  const id =
    named?.compression === compression
      ? named.id
      : snapshotFileName(checked.database, checked.version, checked.created, 'import', compression);
  const sink = await storage.create(id);
  try {
    const reader = (file.stream() as ReadableStream<Uint8Array>).getReader();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) await sink.write(chunk.value);
    await sink.close();
  } catch (error) {
    await sink.abort().catch(() => {});
    throw error;
  }
  // Listed under the reason its name gives (`import` for a file without a snapshot's name), and so returned.
  return { ...checked, ...parseSnapshotFileName(id), id, size: file.size };
}

/** Deletes a snapshot; no error when it is already gone. */
export async function deleteSnapshot(id: string, options: SnapshotStorageOption = {}): Promise<void> {
  await storageOf(options, 'deleteSnapshot').delete(id);
}

/** Options of {@link pruneSnapshots}. */
export interface PruneSnapshotsOptions extends SnapshotStorageOption {
  /** How many of the newest snapshots to keep: required, a whole number, at least 1. */
  readonly keep: number;
}

/**
 * Keeps the newest `keep` snapshots of a database and deletes the older ones; returns the deleted ids. A missing or
 * invalid `keep` is refused before anything is deleted.
 */
export async function pruneSnapshots(database: string, options: PruneSnapshotsOptions): Promise<string[]> {
  checkOptions('pruneSnapshots', options, { keep: rule.required(rule.count), storage: storageRule });
  const all = await listSnapshots({ ...options, database });
  const doomed = all.slice(options.keep).map((s) => s.id);
  for (const id of doomed) await storageOf(options).delete(id);
  return doomed;
}
