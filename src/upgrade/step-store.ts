import type { ErrorContext } from '../errors.js';
import { evaluateKeyPath, isValidKey, keyId } from '../idb/keys.js';
import type { KeyPath } from '../plan/layout.js';
import type { ExplainCollision, TransactionGuard } from '../idb/transaction-guard.js';
import { explainWrite } from './constraints.js';
import { isThenable } from './thenable.js';
import { type BatchRecord, boundsOf, makeRange, moveBounds, readStorePages } from './read-pages.js';
import type { RecordCheck, VersionValidation } from './validation.js';
import type { StoreName, StoreRecords, UntypedRecord, UntypedRecords } from '../plan/schema-types.js';

/** Return it from a {@link RecordVisitor} to leave the record as it is: nothing is written. */
export const unchanged: unique symbol = Symbol('idb-evolve.unchanged');
/** Return it from a {@link RecordVisitor} to delete the record. */
export const remove: unique symbol = Symbol('idb-evolve.remove');

/** What a record visitor returns: the record to store, {@link unchanged}, or {@link remove}. */
export type VisitResult<T> = T | typeof unchanged | typeof remove;

/** Keys of the record a {@link RecordVisitor} is looking at. */
export interface RecordInfo {
  /** The record's primary key. */
  readonly primaryKey: IDBValidKey;
  /** The key the walk is ordered by: the index key on index walks, else the primary key. */
  readonly key: IDBValidKey;
}

/**
 * Called once per record of a walk. Return the record to write (the same object, changed in place, is fine),
 * {@link unchanged} to skip the write, or {@link remove} to delete the record. Returning `undefined` is an
 * error: it is almost always a forgotten `return`. `T` is the record as read, `To` as written: a visitor may change
 * a record's shape (a migration usually does).
 */
export type RecordVisitor<T, To = T> = (value: T, record: RecordInfo) => VisitResult<To> | Promise<VisitResult<To>>;

/** Which records a walk visits, and how many it reads at a time. */
export interface WalkOptions {
  /** Walk this index instead of the primary key order. */
  readonly index?: string;
  /** Only keys in this range (or equal to this key). */
  readonly range?: IDBKeyRange | IDBValidKey;
  /** `next` (default) or `prev`. */
  readonly direction?: 'next' | 'prev';
  /** Records read per batch (default 1000); memory use is bounded by it, not by the store's size. */
  readonly batchSize?: number;
}

/** Counts of one walk. */
export interface WalkResult {
  readonly visited: number;
  readonly updated: number;
  readonly deleted: number;
}

/**
 * What a store accepts: its record type, or anything when that type is the untyped fallback (a store without a
 * validator may hold any value, and the plan cannot say which).
 */
export type Writable<T> = UntypedRecord extends T ? unknown : T;

/**
 * A store as a migration step sees it: promise-returning reads and writes inside the upgrade transaction, and
 * {@link StepStore.walk} for cursor-style passes over many records. Every failure aborts the whole upgrade; the
 * version's validator for the store checks every record as the version leaves it, once all its steps have run.
 */
export interface StepStore<T = UntypedRecord> {
  readonly name: string;
  /** The store's in-line key path, or null for out-of-line keys. */
  readonly keyPath: KeyPath | null;
  get(query: IDBValidKey | IDBKeyRange): Promise<T | undefined>;
  getAll(query?: IDBValidKey | IDBKeyRange | null, count?: number): Promise<T[]>;
  count(query?: IDBValidKey | IDBKeyRange | null): Promise<number>;
  /** Writes a record; pass `key` only for out-of-line keys. */
  put(value: Writable<T>, key?: IDBValidKey): Promise<IDBValidKey>;
  /** Adds a record; fails, and aborts the upgrade, when the key exists. */
  add(value: Writable<T>, key?: IDBValidKey): Promise<IDBValidKey>;
  delete(query: IDBValidKey | IDBKeyRange): Promise<void>;
  clear(): Promise<void>;
  /**
   * Visits records in key order with cursor semantics, reading them in batches and writing the visitor's results
   * with plain puts and deletes (never `cursor.update`, which is many times slower). Changing a record's primary key
   * is refused: use `rebuildStore`.
   */
  walk<To = T>(visitor: RecordVisitor<T, To>, options?: WalkOptions): Promise<WalkResult>;
}

