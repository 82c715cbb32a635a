import { evaluateKeyPath } from '../idb/keys.js';
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
 * Reads a store in primary-key order, a page at a time (see {@link readPage} for the request used per page).
 * `prev` needs getAllRecords.
 */
export async function readStorePages(reading: PageReading): Promise<void> {
  const { keyRange, factory, query, direction, batchSize, onPage } = reading;
  const bounds = boundsOf(query);
  for (;;) {
    const batch = await readPage(reading, makeRange(keyRange, bounds));
    if (batch.length === 0) return;
    await onPage(batch);
    if (batch.length < batchSize || !moveBounds(factory, bounds, direction, batch[batch.length - 1]!.primaryKey, true))
      return;
  }
}

type RecordsStore = IDBObjectStore & { getAllRecords(options: object): IDBRequest<BatchRecord[]> };

/**
 * One page of records, by the fastest request measured (`node bench/run.mjs --diagnose`, read-only walks of 50k
 * records of ~190 bytes, wall / CPU seconds of the engine's processes, medians of 3):
 * - in-line keys, forward: `getAll` alone, the keys read from the values at the key path. Firefox ESR 153:
 *   0.61 s / 0.62 s, against getAllRecords 1.03 s / 0.90 s and getAllKeys + getAll 0.79 s / 0.83 s (pages of
 *   1000). A key that is not a number or a string (a Date, binary, an array) is read with getAllKeys instead,
 *   so that the page's keys are the engine's own key objects, as the other paths give them.
 * - otherwise getAllRecords where the engine has it, else getAllKeys + getAll over the same range (WebKitGTK 2.50).
 */
async function readPage(reading: PageReading, page: IDBKeyRange | null): Promise<BatchRecord[]> {
  const { guard, store, direction, batchSize, context } = reading;
  const keyPath = store.keyPath;
  if (keyPath !== null && direction === 'next') {
    const values = await guard.request(store.getAll(page, batchSize), context);
    const keys = values.map((value) => evaluateKeyPath(value, keyPath));
    if (keys.every(isPlainKey)) return values.map((value, i) => ({ key: keys[i]!, primaryKey: keys[i]!, value }));
    return pair(await guard.request(store.getAllKeys(page, batchSize), context), values);
  }
  if (typeof (store as { getAllRecords?: unknown }).getAllRecords === 'function') {
    return guard.request((store as RecordsStore).getAllRecords({ query: page, count: batchSize, direction }), context);
  }
  const [keys, values] = await Promise.all([
    guard.request(store.getAllKeys(page, batchSize), context),
    guard.request(store.getAll(page, batchSize), context),
  ]);
  return pair(keys, values);
}

const isPlainKey = (key: unknown): key is number | string =>
  typeof key === 'string' || (typeof key === 'number' && !Number.isNaN(key));

const pair = (keys: readonly IDBValidKey[], values: readonly unknown[]): BatchRecord[] =>
  keys.map((key, i) => ({ key, primaryKey: key, value: values[i] }));

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
