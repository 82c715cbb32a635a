// One pass for consecutive record-level steps: their visitors are queued per store, within a version and across the
// pending versions of one open, and run together the moment anything needs the store's records as they stand.
import type { Position, TransactionGuard } from '../idb/transaction-guard.js';
import type { ProgressCallback } from '../progress.js';
import { readStorePages } from './read-pages.js';
import {
  checkKeyKept,
  type RecordInfo,
  type RecordLevel,
  remove,
  type Step,
  type StepCounters,
  unchanged,
  type VisitResult,
  visitRecord,
} from './step-store.js';

/** A queued visitor: the step it stands for, and the counters its report shows. */
export interface QueuedVisit {
  readonly version: number;
  readonly step: Step;
  readonly stepIndex: number;
  readonly records: RecordLevel;
  readonly counters: StepCounters;
  /** Called once the pass ran, with the step's share of its time. */
  readonly done: (ms: number) => void;
}

/** A version's validator, checked in the pass at the point where that version ends. */
type Check = (value: unknown, key: IDBValidKey) => Promise<void> | undefined;

/** A queued visitor with the position its failures are reported at (made once, not per record). */
interface QueuedStep {
  readonly visit: QueuedVisit;
  readonly position: Position;
}

type Queued = QueuedStep | { readonly check: Check };

/** Everything a pass needs from the running upgrade. */
export interface FusionRun {
  readonly guard: TransactionGuard;
  readonly factory: IDBFactory;
  readonly keyRange: typeof IDBKeyRange;
  readonly onProgress: ProgressCallback | undefined;
}

const now = (): number => (typeof performance === 'undefined' ? Date.now() : performance.now());

/**
 * The queued passes of one upgrade, by store. The result equals running every step on its own: visitors see each
 * record in key order, one after the other, exactly as separate walks would have left it; a removed record ends its
 * chain; `unchanged` from every visitor means no write. Stores with a unique index are never queued (an index
 * check between two steps is a state of its own), nor are versions that validate written records only.
 */
export class Fusion {
  readonly #run: FusionRun;
  readonly #queues = new Map<string, Queued[]>();

  constructor(run: FusionRun) {
    this.#run = run;
  }

  /** True when `store` has visitors waiting. */
  pending(store: string): boolean {
    return this.#queues.has(store);
  }

  /** Queues a record-level step's visitor on its store. */
  queue(visit: QueuedVisit): void {
    const { store } = visit.records;
    const queue = this.#queues.get(store) ?? [];
    const position = { version: visit.version, step: visit.step.name, stepIndex: visit.stepIndex };
    queue.push({ visit, position });
    this.#queues.set(store, queue);
  }

  /** Queues a validator where a version ends, for a store with visitors waiting (see {@link pending}). */
  check(store: string, check: Check): void {
    this.#queues.get(store)?.push({ check });
  }

  /** Runs the waiting pass of each of `stores` (every store when omitted). */
  async flush(stores?: Iterable<string>): Promise<void> {
    const { guard } = this.#run;
    // Where the upgrade is stays as it was: a pass reports failures at its visitors' steps, only while it runs.
    const position = guard.position;
    for (const store of Array.from(stores ?? this.#queues.keys())) {
      const queue = this.#queues.get(store);
      if (queue === undefined) continue;
      this.#queues.delete(store);
      await this.#pass(store, queue);
    }
    guard.position = position;
  }

  async #pass(store: string, queue: readonly Queued[]): Promise<void> {
    const started = now();
    const { guard, keyRange, factory, onProgress } = this.#run;
    const visits = queue.flatMap((item) => ('visit' in item ? [item.visit] : []));
    const context = { store };
    const objectStore = guard.call(() => guard.transaction.objectStore(store), context);
    const total = onProgress === undefined ? 0 : await guard.request(objectStore.count(), context);
    let done = 0;
    const report = (): void => {
      for (const v of visits) {
        const position = { version: v.version, step: v.step.name, stepIndex: v.stepIndex, store };
        onProgress?.({ phase: 'step', unit: 'records', ...position, done: Math.min(done, total), total });
      }
    };
    report();
    const target: PassStore = { objectStore, keyPath: objectStore.keyPath };
    await readStorePages({
      guard,
      keyRange,
      factory,
      store: objectStore,
      query: null,
      direction: 'next',
      batchSize: visits[0]?.records.batchSize ?? 1000,
      context,
      onPage: async (page) => {
        for (const { primaryKey, value } of page) {
          const pending = this.#apply(target, queue, recordState(store, primaryKey, value));
          if (pending !== undefined) await pending;
        }
        done += page.length;
        report();
      },
    });
    if (done !== total) {
      done = total;
      report();
    }
    const share = (now() - started) / Math.max(1, visits.length);
    for (const v of visits) v.done(share);
  }

  /**
   * Runs one record through the queue from `from`, then writes it once (or deletes it) if any visitor changed it.
   * Synchronous while every visitor and validator answers synchronously: a promise only where one of them returns one.
   */
  #apply(store: PassStore, queue: readonly Queued[], record: RecordState, from = 0): Promise<void> | undefined {
    // A removed record ends its chain: no later visitor or validator sees it, and nothing is put.
    for (let i = from; i < queue.length && !record.removed; i++) {
      const item = queue[i]!;
      const pending = 'check' in item ? item.check(record.value, record.primaryKey) : this.#visit(store, item, record);
      if (pending !== undefined) return pending.then(() => this.#apply(store, queue, record, i + 1));
    }
    if (!record.changed || record.removed) return undefined;
    const { guard } = this.#run;
    const { value, primaryKey, context } = record;
    const { objectStore, keyPath } = store;
    guard.write(
      guard.call(() => (keyPath === null ? objectStore.put(value, primaryKey) : objectStore.put(value)), context),
      context,
    );
    return undefined;
  }

  /** One visitor on the record: its result taken now, or once its promise settles. */
  #visit(store: PassStore, item: QueuedStep, record: RecordState): Promise<void> | undefined {
    const { guard } = this.#run;
    guard.position = item.position;
    const result = visitRecord(guard, item.visit.records.visitor, record.value, record.info, record.context);
    if (!(result instanceof Promise)) return this.#take(store, item.visit, record, result);
    return result.then((settled) => this.#take(store, item.visit, record, settled));
  }

  #take(store: PassStore, visit: QueuedVisit, record: RecordState, result: VisitResult<unknown>): undefined {
    const { guard, factory } = this.#run;
    visit.counters.visited++;
    if (result === unchanged) return undefined;
    if (result === remove) {
      visit.counters.deleted++;
      record.removed = true;
      guard.write(store.objectStore.delete(record.primaryKey), record.context);
      return undefined;
    }
    checkKeyKept(guard, factory, store.keyPath, result, record.primaryKey, record.context);
    visit.counters.updated++;
    record.value = result;
    record.changed = true;
    return undefined;
  }
}

/** The store a pass writes, with its key path read once (a property read of the engine's per record otherwise). */
interface PassStore {
  readonly objectStore: IDBObjectStore;
  readonly keyPath: string | string[] | null;
}

/** A record on its way through a pass's queue. */
interface RecordState {
  readonly primaryKey: IDBValidKey;
  readonly info: RecordInfo;
  readonly context: { readonly store: string; readonly key: IDBValidKey };
  value: unknown;
  changed: boolean;
  removed: boolean;
}

function recordState(store: string, primaryKey: IDBValidKey, value: unknown): RecordState {
  const info = { primaryKey, key: primaryKey };
  return { primaryKey, info, context: { store, key: primaryKey }, value, changed: false, removed: false };
}
