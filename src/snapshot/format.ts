import { Checksum } from './checksum.js';
import { checkSpace } from './space.js';
import { canCompress, contentStream, gzipSink, type SnapshotCompression, SUFFIXES } from './compression.js';
import { IdbEvolveError, PlanError, SnapshotError } from '../errors.js';
import {
  normalizeLayout,
  readLayout,
  type DatabaseLayout,
  type NormalizedLayout,
  type NormalizedStore,
} from '../plan/layout.js';
import { BlobCollector, CodecError, decodeKey, decodeValue, encodeKey, encodeValue } from './codec.js';
import { type SnapshotSink, type SnapshotStorage, writeFailure } from './storage.js';
import { readStorePages } from '../upgrade/read-pages.js';
import type { TransactionGuard } from '../idb/transaction-guard.js';

/**
 * The snapshot file format, NDJSON:
 *
 * 1. a header line: `{"format":"idb-evolve-snapshot","formatVersion":1,"database":…,"version":…,"created":…,
 *    "reason":…,"stores":[{"name","keyPath","autoIncrement","indexes","count"}…]}`
 * 2. one line per record: `{"s":<store position in the header>,"v":<value>}`, plus `"k":<key>` for stores with
 *    out-of-line keys; values and keys use the lossless encoding of `snapshot-codec.ts`;
 * 3. a trailer line: `{"end":true,"records":<total>,"counts":[…per store],"checksum":"<crc32 of every byte before>"}`.
 *
 * A file without its trailer, with a wrong count or checksum, or with anything after the trailer is corrupt.
 */
export const SNAPSHOT_FORMAT = 'idb-evolve-snapshot';
/** The format version this library writes and reads. */
export const SNAPSHOT_FORMAT_VERSION = 1;

/** Why a snapshot was taken. */
export type SnapshotReason = 'upgrade' | 'manual' | 'downgrade' | 'import';

/** One store in a snapshot header: its layout and how many records follow. */
export interface SnapshotStoreHeader extends NormalizedStore {
  readonly name: string;
  readonly count: number;
}

/** The first line of a snapshot file. */
export interface SnapshotHeader {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly formatVersion: number;
  readonly database: string;
  readonly version: number;
  /** ISO 8601 time the snapshot was started. */
  readonly created: string;
  readonly reason: SnapshotReason;
  readonly stores: readonly SnapshotStoreHeader[];
}

/** A snapshot as listed: what its file name and header say. */
export interface SnapshotInfo {
  /** The file name; pass it to restore, verify, export and delete. */
  readonly id: string;
  readonly database: string;
  readonly version: number;
  readonly created: Date;
  readonly reason: SnapshotReason;
  /** Size in bytes, when known. */
  readonly size?: number;
  /** Records per store, when the file was read (written or verified). */
  readonly counts?: Readonly<Record<string, number>>;
  /** How the file is stored, from its name. */
  readonly compression?: SnapshotCompression;
  /** The writer that wrote it (`opfs-writable`, `opfs-worker`, `indexeddb`, ...), for a snapshot just written. */
  readonly writer?: string;
}

const SEPARATOR = '@';

/**
 * Builds a file name that sorts by database, then time, and can be parsed back without reading the file; its
 * suffix says whether the content is gzip (`.ndjson.gz`) or plain (`.ndjson`).
 */
export function snapshotFileName(
  database: string,
  version: number,
  created: Date,
  reason: SnapshotReason,
  compression: SnapshotCompression,
): string {
  const random = Math.random().toString(36).slice(2, 8);
  const time = created.getTime().toString().padStart(15, '0');
  return [encodeURIComponent(database), version, time, reason, random].join(SEPARATOR) + SUFFIXES[compression];
}

