import {
  IdbEvolveError,
  UpgradeError,
  type ErrorContext,
  type UpgradeErrorCode,
  type UpgradeErrorContext,
} from '../errors.js';

/** What a constraint failure collided with: the message and the fields of the error that reports it. */
export interface Collision extends UpgradeErrorContext {
  readonly message: string;
}

/**
 * Looks, in the transaction the failure left active, for what a failed write collided with. Its first request is
 * made synchronously, while the error event is being dispatched; undefined when nothing explains it.
 */
export type ExplainCollision = () => Promise<Collision | undefined>;

/** Where a write nobody awaits was made, for the report should it fail. */
interface PendingWrite {
  readonly position: Position;
  readonly context: ErrorContext;
  readonly explain: ExplainCollision | undefined;
}

/** Where the upgrade is, so that a failure can say so. */
export interface Position {
  version?: number;
  step?: string;
  stepIndex?: number;
}

const AWAIT_HINT =
  'A migration step awaited something that is not an IndexedDB request (a timer, fetch, OPFS, a message). ' +
  'IndexedDB commits the versionchange transaction as soon as it has no pending request, which would have ' +
  'left the database half-migrated, so the upgrade was aborted. Do that work before openDatabase() or after it.';

function codeFor(name: string): UpgradeErrorCode {
  if (name === 'ConstraintError') return 'constraint_violation';
  if (name === 'TransactionInactiveError') return 'transaction_inactive';
  return 'request_failed';
}

/**
 * Keeps a versionchange transaction honest while migration code runs inside it.
 *
 * IndexedDB commits a transaction as soon as no request is pending, so an await on anything but an IndexedDB
 * request (a timer, fetch, OPFS) would commit the upgrade half done, and a step that throws after such an await
 * cannot abort it any more. The guard keeps one cheap request pending at all times, so the transaction cannot
 * commit behind our back, and watches the migration's own requests: when two guard requests in a row complete
 * while the migration waits on none of its requests and has started none, the migration is waiting on something
 * else and the guard aborts with `transaction_inactive`. Work of the library's own that must wait outside
 * IndexedDB (writing a snapshot to OPFS) is declared with {@link TransactionGuard.external}.
 *
 * Every request failure is recorded here too; the first failure of the run wins, so the error that reaches the
 * app names the real cause rather than the AbortError the rollback causes next.
 */
export class TransactionGuard {
  readonly transaction: IDBTransaction;
  /** Where the migration is now; request failures are reported at this position. Replaced, never changed in place. */
  position: Position = {};
  #db: IDBDatabase;
  #keyRange: typeof IDBKeyRange;
  #pending = 0;
  #started = 0;
  #external = 0;
  #suspect = -1;
  #running = false;
  #failure: IdbEvolveError | undefined;
  #onFailure: (error: IdbEvolveError) => void;
  #quiet = false;
  /** A ConstraintError being explained: the transaction is kept (every failed request's abort prevented) until then. */
  #explained: Promise<IdbEvolveError> | undefined;
  /** A request the engine's own abort cut short, before the abort event said why (Firefox orders them so). */
  #cutShort: IdbEvolveError | undefined;
  #waiters: (() => void)[] = [];
  /** Writes that may still fail. Weak: a completed request is collected with its entry, nothing needs pruning. */
  #writes = new WeakMap<EventTarget, PendingWrite>();
  // A keepalive request is in flight. None can be while the database has no store; the first request or layout
  // call of the migration starts one then.
  #ticking = false;