/**
 * What a migration step gets: the versions involved and the stores it declared. `Records` maps the store names the
 * step may use to their record types; inside `definePlan` it is the step's version's, so a store name the version
 * does not have is a compile error.
 */
export interface StepContext<Records extends StoreRecords = UntypedRecords> {
  /** The version this step belongs to. */
  readonly version: number;
  /** The version the database had when it was opened (0 for a fresh database). */
  readonly oldVersion: number;
  /** The version the upgrade ends at. */
  readonly newVersion: number;
  /** True during {@link dryRun}: everything runs, then the upgrade is rolled back. */
  readonly dryRun: boolean;
  /** The raw versionchange transaction, for what {@link StepStore} does not cover; await its requests with {@link StepContext.request}. */
  readonly transaction: IDBTransaction;
  /**
   * The key range class of the IndexedDB implementation the open was given (`options.IDBKeyRange`, else the
   * global): build ranges with it, since a range of another implementation is rejected by the store.
   */
  readonly IDBKeyRange: typeof IDBKeyRange;
  /**
   * A store this step listed in its `stores`, typed with the version's record type; pass `T` to say the record
   * type yourself (for a store the plan has no validator for).
   */
  store<T = never, N extends StoreName<Records> = StoreName<Records>>(
    name: N,
  ): StepStore<[T] extends [never] ? Records[N] : T>;
  /** Awaits a raw request made on {@link StepContext.transaction}; its failure aborts the upgrade. */
  request<T>(request: IDBRequest<T>): Promise<T>;
}

/** What a record-level step runs: see {@link Step.records}. */
export interface RecordLevel {
  readonly store: string;
  readonly visitor: RecordVisitor<any, unknown>;
  /**
   * The step's own `run` that this declaration stands for. A step whose `run` was replaced (`{ ...step, run }`, a
   * wrapper) no longer matches it and runs on its own: the declaration says nothing about the new `run`.
   */
  readonly run: Step['run'];
  /** Records read per batch, as the step asked (the pass takes the first step's). */
  readonly batchSize?: number;
}

/** Moves a store to a new name before the layout is applied. */
export interface RenameStoreStructure {
  readonly kind: 'rename-store';
  readonly from: string;
  readonly to: string;
}

/** Recreates a store whose key path or key generator changes, carrying its records over. */
export interface RebuildStoreStructure {
  readonly kind: 'rebuild-store';
  readonly store: string;
  readonly transform: ((value: any, primaryKey: IDBValidKey) => unknown) | undefined;
}

/**
 * A data step of a version. Build one with the helpers (`renameField`, ...) or write it yourself. The type
 * parameters are for the compiler only: `Records` types the context `run` gets, `Uses` lists the stores a helper
 * was given and `Writes` the record types it writes, both checked by `definePlan` against the step's version.
 */
// `Uses` defaults to `any`, the one type that is both: a plain `Step` must hold any helper's step (a `Step[]` of
// them), and must fit any version (a step built elsewhere, whose store names the compiler cannot know). Only this
// type-level marker is `any`, never a record.
export interface Step<
  Records extends StoreRecords = UntypedRecords,
  Uses extends string = any,
  Writes = Record<never, never>,
