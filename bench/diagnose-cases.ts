// Diagnostic variants of the raw getAll + put migration, each adding one thing idb-evolve's walk does, to price
// each overhead separately, and other batched read/write patterns, to find each engine's fastest whole-store walk
// (`node bench/run.mjs --diagnose [--engine ...]`). Not part of the default table.
import { STORE, migrateItem, type ItemV1 } from './data.js';
import { protectedOpen, type MigrateCase } from './migrate-cases.js';
import { memorySnapshotStorage, type SnapshotPolicyOptions } from '../src/index.js';
import { request } from './idb-util.js';

const BATCH = 1000;

/** How a page is read: values only, getAllRecords, a getAllKeys + getAll pair over the same range, or a cursor. */
type Read = 'getAll' | 'records' | 'pairs' | 'cursor';

interface Variant {
  /** Read pattern (default getAll). `records` is the same as `read: 'records'`. */
  readonly read?: Read;
  /** Page size (default 1000). */
  readonly batch?: number;
  /** Read-only walk: nothing is written (the upgrade leaves the records as they are). */
  readonly readOnly?: boolean;
  /** Request the next page before the puts of this one, so the engine reads it while the page is written. */
  readonly prefetch?: boolean;
  /** Read pages with getAllRecords (keys + values) instead of getAll. */
  readonly records?: boolean;
  /** Await promise-wrapped requests in an async loop instead of chaining callbacks. */
  readonly async?: boolean;
  /** With `async`: await an async function per record, as the fused walk awaits each record's visit. */
  readonly awaitRecord?: boolean;
  /** Set an onerror handler on every put request. */
  readonly onerror?: boolean;
  /** Compare the record's key with indexedDB.cmp before every put (the primary-key-changed check). */
  readonly cmp?: boolean;
  /** Keep a count(only(-Infinity)) request pending at all times, like TransactionGuard's keepalive. */
  readonly keepalive?: boolean;
  /** Walk the whole store read-only first, as the snapshot inside the upgrade does, then migrate it. */
  readonly readFirst?: boolean;
}

type Write = (record: ItemV1, key: IDBValidKey) => number;

type RecordsStore = IDBObjectStore & {
  getAllRecords(options: {
    query: IDBKeyRange | null;
    count: number;
  }): IDBRequest<{ key: IDBValidKey; primaryKey: IDBValidKey; value: unknown }[]>;
};

/** One read request per page: its result as a list of { key, value } (keys only where the pattern returns them). */
function readPage(
  store: IDBObjectStore,
  read: Read,
  query: IDBKeyRange | null,
  batch: number,
  onPage: (page: readonly { key: IDBValidKey; value: unknown }[]) => void,
): void {
  if (read === 'records') {
    const r = (store as RecordsStore).getAllRecords({ query, count: batch });
    r.onsuccess = () => onPage(r.result.map((e) => ({ key: e.primaryKey, value: e.value })));
  } else if (read === 'pairs') {
    const keys = store.getAllKeys(query, batch);
    const values = store.getAll(query, batch);
    values.onsuccess = () => onPage(keys.result.map((key, i) => ({ key, value: values.result[i] })));
  } else {
    const r = store.getAll(query, batch);
    r.onsuccess = () => onPage(r.result.map((value) => ({ key: (value as ItemV1).id, value })));
  }
}

/** Paged walk with callbacks (optionally prefetching the next page before writing this one). */
function pagedWalk(store: IDBObjectStore, variant: Variant, write: Write, done: () => void): void {
  const read = variant.records ? 'records' : (variant.read ?? 'getAll');
  const batch = variant.batch ?? BATCH;
  const next = (after: number | undefined): void => {
    readPage(store, read, after === undefined ? null : IDBKeyRange.lowerBound(after, true), batch, (page) => {
      const full = page.length === batch;
      if (variant.prefetch && full) next(page[page.length - 1]!.key as number);
      if (!variant.readOnly) for (const entry of page) write(entry.value as ItemV1, entry.key);
      if (!full) done();
      else if (!variant.prefetch) next(page[page.length - 1]!.key as number);
    });
  };
  next(undefined);
}

/** Cursor walk: continue() per record, a put of the migrated value per record unless read-only. */
function cursorWalk(store: IDBObjectStore, variant: Variant, write: Write, done: () => void): void {
  const req = store.openCursor();
  req.onsuccess = () => {
    const cursor = req.result;
    if (cursor === null) return done();
    if (!variant.readOnly) write(cursor.value as ItemV1, cursor.primaryKey);
    cursor.continue();
  };
}

/** The async/await loop of the first diagnostics (getAll or getAllRecords pages). */
async function asyncWalk(store: IDBObjectStore, variant: Variant, write: Write): Promise<void> {
  let after: number | undefined;
  for (;;) {
    const query = after === undefined ? null : IDBKeyRange.lowerBound(after, true);
    const batch = await request(
      variant.records
        ? ((store as RecordsStore).getAllRecords({ query, count: BATCH }) as IDBRequest<unknown[]>)
        : store.getAll(query, BATCH),
    );
    let last = 0;
    for (const raw of batch) {
      const entry = variant.records ? (raw as { primaryKey: IDBValidKey; value: ItemV1 }) : undefined;
      const record = entry ? entry.value : (raw as ItemV1);
      const key = entry ? entry.primaryKey : record.id;
      last = variant.awaitRecord ? await writeLater(write, record, key) : write(record, key);
    }
    if (batch.length < BATCH) break;
    after = last;
  }
}

