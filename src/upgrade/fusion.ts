// One pass for consecutive record-level steps: their visitors are queued per store, within a version and across the
// pending versions of one open, and run together the moment anything needs the store's records as they stand.
import type { TransactionGuard } from '../idb/transaction-guard.js';
import type { ProgressCallback } from '../progress.js';
import { readStorePages } from './read-pages.js';
import {
  checkKeyKept,
  type RecordLevel,
  remove,
  type Step,
  type StepCounters,
  unchanged,
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

type Queued = { readonly visit: QueuedVisit } | { readonly check: Check };

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
    queue.push({ visit });
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
        for (const record of page) await this.#apply(objectStore, queue, record.primaryKey, record.value);
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

  /** Runs one record through the queue, then writes it once (or deletes it) if any visitor changed it. */
  async #apply(store: IDBObjectStore, queue: readonly Queued[], primaryKey: IDBValidKey, read: unknown): Promise<void> {
    const { guard, factory } = this.#run;
    const context = { store: store.name, key: primaryKey };
    let value = read;
    let changed = false;
    for (const item of queue) {
      if ('check' in item) {
        const verdict = item.check(value, primaryKey);
        if (verdict !== undefined) await verdict;
        continue;
      }
      const { visit } = item;
      guard.position = { version: visit.version, step: visit.step.name, stepIndex: visit.stepIndex };
      const info = { primaryKey, key: primaryKey };
      const result = await visitRecord(guard, visit.records.visitor, value, info, context);
      visit.counters.visited++;
      if (result === unchanged) continue;
      if (result === remove) {
        visit.counters.deleted++;
        guard.write(store.delete(primaryKey), context);
        return;
      }
      checkKeyKept(guard, factory, store.keyPath, result, primaryKey, context);
      visit.counters.updated++;
      value = result;
      changed = true;
    }
    if (!changed) return;
    const stored = value;
    guard.write(
      guard.call(() => (store.keyPath === null ? store.put(stored, primaryKey) : store.put(stored)), context),
      context,
    );
  }
}