/** Parses a snapshot file name; undefined for files that are not snapshots. */
export function parseSnapshotFileName(id: string): SnapshotInfo | undefined {
  const suffix = [SUFFIXES.gzip, SUFFIXES.none].find((s) => id.endsWith(s));
  if (suffix === undefined) return undefined;
  const parts = id.slice(0, -suffix.length).split(SEPARATOR);
  if (parts.length !== 5) return undefined;
  const [database, version, time, reason] = parts as [string, string, string, string];
  const reasons: readonly string[] = ['upgrade', 'manual', 'downgrade', 'import'];
  if (!/^\d+$/.test(version) || !/^\d+$/.test(time) || !reasons.includes(reason)) return undefined;
  try {
    return {
      id,
      database: decodeURIComponent(database),
      version: Number(version),
      created: new Date(Number(time)),
      reason: reason as SnapshotReason,
      compression: suffix === SUFFIXES.gzip ? 'gzip' : 'none',
    };
  } catch {
    return undefined;
  }
}

/** Everything {@link writeSnapshot} needs: a transaction over every store, kept alive by a guard. */
export interface SnapshotWriting {
  readonly db: IDBDatabase;
  readonly guard: TransactionGuard;
  readonly keyRange: typeof IDBKeyRange;
  readonly factory: IDBFactory;
  readonly storage: SnapshotStorage;
  readonly database: string;
  /** The version the data is at. Inside a versionchange transaction `db.version` is already the new one: pass `oldVersion`. */
  readonly version: number;
  readonly reason: SnapshotReason;
  /** Default `gzip` where `CompressionStream` exists. */
  readonly compression?: SnapshotCompression | undefined;
  /** Refuse early when the estimated size exceeds the space the browser leaves (default true). */
  readonly checkSpace?: boolean;
  readonly batchSize?: number;
  readonly onProgress?: ((store: string, done: number, total: number) => void) | undefined;
}

/**
 * Streams every store of the guarded transaction into a new snapshot file, one page at a time, so memory holds
 * one page and not the database. The file only becomes visible, atomically, once complete. Runs inside the
 * transaction it reads, so the snapshot is exactly the state that transaction sees.
 */
export async function writeSnapshot(writing: SnapshotWriting): Promise<SnapshotInfo> {
  const { guard, storage, database, version, reason } = writing;
  const compression = writing.compression ?? (canCompress() ? 'gzip' : 'none');
  const header = await snapshotHeader(writing);
  if (writing.checkSpace !== false) await checkSpace({ guard, database, stores: header.stores, compression });
  const created = new Date(header.created);
  const id = snapshotFileName(database, version, created, reason, compression);
  const stored: SnapshotSink = await guard.external(storage.create(id));
  const sink = compression === 'gzip' ? gzipSink(stored) : stored;
  try {
    const counts = await writeContent(writing, header, sink);
    await guard.external(sink.close());
    const file = await guard.external(storage.read(id));
    await guard.reenter();
    return {
      id,
      database,
      version,
      created,
      reason,
      compression,
      ...(stored.writer === undefined ? {} : { writer: stored.writer }),
      ...(file === undefined ? {} : { size: file.size }),
      counts: Object.fromEntries(header.stores.map((store, i) => [store.name, counts[i] ?? 0])),
    };
  } catch (error) {
    await guard.external(sink.abort()).catch(() => {});
    // The guard's own failures (a read of the database) stay what they are.
    if (error instanceof IdbEvolveError) throw error;
    if (error instanceof CodecError) {
      throw new SnapshotError('snapshot_write_failed', `A record could not be encoded: ${error.message}`, {
        snapshotId: id,
        cause: error,
      });
    }
    // Anything else came from the storage (a custom one throws what it likes): a typed quota or write failure.
    throw writeFailure(error, id);
  }
}

/** The header of a snapshot of the guarded transaction: every store's layout and record count. */
async function snapshotHeader(writing: SnapshotWriting): Promise<SnapshotHeader> {
  const { db, guard } = writing;
  const transaction = guard.transaction;
  const layout = readLayout(db, transaction);
  const stores: SnapshotStoreHeader[] = [];
  for (const name of Object.keys(layout)) {
    const count = await guard.request(transaction.objectStore(name).count(), { store: name });
    stores.push({ name, ...layout[name]!, count });
  }
  return {
    format: SNAPSHOT_FORMAT,
    formatVersion: SNAPSHOT_FORMAT_VERSION,
    database: writing.database,
    version: writing.version,
    created: new Date().toISOString(),
    reason: writing.reason,
    stores,
  };
}

