import type { TransactionGuard } from '../idb/transaction-guard.js';

/** One record as read from a store page. */
export interface BatchRecord {
  readonly key: IDBValidKey;
  readonly primaryKey: IDBValidKey;
  readonly value: unknown;
}

/** What {@link readStorePages} needs. */
export interface PageReading {
  readonly guard: TransactionGuard;
  readonly keyRange: typeof IDBKeyRange;
  readonly factory: IDBFactory;
  readonly store: IDBObjectStore;
  readonly query: IDBKeyRange | null;
  readonly direction: 'next' | 'prev';
  readonly batchSize: number;
  /** Handles one page; the next page is requested when it resolves (so it must resolve in an active context). */
  readonly onPage: (page: readonly BatchRecord[]) => Promise<void>;
  readonly context: { readonly store: string };
}

/**
 * Reads a store in primary-key order, a page at a time: one getAllRecords request per page where the engine has
 * it (Chromium, Firefox), else getAllKeys + getAll over the same range. `prev` needs getAllRecords.
 */
export async function readStorePages(reading: PageReading): Promise<void> {
  const { guard, keyRange, factory, store, query, direction, batchSize, onPage, context } = reading;
  const hasGetAllRecords = typeof (store as { getAllRecords?: unknown }).getAllRecords === 'function';
  const bounds = boundsOf(query);
  for (;;) {
    const page = makeRange(keyRange, bounds);
    let batch: BatchRecord[];
    if (hasGetAllRecords) {
      batch = await guard.request(
        (store as unknown as { getAllRecords(o: object): IDBRequest<BatchRecord[]> }).getAllRecords({
          query: page,
          count: batchSize,
          direction,
        }),
        context,
      );
    } else {
      const [keys, values] = await Promise.all([
        guard.request(store.getAllKeys(page, batchSize), context),
        guard.request(store.getAll(page, batchSize), context),
      ]);
      batch = keys.map((key, i) => ({ key, primaryKey: key, value: values[i] }));
    }
    if (batch.length === 0) return;
    await onPage(batch);
    if (batch.length < batchSize || !moveBounds(factory, bounds, direction, batch[batch.length - 1]!.primaryKey, true))
      return;
  }
}

/** Every record of a store, forward, 1000 at a time: the read passes of validation and of the duplicate search. */
export function readWholeStore(reading: Omit<PageReading, 'query' | 'direction' | 'batchSize'>): Promise<void> {
  return readStorePages({ ...reading, query: null, direction: 'next', batchSize: 1000 });
}

/** The bounds of a key range, to be moved as a walk goes; no bound for a missing range. */
export interface Bounds {
  lower: IDBValidKey | undefined;
  lowerOpen: boolean;
  upper: IDBValidKey | undefined;
  upperOpen: boolean;
}

export function boundsOf(range: IDBKeyRange | null): Bounds {
  return {
    lower: range?.lower as IDBValidKey | undefined,
    lowerOpen: range?.lowerOpen ?? false,
    upper: range?.upper as IDBValidKey | undefined,
    upperOpen: range?.upperOpen ?? false,
  };
}

/**
 * Moves the bound a walk starts from (the lower one going `next`, the upper one going `prev`) to `key`; false when
 * nothing is left in range.
 */
export function moveBounds(
  factory: IDBFactory,
  bounds: Bounds,
  direction: 'next' | 'prev',
  key: IDBValidKey,
  open: boolean,
): boolean {
  if (direction === 'next') Object.assign(bounds, { lower: key, lowerOpen: open });
  else Object.assign(bounds, { upper: key, upperOpen: open });
  if (bounds.lower === undefined || bounds.upper === undefined) return true;
  const order = factory.cmp(bounds.lower, bounds.upper);
  return order < 0 || (order === 0 && !bounds.lowerOpen && !bounds.upperOpen);
}

export function makeRange(
  keyRange: typeof IDBKeyRange,
  { lower, lowerOpen, upper, upperOpen }: Bounds,
): IDBKeyRange | null {
  if (lower !== undefined && upper !== undefined) return keyRange.bound(lower, upper, lowerOpen, upperOpen);
  if (lower !== undefined) return keyRange.lowerBound(lower, lowerOpen);
  if (upper !== undefined) return keyRange.upperBound(upper, upperOpen);
  return null;
}