> {
  /** Unique within its version; errors and reports name it. */
  readonly name: string;
  /** Every store the step uses; checked against the layout when the plan is defined and when the step runs. */
  readonly stores: readonly string[];
  /**
   * The work. Await only IndexedDB requests (through the context): anything else aborts the upgrade. (A method,
   * so that a step typed for one version's records still counts as a plain `Step`.)
   */
  run(context: StepContext<Records>): void | Promise<void>;
  /** Set by `renameStore` and `rebuildStore`, which change the layout itself. */
  readonly structure?: RenameStoreStructure | RebuildStoreStructure;
  /**
   * Declares the step record-level: all it does is run `visitor` over every record of `store` in key order, each
   * record on its own (set by `updateRecords` and the field helpers without `index` or `range`). Consecutive
   * record-level steps on a store, within a version and across the pending versions of one open, then run as one
   * pass that applies each visitor in turn to each record. A visitor that returns `unchanged` must have left the
   * record as it was: the next visitor of the pass sees the same object.
   */
  readonly records?: RecordLevel;
  /**
   * What the step does, for its fingerprint in the schema history: the step helpers record their arguments and
   * the source of the functions they were given, which `run` (a closure) does not show.
   */
  readonly source?: string;
  /** Type-level only, never set: the stores a helper names, checked against its version's. */
  readonly '~uses'?: Uses;
  /** Type-level only, never set: record types a helper writes, by store. */
  readonly '~writes'?: Writes;
}

/** Counts a step accumulates over all its stores. */
export interface StepCounters {
  visited: number;
  updated: number;
  deleted: number;
  written: number;
}

/** How progress is reported from inside walks. */
export type WalkProgress = (store: string, done: number, total: number) => void;

/** Everything a step store needs from the running upgrade. */
export interface StepStoreScope {
  readonly guard: TransactionGuard;
  readonly factory: IDBFactory;
  readonly keyRange: typeof IDBKeyRange;
  /** The version's validation, told of every write so that it checks each record's state at the version's end. */
  readonly validation: VersionValidation;
  /** The running step's position in its version. */
  readonly stepIndex: number;
  readonly counters: StepCounters;
  readonly progress: WalkProgress | undefined;
}

const DEFAULT_BATCH = 1000;

/**
 * Calls a visitor on one record, for walks and fused passes alike: its throw or rejection fails the upgrade at
 * `context`, and so does `undefined` (almost always a forgotten `return`). A synchronous visitor's answer is
 * returned as it is: a promise per record costs a microtask, and the walk awaits only what is a promise.
 */
export function visitRecord(
  guard: TransactionGuard,
  visitor: RecordVisitor<any, unknown>,
  value: unknown,
  record: RecordInfo,
  context: ErrorContext,
): VisitResult<unknown> | Promise<VisitResult<unknown>> {
  let returned: VisitResult<unknown> | PromiseLike<VisitResult<unknown>>;
  try {
    returned = visitor(value, record);
  } catch (error) {
    throw guard.fail(error, context);
  }
  if (isThenable<VisitResult<unknown>>(returned)) return settleVisit(guard, returned, context);
  return checkVisit(guard, returned, context);
}

async function settleVisit(
  guard: TransactionGuard,
  returned: PromiseLike<VisitResult<unknown>>,
  context: ErrorContext,
): Promise<VisitResult<unknown>> {
  let result: VisitResult<unknown>;
  try {
    result = await returned;
  } catch (error) {
    throw guard.fail(error, context);
  }
  return checkVisit(guard, result, context);
}

function checkVisit(
  guard: TransactionGuard,
  result: VisitResult<unknown>,
  context: ErrorContext,
): VisitResult<unknown> {
  guard.throwIfFailed();
  if (result === undefined) {
    throw guard.failWith(
      'invalid_step_result',
      'The record visitor returned undefined: return the record, `unchanged` or `remove`',
      context,
    );
  }
  return result;
}

/** Fails the upgrade when a visitor's record no longer has its primary key: a walk never re-keys a record. */
export function checkKeyKept(
  guard: TransactionGuard,
  factory: IDBFactory,
  keyPath: KeyPath | null,
  result: unknown,
  primaryKey: IDBValidKey,
  context: ErrorContext,
): void {
  if (keyPath === null) return;
  const newKey = evaluateKeyPath(result, keyPath);
  // The same number or string is the same key: no need to ask the engine (two cmp calls per record).
  if (newKey === primaryKey && (typeof newKey === 'number' || typeof newKey === 'string')) return;
  if (isValidKey(factory, newKey) && factory.cmp(newKey, primaryKey) === 0) return;
  throw guard.failWith(
    'key_changed',
    'The record visitor changed the primary key; that would duplicate the record. Use rebuildStore to re-key a store',
    context,
  );
}