/** Writes the header line, every record (one line each) and the trailer; returns the records written per store. */
async function writeContent(writing: SnapshotWriting, header: SnapshotHeader, sink: SnapshotSink): Promise<number[]> {
  const { guard } = writing;
  const checksum = new Checksum();
  const encoder = new TextEncoder();
  const emit = async (text: string): Promise<void> => {
    checksum.update(text);
    await guard.external(sink.write(encoder.encode(text)));
  };
  await emit(`${JSON.stringify(header)}\n`);
  const counts: number[] = [];
  for (const [position, store] of header.stores.entries()) {
    let written = 0;
    await guard.reenter();
    await readStorePages({
      guard,
      keyRange: writing.keyRange,
      factory: writing.factory,
      store: guard.transaction.objectStore(store.name),
      query: null,
      direction: 'next',
      batchSize: writing.batchSize ?? 1000,
      context: { store: store.name },
      onPage: async (page) => {
        await emit(await encodePage(guard, page, position, store.keyPath === null));
        written += page.length;
        writing.onProgress?.(store.name, written, store.count);
        // The next page is requested by the caller of onPage: it must run where the transaction is active.
        await guard.reenter();
      },
    });
    counts.push(written);
  }
  const records = counts.reduce((a, b) => a + b, 0);
  // The trailer is not checksummed: it carries the checksum, and verification checks its counts against the lines.
  const trailer = { end: true, records, counts, checksum: checksum.digest() };
  await guard.external(sink.write(encoder.encode(`${JSON.stringify(trailer)}\n`)));
  return counts;
}

/** One page of records as snapshot lines; Blob contents are read first (outside IndexedDB, hence the guard). */
async function encodePage(
  guard: TransactionGuard,
  page: readonly { readonly primaryKey: IDBValidKey; readonly value: unknown }[],
  position: number,
  outOfLine: boolean,
): Promise<string> {
  const blobs = new BlobCollector();
  const encoded = page.map((record) => ({
    key: outOfLine ? encodeKey(record.primaryKey) : undefined,
    value: encodeValue(record.value, blobs),
  }));
  if (blobs.size > 0) await guard.external(blobs.readAll());
  const prefix = `{"s":${position},`;
  let text = '';
  for (const { key, value } of encoded) {
    text +=
      key === undefined
        ? `${prefix}"v":${JSON.stringify(value)}}\n`
        : `${prefix}"k":${JSON.stringify(key)},"v":${JSON.stringify(value)}}\n`;
  }
  return text;
}

/** One record read back from a snapshot. */
export interface SnapshotRecord {
  /** Position of its store in the header. */
  readonly store: number;
  /** The primary key, for stores with out-of-line keys. */
  readonly key: IDBValidKey | undefined;
  readonly value: unknown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The header's stores as a declared layout, checked like a plan's; throws `snapshot_corrupt` if invalid. */
export function headerLayout(header: SnapshotHeader, id: string): NormalizedLayout {
  const declared: Record<string, DatabaseLayout[string]> = {};
  for (const store of header.stores) declared[store.name] = store;
  try {
    return normalizeLayout(header.version, declared);
  } catch (error) {
    if (error instanceof PlanError)
      throw new SnapshotError('snapshot_corrupt', `The snapshot's layout is invalid: ${error.message}`, {
        snapshotId: id,
        line: 1,
        cause: error,
      });
    throw error;
  }
}

/**
 * Reads a snapshot file front to back, checking as it goes, and hands out decoded records a page at a time.
 * Nothing it returns can be trusted before {@link SnapshotReader.next} has returned null: only then have the
 * trailer, the counts and the checksum been checked.
 */
export class SnapshotReader {
  readonly id: string;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #decoder = new TextDecoder('utf-8', { fatal: true });
  #buffer = '';
  #lines: string[] = [];
  #lineNumber = 0;
  #done = false;
  #ended = false;
  #header: SnapshotHeader | undefined;
  #counts: number[] = [];
  #checksum = new Checksum();
  #decode: boolean;