/** An async function around one write: a promise and a microtask per record. */
async function writeLater(write: Write, record: ItemV1, key: IDBValidKey): Promise<number> {
  return write(record, key);
}

function upgrade(name: string, variant: Variant): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 2);
    req.onupgradeneeded = () => {
      const tx = req.transaction!;
      const store = tx.objectStore(STORE);
      let finished = false;
      if (variant.keepalive) {
        const tick = (): void => {
          if (finished) return;
          const probe = store.count(IDBKeyRange.only(-Infinity));
          probe.onsuccess = tick;
        };
        tick();
      }
      const write = (record: ItemV1, key: IDBValidKey): number => {
        const value = migrateItem(record);
        if (variant.cmp && indexedDB.cmp(value.id, key) !== 0) throw new Error('key changed');
        const put = store.put(value);
        if (variant.onerror) {
          put.onerror = () => {
            tx.abort();
          };
        }
        return value.id;
      };
      const done = (): void => {
        finished = true;
      };
      if (variant.readFirst) {
        const migrate = { ...variant, readFirst: false };
        pagedWalk(store, { readOnly: true }, write, () => pagedWalk(store, migrate, write, done));
      } else if (variant.async) {
        asyncWalk(store, variant, write)
          .then(done)
          .catch((error: unknown) => {
            tx.abort();
            reject(error);
          });
      } else if (variant.read === 'cursor') cursorWalk(store, variant, write, done);
      else pagedWalk(store, variant, write, done);
    };
    req.onsuccess = () => {
      req.result.close();
      resolve();
    };
    req.onerror = () => reject(req.error);
  });
}

const hasGetAllRecords = (): boolean =>
  typeof (IDBObjectStore.prototype as { getAllRecords?: unknown }).getAllRecords === 'function';

const variant = (id: string, label: string, v: Variant): MigrateCase => ({
  id,
  label,
  run: (name) => upgrade(name, v),
  ...(v.readOnly ? { leaves: 'original' as const } : {}),
  ...(v.records || v.read === 'records'
    ? { unavailable: () => (hasGetAllRecords() ? undefined : 'no IDBObjectStore.getAllRecords in this engine') }
    : {}),
});

/** `evolve-1pass-snap` with other snapshot options: which part of the protected open costs the extra. */
const snapshotVariant = (id: string, label: string, options: SnapshotPolicyOptions): MigrateCase => ({
  id,
  label,
  run: (name) => protectedOpen(name, options),
});

export const diagnoseCases: readonly MigrateCase[] = [
  variant('diag-base', 'raw getAll + put (callbacks)', {}),
  variant('diag-async', '+ async/await loop', { async: true }),
  variant('diag-records', '+ getAllRecords instead of getAll', { records: true }),
  variant('diag-await-record', '+ async/await loop awaiting an async function per record', {
    async: true,
    awaitRecord: true,
  }),
  variant('diag-onerror', '+ onerror handler per put', { onerror: true }),
  variant('diag-cmp', '+ indexedDB.cmp per record', { cmp: true }),
  variant('diag-keepalive', '+ keepalive count() chain', { keepalive: true }),
  variant('diag-all', 'all of the above (what the fused walk did until 2026-12-03)', {
    async: true,
    records: true,
    onerror: true,
    cmp: true,
    keepalive: true,
  }),
  // Write patterns: page size, the pair getAllKeys + getAll (what the walk uses without getAllRecords), a cursor,
  // and prefetching the next page before this page's puts.
  variant('diag-getall-5000', 'getAll pages of 5000 + put', { batch: 5000 }),
  variant('diag-records-5000', 'getAllRecords pages of 5000 + put', { read: 'records', batch: 5000 }),
  variant('diag-pairs', 'getAllKeys + getAll pages of 1000 + put', { read: 'pairs' }),
  variant('diag-pairs-5000', 'getAllKeys + getAll pages of 5000 + put', { read: 'pairs', batch: 5000 }),
  variant('diag-prefetch', 'getAll pages of 1000, next page requested before the puts', { prefetch: true }),
  variant('diag-cursor-put', 'cursor continue() + put per record', { read: 'cursor' }),
  // Read patterns alone (a read-only walk inside the upgrade; compared with diag-read-getall).
  variant('diag-read-getall', 'read only: getAll pages of 1000', { readOnly: true }),
  ...[500, 1000, 5000].flatMap((batch) => [
    variant(`diag-read-records-${batch}`, `read only: getAllRecords pages of ${batch}`, {
      readOnly: true,
      read: 'records',
      batch,
    }),
    variant(`diag-read-pairs-${batch}`, `read only: getAllKeys + getAll pages of ${batch}`, {
      readOnly: true,
      read: 'pairs',
      batch,
    }),
  ]),
  variant('diag-scan-then-put', 'a read-only getAll walk of the store, then getAll + put (what a snapshot adds)', {
    readFirst: true,
  }),
  // The protected open (compared with evolve-1pass): where the snapshot is kept and how it is encoded.
  snapshotVariant('diag-snap-gzip', 'evolve-1pass with the default snapshot (OPFS, gzip)', {}),
  snapshotVariant('diag-snap-plain', 'evolve-1pass with an uncompressed OPFS snapshot', { compression: 'none' }),
  // A new page (origin) per run, so each run's memory storage starts empty.
  snapshotVariant('diag-snap-memory', 'evolve-1pass with a gzip snapshot kept in memory (no file)', {
    storage: memorySnapshotStorage(),
  }),
  variant('diag-read-cursor', 'read only: cursor continue() per record', { readOnly: true, read: 'cursor' }),
];