/**
 * The {@link StepStore} implementation: one per store and step, bound to the upgrade's guard so that every
 * request is tracked and every failure is reported with store and key.
 */
export class UpgradeStore<T = UntypedRecord> implements StepStore<T> {
  /** The store's name as the plan knows it, used in errors and progress. */
  readonly name: string;
  readonly keyPath: KeyPath | null;
  #scope: StepStoreScope;
  #storeName: string;

  /** `storeName` is the store to open when it differs from its plan name (a store set aside for a rebuild). */
  constructor(name: string, scope: StepStoreScope, storeName: string = name) {
    this.name = name;
    this.#scope = scope;
    this.#storeName = storeName;
    this.keyPath = scope.guard.call(() => this.#store().keyPath, { store: name });
  }

  #store(): IDBObjectStore {
    return this.#scope.guard.transaction.objectStore(this.#storeName);
  }

  /** Makes a request on the store and awaits it; its failure aborts the upgrade, reported with `context`. */
  #request<R>(
    make: (store: IDBObjectStore) => IDBRequest<R>,
    context: ErrorContext = { store: this.name },
    explain?: ExplainCollision,
  ): Promise<R> {
    const { guard } = this.#scope;
    return guard.request(
      guard.call(() => make(this.#store()), context),
      context,
      explain,
    );
  }

  get(query: IDBValidKey | IDBKeyRange): Promise<T | undefined> {
    return this.#request((store) => store.get(query));
  }

  getAll(query?: IDBValidKey | IDBKeyRange | null, count?: number): Promise<T[]> {
    return this.#request((store) => store.getAll(query ?? null, count));
  }

  count(query?: IDBValidKey | IDBKeyRange | null): Promise<number> {
    return this.#request((store) => store.count(query ?? undefined));
  }

  put(value: Writable<T>, key?: IDBValidKey): Promise<IDBValidKey> {
    return this.#write('put', value, key);
  }

  add(value: Writable<T>, key?: IDBValidKey): Promise<IDBValidKey> {
    return this.#write('add', value, key);
  }

  /** `add` of a record its caller validated as the version's end state (a rebuild's final pass): not followed. */
  addChecked(value: unknown, key?: IDBValidKey): Promise<IDBValidKey> {
    return this.#write('add', value, key, false);
  }

  async #write(
    method: 'put' | 'add',
    value: unknown,
    key: IDBValidKey | undefined,
    follow = true,
  ): Promise<IDBValidKey> {
    const recordKey =
      key ?? (this.keyPath === null ? undefined : (evaluateKeyPath(value, this.keyPath) as IDBValidKey));
    const context = recordKey === undefined ? { store: this.name } : { store: this.name, key: recordKey };
    const written = this.#request(
      (store) => (key === undefined ? store[method](value) : store[method](value, key)),
      context,
      explainWrite(this.#scope.factory, this.#store(), this.name, method, value, recordKey),
    );
    this.#scope.counters.written++;
    if (follow) this.#follow(recordKey, written);
    return written;
  }

  /** Tells the version's validation of a write; a generated key is known once the write is done. */
  #follow(key: IDBValidKey | undefined, written: Promise<IDBValidKey>): void {
    const { validation } = this.#scope;
    validation.wrote(this.name, key ?? null);
    if (key === undefined)
      void written.then(
        (generated) => validation.wrote(this.name, generated),
        () => {},
      );
  }

  delete(query: IDBValidKey | IDBKeyRange): Promise<void> {
    return this.#request((store) => store.delete(query));
  }

  clear(): Promise<void> {
    return this.#request((store) => store.clear());
  }

  async walk<To = T>(visitor: RecordVisitor<T, To>, options: WalkOptions = {}): Promise<WalkResult> {
    const { guard, keyRange, progress } = this.#scope;
    const { index, direction = 'next', batchSize = DEFAULT_BATCH } = options;
    const context = { store: this.name };
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      throw guard.failWith('step_failed', `walk batchSize must be a positive integer, got ${batchSize}`, context);
    }
    if (direction !== 'next' && direction !== 'prev') {
      throw guard.failWith('step_failed', `walk direction must be "next" or "prev", got ${String(direction)}`, context);
    }
    const query =
      options.range === undefined || options.range instanceof keyRange
        ? (options.range ?? null)
        : guard.call(() => keyRange.only(options.range), context);
    const store = this.#store();
    const source = index === undefined ? store : guard.call(() => store.index(index), context);
    const total = progress === undefined ? undefined : await guard.request(source.count(query ?? undefined), context);
    if (total !== undefined) progress?.(this.name, 0, total);
    const counts = { visited: 0, updated: 0, deleted: 0 };
    // Index walks see the live index: a record rewritten to an index key ahead of the cursor would come again.
    const tracking: IndexTracking | undefined =
      index === undefined || (source as IDBIndex).multiEntry
        ? undefined
        : { keyPath: (source as IDBIndex).keyPath, direction, moved: new Set() };
    // A walk over the whole store by the version's last step to use it validates as it goes: what it leaves is the
    // store's state at the version's end.
    // (Not a store set aside for a rebuild: its records are not the version's.)
    const final =
      index === undefined && options.range === undefined && this.#storeName === this.name
        ? this.#scope.validation.finalPass(this.name, this.#scope.stepIndex)
        : undefined;
    const onBatch = async (batch: readonly BatchRecord[]): Promise<void> => {
      await this.#applyBatch(batch, visitor, counts, tracking, final);
      if (total !== undefined) progress?.(this.name, Math.min(counts.visited, total), total);
    };
    const hasGetAllRecords = typeof (store as { getAllRecords?: unknown }).getAllRecords === 'function';
    if (index === undefined && (direction === 'next' || hasGetAllRecords)) {
      await readStorePages({
        guard,
        keyRange,
        factory: this.#scope.factory,
        store,
        query,
        direction,
        batchSize,
        onPage: onBatch,
        context,
      });
    } else {
      await this.#walkCursor(source, query, direction, batchSize, onBatch, tracking);
    }
    // A phase ends at its total: records the visitors deleted or moved ahead of the walk are not counted twice.
    if (total !== undefined && counts.visited !== total) progress?.(this.name, total, total);
    final?.done();
    return counts;
  }

  /**
   * Index and backward walks: a cursor reads one batch with `continue()` alone (keeping the engine's read-ahead);
   * after the batch's writes, a new cursor starts right after the last record read. Continuing the old cursor over
   * records the batch rewrote is not reliable: WebKit revisits records of the current index key.
   */
  async #walkCursor(
    source: IDBObjectStore | IDBIndex,
    query: IDBKeyRange | null,
    direction: 'next' | 'prev',
    batchSize: number,
    onBatch: (batch: readonly BatchRecord[]) => Promise<void>,
    tracking: IndexTracking | undefined,
  ): Promise<void> {
    const { guard, keyRange, factory } = this.#scope;
    const context = { store: this.name };
    const isIndex = source instanceof Object && 'multiEntry' in source;
    const bounds = boundsOf(query);
    let position: BatchRecord | undefined;
    for (;;) {
      // Start at the last record read: inclusive for an index (other records may share its key), exclusive for a store.
      if (position !== undefined && !moveBounds(factory, bounds, direction, position.key, !isIndex)) return;
      const page = guard.call(() => makeRange(keyRange, bounds), context);
      const request = guard.call(() => source.openCursor(page, direction), context);
      let cursor = await guard.request(request, context);
      if (cursor !== null && position !== undefined && isIndex) {
        // Skip the records sharing the last index key up to and including the last one read. continuePrimaryKey
        // only moves forward (in the walk's direction), so use it only while the cursor is still before that record.
        const last = position;
        const sign = direction === 'next' ? 1 : -1;
        const before = (c: IDBCursor): boolean =>
          factory.cmp(c.key, last.key) === 0 && sign * factory.cmp(c.primaryKey, last.primaryKey) < 0;
        if (before(cursor)) {
          const open = cursor;
          guard.call(() => open.continuePrimaryKey(last.key, last.primaryKey), context);
          cursor = await guard.request(request, context);
        }
        if (
          cursor !== null &&
          factory.cmp(cursor.key, last.key) === 0 &&
          factory.cmp(cursor.primaryKey, last.primaryKey) === 0
        ) {
          const same = cursor;
          guard.call(() => same.continue(), context);
          cursor = await guard.request(request, context);
        }
      }
      const batch: BatchRecord[] = [];
      while (cursor !== null) {
        const moved = tracking?.moved.size ? keyId(cursor.primaryKey) : undefined;
        // A record this walk rewrote to a key ahead of where it was: already visited.
        if (moved === undefined || !tracking!.moved.delete(moved)) {
          batch.push({ key: cursor.key, primaryKey: cursor.primaryKey, value: cursor.value });
          if (batch.length === batchSize) break;
        }
        const current = cursor;
        guard.call(() => current.continue(), context);
        cursor = await guard.request(request, context);
      }
      if (batch.length > 0) await onBatch(batch);
      if (cursor === null) return;
      position = batch[batch.length - 1];
    }
  }

  async #applyBatch(
    batch: readonly BatchRecord[],
    visitor: RecordVisitor<T, unknown>,
    counts: { visited: number; updated: number; deleted: number },
    tracking: IndexTracking | undefined,
    final: RecordCheck | undefined,
  ): Promise<void> {
    const { guard, counters, factory, validation } = this.#scope;
    const last = batch[batch.length - 1];
    const store = this.#store();
    const keyPath = this.keyPath;
    for (const record of batch) {
      const context = { store: this.name, key: record.primaryKey };
      const visited = visitRecord(guard, visitor, record.value, record, context);
      const result = visited instanceof Promise ? await visited : visited;
      counts.visited++;
      counters.visited++;
      if (result === unchanged) {
        const verdict = final?.check(record.value, record.primaryKey, false);
        if (verdict !== undefined) await verdict;
        continue;
      }
      if (result === remove) {
        guard.write(store.delete(record.primaryKey), context);
        counts.deleted++;
        counters.deleted++;
        continue;
      }
      checkKeyKept(guard, factory, keyPath, result, record.primaryKey, context);
      if (final === undefined) validation.wrote(this.name, record.primaryKey);
      else {
        const verdict = final.check(result, record.primaryKey, true);
        if (verdict !== undefined) await verdict;
      }
      guard.write(
        guard.call(() => (keyPath === null ? store.put(result, record.primaryKey) : store.put(result)), context),
        context,
        explainWrite(factory, store, this.name, 'put', result, record.primaryKey),
      );
      counts.updated++;
      counters.updated++;
      if (
        tracking !== undefined &&
        last !== undefined &&
        movesAhead(factory, tracking, evaluateKeyPath(result, tracking.keyPath), record.primaryKey, last)
      ) {
        tracking.moved.add(keyId(record.primaryKey));
      }
    }
  }
}

/** Records an index walk rewrote to a position the cursor has yet to reach, by {@link keyId}. */
interface IndexTracking {
  readonly keyPath: KeyPath;
  readonly direction: 'next' | 'prev';
  readonly moved: Set<string>;
}

/** True when (indexKey, primaryKey) sorts after the cursor's position in the walk's direction. */
function movesAhead(
  factory: IDBFactory,
  tracking: IndexTracking,
  indexKey: unknown,
  primaryKey: IDBValidKey,
  position: BatchRecord,
): boolean {
  let order: number;
  try {
    order = factory.cmp(indexKey as IDBValidKey, position.key) || factory.cmp(primaryKey, position.primaryKey);
  } catch {
    return false; // Not a valid key: the record leaves the index.
  }
  return tracking.direction === 'next' ? order > 0 : order < 0;
}