  /** `decode: false` checks structure, counts and checksum but skips decoding values (faster, for listing). */
  constructor(file: Blob, id: string, { decode = true }: { decode?: boolean } = {}) {
    this.id = id;
    this.#reader = contentStream(file).getReader();
    this.#decode = decode;
  }

  /** `atLine: false` for damage that no line can be blamed for (a checksum over the whole file). */
  #corrupt(message: string, cause?: unknown, atLine = true): SnapshotError {
    return new SnapshotError('snapshot_corrupt', message, {
      snapshotId: this.id,
      ...(atLine ? { line: this.#lineNumber } : {}),
      ...(cause === undefined ? {} : { cause }),
    });
  }

  /** Next raw line, or undefined at the end of the file. */
  async #line(): Promise<string | undefined> {
    while (this.#lines.length === 0) {
      if (this.#done) return undefined;
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await this.#reader.read();
      } catch (error) {
        throw this.#corrupt('The compressed snapshot is damaged: it does not decompress', error);
      }
      const { value, done } = chunk;
      try {
        if (done) {
          this.#done = true;
          this.#buffer += this.#decoder.decode();
          if (this.#buffer !== '') {
            // A last line without its newline: the file was cut short.
            this.#lines.push(this.#buffer);
            this.#buffer = '';
            this.#lineNumber++;
            throw this.#corrupt('The snapshot is truncated: its last line is incomplete');
          }
          return undefined;
        }
        this.#buffer += this.#decoder.decode(value, { stream: true });
      } catch (error) {
        if (error instanceof SnapshotError) throw error;
        throw this.#corrupt('The snapshot is not valid UTF-8 text', error);
      }
      const parts = this.#buffer.split('\n');
      this.#buffer = parts.pop()!;
      this.#lines = parts.reverse();
    }
    this.#lineNumber++;
    return this.#lines.pop();
  }

  #parse(line: string): unknown {
    try {
      return JSON.parse(line);
    } catch (error) {
      throw this.#corrupt('The snapshot has a line that is not JSON', error);
    }
  }

