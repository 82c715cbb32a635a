// Diagnostic variants of the raw getAll + put migration, each adding one thing idb-evolve's walk does, to price
// each overhead separately (`node bench/run.mjs --diagnose`). Not part of the default table.
import { STORE, migrateItem, type ItemV1 } from './data.js';
import type { MigrateCase } from './migrate-cases.js';
import { request } from './idb-util.js';

const BATCH = 1000;

interface Variant {
  /** Read pages with getAllRecords (keys + values) instead of getAll. */
  readonly records?: boolean;
  /** Await promise-wrapped requests in an async loop instead of chaining callbacks. */
  readonly async?: boolean;
  /** Set an onerror handler on every put request. */
  readonly onerror?: boolean;
  /** Compare the record's key with indexedDB.cmp before every put (the primary-key-changed check). */
  readonly cmp?: boolean;
  /** Keep a count(only(-Infinity)) request pending at all times, like TransactionGuard's keepalive. */
  readonly keepalive?: boolean;
}

type RecordsStore = IDBObjectStore & {
  getAllRecords(options: {
    query: IDBKeyRange | null;
    count: number;
  }): IDBRequest<{ key: IDBValidKey; primaryKey: IDBValidKey; value: unknown }[]>;
};

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
      const range = (after: number | undefined): IDBKeyRange | null =>
        after === undefined ? null : IDBKeyRange.lowerBound(after, true);
      const read = (after: number | undefined): IDBRequest<unknown[]> =>
        variant.records
          ? ((store as RecordsStore).getAllRecords({ query: range(after), count: BATCH }) as IDBRequest<unknown[]>)
          : store.getAll(range(after), BATCH);
      const write = (raw: unknown): number => {
        const entry = variant.records ? (raw as { primaryKey: IDBValidKey; value: unknown }) : undefined;
        const record = (entry ? entry.value : raw) as ItemV1;
        const key = entry ? entry.primaryKey : record.id;
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
      if (variant.async) {
        void (async () => {
          let after: number | undefined;
          for (;;) {
            const batch = await request(read(after));
            let last = 0;
            for (const raw of batch) last = write(raw);
            if (batch.length < BATCH) break;
            after = last;
          }
          finished = true;
        })().catch((error: unknown) => {
          tx.abort();
          reject(error);
        });
      } else {
        const next = (after: number | undefined): void => {
          const r = read(after);
          r.onsuccess = () => {
            let last = 0;
            for (const raw of r.result) last = write(raw);
            if (r.result.length === BATCH) next(last);
            else finished = true;
          };
        };
        next(undefined);
      }
    };
    req.onsuccess = () => {
      req.result.close();
      resolve();
    };
    req.onerror = () => reject(req.error);
  });
}

const variant = (id: string, label: string, v: Variant): MigrateCase => ({
  id,
  label,
  run: (name) => upgrade(name, v),
});

export const diagnoseCases: readonly MigrateCase[] = [
  variant('diag-base', 'raw getAll + put (callbacks)', {}),
  variant('diag-async', '+ async/await loop', { async: true }),
  variant('diag-records', '+ getAllRecords instead of getAll', { records: true }),
  variant('diag-onerror', '+ onerror handler per put', { onerror: true }),
  variant('diag-cmp', '+ indexedDB.cmp per record', { cmp: true }),
  variant('diag-keepalive', '+ keepalive count() chain', { keepalive: true }),
  variant('diag-all', 'all of the above (what the walk does)', {
    async: true,
    records: true,
    onerror: true,
    cmp: true,
    keepalive: true,
  }),
];