  constructor(
    db: IDBDatabase,
    transaction: IDBTransaction,
    keyRange: typeof IDBKeyRange,
    onFailure: (error: IdbEvolveError) => void,
  ) {
    this.#db = db;
    this.transaction = transaction;
    this.#keyRange = keyRange;
    this.#onFailure = onFailure;
    // IndexedDB can abort on its own with no request of ours failing (a unique index built over duplicates):
    // its reason is only on transaction.error.
    transaction.addEventListener('abort', () => {
      if (this.#failure !== undefined || this.#quiet) return;
      if (transaction.error !== null) this.fail(transaction.error);
      else if (this.#cutShort !== undefined) this.fail(this.#cutShort);
    });
    // A failed write's error event bubbles to its transaction: one listener here, rather than a handler on every
    // write, which costs Firefox ESR about 15 µs of page CPU per put (`node bench/run.mjs --diagnose`, diag-onerror).
    transaction.addEventListener('error', (event) => {
      const request = event.target as IDBRequest;
      const write = this.#writes.get(request);
      if (write !== undefined)
        this.#requestFailed(request, event, { ...write.position, ...write.context }, write.explain);
    });
  }

  /** The first failure of this upgrade, if any. */
  get failure(): IdbEvolveError | undefined {
    return this.#failure;
  }

  /** Starts keeping the transaction alive. */
  start(): void {
    this.#running = true;
    this.#tick();
  }

  /**
   * Rolls the transaction back on purpose (a dry run): writes still pending fail with AbortError, which must not
   * be reported as the upgrade's failure.
   */
  rollBack(): void {
    this.#quiet = true;
    this.#running = false;
    try {
      this.transaction.abort();
    } catch {
      // Already finished.
    }
  }

  /** Stops the keepalive: the transaction may commit once its last request completes. */
  stop(): void {
    this.#running = false;
  }

  /** Starts the keepalive if none is in flight; only ever called where the transaction is active. */
  #ensureTicking(): void {
    if (this.#running && !this.#ticking) this.#tick();
  }

  #tick(): void {
    if (!this.#running) return;
    const names = this.#db.objectStoreNames;
    // Without any store there is nothing to keep a request on, and nothing a step could half-write either.
    if (names.length === 0) return;
    let request: IDBRequest<number>;
    try {
      request = this.transaction.objectStore(names[0]!).count(this.#keyRange.only(-Infinity));
    } catch {
      return; // The transaction is finishing (aborted, or a request of ours is being dispatched as it ends).
    }
    this.#ticking = true;
    // An error (its store was deleted or renamed meanwhile) is as good as a success for keeping alive.
    request.onsuccess = request.onerror = (event) => {
      this.#ticking = false;
      if (event.type === 'error') event.preventDefault();
      // Resumed here, inside IndexedDB's dispatch, their continuations (microtasks) find the transaction active.
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const resume of waiters) resume();
      // Stopped: the work is done and the transaction may commit; nothing is waiting any more. Cut short: the
      // transaction is aborting, and its abort event says why.
      if (!this.#running || request.error?.name === 'AbortError') return;
      this.#check();
      this.#tick();
    };
  }

  #check(): void {
    if (this.#external > 0 || this.#pending > 0) {
      this.#suspect = -1;
      return;
    }
    // Two completed keepalives with no request started in between: the migration awaits something else.
    // One is not enough, because the migration's continuation after its last request may still be queued.
    if (this.#suspect === this.#started) {
      this.failWith('transaction_inactive', AWAIT_HINT);
    } else {
      this.#suspect = this.#started;
    }
  }

  /**
   * Records a failure (first one wins) and aborts the transaction. Returns the error that will be reported.
   */
  fail(error: unknown, context: ErrorContext = {}): IdbEvolveError {
    const at = { ...this.position, ...context };
    if (this.#quiet) return toUpgradeError(error, at);
    const name = (error as { name?: unknown } | null)?.name;
    // The migration rethrowing a request the engine's abort cut short: the abort event, still to come, says why.
    if (this.#failure === undefined && this.#cutShort !== undefined && error === this.#cutShort) return this.#cutShort;
    if (this.#failure === undefined) {
      // Requests cut short by an abort fail with AbortError; the abort's own reason is on transaction.error.
      const reason = name === 'AbortError' && this.transaction.error !== null ? this.transaction.error : error;
      this.#failure = toUpgradeError(reason, at);
      this.#running = false;
      try {
        this.transaction.abort();
      } catch {
        // Already aborted (a failed request's default action) or finished.
      }
      this.#onFailure(this.#failure);
    }
    return this.#failure;
  }

  /**
   * Fails the upgrade with an {@link UpgradeError} at the current position (version, step), with `context` added;
   * returns the error that will be reported, as {@link TransactionGuard.fail} does.
   */
  failWith(code: UpgradeErrorCode, message: string, context: UpgradeErrorContext = {}): IdbEvolveError {
    return this.fail(new UpgradeError(code, message, { ...this.position, ...context }));
  }

  /** Throws the recorded failure, if any: the migration must not go on after one. */
  throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  /**
   * Wraps a request of the migration: counted as awaited IndexedDB work, and its failure aborts the upgrade with
   * the given context.
   */
  request<T>(request: IDBRequest<T>, context: ErrorContext = {}, explain?: ExplainCollision): Promise<T> {
    // Failures arrive later, when the migration may have moved on: report them where the request was made.
    const at = { ...this.position, ...context };
    this.#pending++;
    this.#started++;
    this.#ensureTicking();
    return new Promise<T>((resolve, reject) => {
      request.onsuccess = () => {
        this.#pending--;
        resolve(request.result);
      };
      request.onerror = (event) => {
        this.#pending--;
        const failure = this.#requestFailed(request, event, at, explain);
        if (failure instanceof Promise) void failure.then(reject);
        else reject(failure);
      };
    });
  }

  /**
   * A write whose result nobody awaits: counted as activity, and its failure still aborts the upgrade. `explain`
   * looks for what a ConstraintError collided with, before the abort.
   */
  write(request: IDBRequest, context: ErrorContext = {}, explain?: ExplainCollision): void {
    this.#started++;
    this.#ensureTicking();
    this.#writes.set(request, { position: this.position, context, explain });
  }

  /**
   * A request failed. A ConstraintError with an explanation to look for keeps the transaction (its abort is
   * prevented) while `explain` reads what the write collided with; the upgrade then fails with that, or with the
   * bare error when nothing is found. Requests failing meanwhile are kept from aborting and get that error too.
   */
  #requestFailed(
    request: IDBRequest,
    event: Event,
    at: ErrorContext,
    explain?: ExplainCollision,
  ): IdbEvolveError | Promise<IdbEvolveError> {
    if (this.#explained !== undefined) {
      event.preventDefault();
      return this.#explained;
    }
    const error = request.error;
    if (this.#failure === undefined && error?.name === 'AbortError' && this.transaction.error === null) {
      // Cut short by the engine's abort, whose reason is not known yet: the abort event, next, records it.
      this.#cutShort ??= toUpgradeError(error, at);
      return this.#cutShort;
    }
    if (explain === undefined || error?.name !== 'ConstraintError' || this.#failure !== undefined || this.#quiet) {
      return this.fail(error, at);
    }
    event.preventDefault();
    const bare = toUpgradeError(error, at);
    // Set at once, so that the migration stops at its next check.
    this.#failure = bare;
    this.#explained = explain().then(
      (collision) => {
        this.#failure = undefined;
        if (collision === undefined) return this.fail(bare);
        const { message, ...fields } = collision;
        return this.fail(new UpgradeError('constraint_violation', message, { ...at, ...fields, cause: error }));
      },
      () => {
        this.#failure = undefined;
        return this.fail(bare);
      },
    );
    return this.#explained;
  }

  /** Runs a synchronous IndexedDB call (put, createIndex, ...), turning its throw into the upgrade's failure. */
  call<T>(operation: () => T, context: ErrorContext = {}): T {
    let result: T;
    try {
      result = operation();
    } catch (error) {
      throw this.fail(error, context);
    }
    // The call may have created the first store: keep the transaction alive from now on.
    this.#ensureTicking();
    return result;
  }

  /** Declares library work that legitimately waits outside IndexedDB while the keepalive holds the transaction. */
  async external<T>(work: Promise<T>): Promise<T> {
    this.#external++;
    try {
      return await work;
    } finally {
      this.#external--;
      this.#suspect = -1;
    }
  }

  /**
   * Resolves inside the next keepalive success callback, where the transaction is active again. Await it after
   * {@link TransactionGuard.external} work before issuing requests: continuations of timers, Blob reads and OPFS
   * promises run outside IndexedDB's dispatch, where any request throws TransactionInactiveError.
   */
  reenter(): Promise<void> {
    if (!this.#running) {
      return Promise.reject(
        this.fail(
          new UpgradeError('transaction_inactive', 'The transaction is no longer kept alive; cannot resume work in it'),
        ),
      );
    }
    this.#pending++;
    this.#started++;
    return new Promise<void>((resolve) => {
      this.#waiters.push(() => {
        this.#pending--;
        resolve();
      });
    });
  }
}