  /** Reads and checks the header line. */
  async header(): Promise<SnapshotHeader> {
    if (this.#header !== undefined) return this.#header;
    const line = await this.#line();
    if (line === undefined) throw this.#corrupt('The snapshot is empty');
    const parsed = this.#parse(line);
    if (!isObject(parsed) || parsed.format !== SNAPSHOT_FORMAT) {
      throw new SnapshotError('snapshot_unsupported', 'This file is not an idb-evolve snapshot', {
        snapshotId: this.id,
        line: 1,
      });
    }
    if (parsed.formatVersion !== SNAPSHOT_FORMAT_VERSION) {
      throw new SnapshotError(
        'snapshot_unsupported',
        `Snapshot format version ${String(parsed.formatVersion)} is not supported (this library reads ${SNAPSHOT_FORMAT_VERSION})`,
        { snapshotId: this.id, line: 1 },
      );
    }
    const { database, version, created, reason, stores } = parsed;
    if (
      typeof database !== 'string' ||
      typeof version !== 'number' ||
      !Number.isSafeInteger(version) ||
      version < 1 ||
      typeof created !== 'string' ||
      typeof reason !== 'string' ||
      !Array.isArray(stores) ||
      !stores.every(
        (s) => isObject(s) && typeof s.name === 'string' && Number.isSafeInteger(s.count) && (s.count as number) >= 0,
      )
    ) {
      throw this.#corrupt('The snapshot header is malformed');
    }
    if (new Set(stores.map((s) => (s as { name: string }).name)).size !== stores.length) {
      throw this.#corrupt('The snapshot header names a store twice');
    }
    const header = parsed as unknown as SnapshotHeader;
    headerLayout(header, this.id);
    this.#checksum.update(`${line}\n`);
    this.#counts = header.stores.map(() => 0);
    this.#header = header;
    return header;
  }

  /** Up to `max` records; null once the trailer has been read and every check has passed. */
  async next(max = 1000): Promise<SnapshotRecord[] | null> {
    const header = await this.header();
    if (this.#ended) return null;
    const records: SnapshotRecord[] = [];
    while (records.length < max) {
      const line = await this.#line();
      if (line === undefined) throw this.#corrupt('The snapshot is truncated: it has no trailer');
      const parsed = this.#parse(line);
      if (!isObject(parsed)) throw this.#corrupt('A snapshot line must be an object');
      if (parsed.end === true) {
        this.#finish(header, parsed);
        await this.#expectEnd();
        return records.length > 0 ? records : null;
      }
      this.#checksum.update(`${line}\n`);
      const position = parsed.s;
      const store = typeof position === 'number' ? header.stores[position] : undefined;
      if (store === undefined || !Number.isInteger(position))
        throw this.#corrupt('A record names a store the header does not have');
      if (!('v' in parsed)) throw this.#corrupt('A record has no value');
      if ((store.keyPath === null) !== 'k' in parsed) {
        throw this.#corrupt(
          `A record of store "${store.name}" ${store.keyPath === null ? 'lacks its key' : 'has an out-of-line key but the store has a key path'}`,
        );
      }
      this.#counts[position as number]!++;
      if (this.#counts[position as number]! > store.count)
        throw this.#corrupt(`Store "${store.name}" has more records than its header says`);
      if (!this.#decode) continue;
      try {
        records.push({
          store: position as number,
          key: 'k' in parsed ? decodeKey(parsed.k) : undefined,
          value: decodeValue(parsed.v),
        });
      } catch (error) {
        throw this.#corrupt(`A record could not be decoded: ${(error as Error).message}`, error);
      }
    }
    return records;
  }

  #finish(header: SnapshotHeader, trailer: Record<string, unknown>): void {
    const { counts, records, checksum } = trailer;
    if (
      !Array.isArray(counts) ||
      counts.length !== header.stores.length ||
      typeof records !== 'number' ||
      typeof checksum !== 'string'
    ) {
      throw this.#corrupt('The snapshot trailer is malformed');
    }
    header.stores.forEach((store, i) => {
      if (counts[i] !== store.count || this.#counts[i] !== store.count) {
        throw this.#corrupt(
          `Store "${store.name}" has ${this.#counts[i]} records; the header says ${store.count}, the trailer ${String(counts[i])}`,
        );
      }
    });
    // The checksum covers the lines before the trailer, not the trailer: each of its fields is checked on its own.
    const total = this.#counts.reduce((sum, count) => sum + count, 0);
    if (records !== total) throw this.#corrupt(`The snapshot trailer says ${records} records; the file holds ${total}`);
    if (checksum !== this.#checksum.digest())
      throw this.#corrupt(
        'The snapshot checksum does not match: a record somewhere in the file was altered or damaged',
        undefined,
        false,
      );
    this.#ended = true;
  }

  async #expectEnd(): Promise<void> {
    const extra = await this.#line();
    if (extra !== undefined) throw this.#corrupt('The snapshot has data after its trailer');
  }

  /** Reads to the end, checking everything; returns the header and the record count per store. */
  async verify(): Promise<{ header: SnapshotHeader; counts: Record<string, number> }> {
    const header = await this.header();
    while ((await this.next(1000)) !== null) {
      // Reading is the check.
    }
    return { header, counts: Object.fromEntries(header.stores.map((s, i) => [s.name, this.#counts[i] ?? 0])) };
  }

  /** Stops reading (releases the file). */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}