// DOMException names IndexedDB (and structured clone) use; fake-indexeddb's errors carry the same names.
const PLATFORM_ERRORS = new Set([
  'AbortError',
  'ConstraintError',
  'DataCloneError',
  'DataError',
  'InvalidAccessError',
  'InvalidStateError',
  'NotFoundError',
  'QuotaExceededError',
  'ReadOnlyError',
  'TimeoutError',
  'TransactionInactiveError',
  'UnknownError',
  'VersionError',
]);

/** Turns anything thrown during an upgrade into an {@link UpgradeError} carrying the position; typed errors pass through. */
export function toUpgradeError(error: unknown, context: ErrorContext): IdbEvolveError {
  // Already typed (an UpgradeError of a step, a SnapshotError of the pre-upgrade snapshot): keep it as it is.
  if (error instanceof IdbEvolveError) return error;
  const name = (error as { name?: unknown } | null)?.name;
  const detail = error instanceof Error ? error.message : String(error);
  const withCause = { ...context, cause: error };
  if (typeof name === 'string' && PLATFORM_ERRORS.has(name)) {
    const code = codeFor(name);
    const message =
      code === 'transaction_inactive'
        ? `IndexedDB refused a request because the transaction was inactive. ${AWAIT_HINT}`
        : `IndexedDB ${name}: ${detail}`;
    return new UpgradeError(code, message, withCause);
  }
  if (context.step !== undefined) return new UpgradeError('step_failed', `Migration step threw: ${detail}`, withCause);
  return new UpgradeError('upgrade_aborted', `Upgrade failed: ${detail}`, withCause);
}
