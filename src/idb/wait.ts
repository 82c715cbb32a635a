import { OpenError, type WaitedOn } from '../errors.js';
import type { Progress } from '../progress.js';

/** Passed to `onBlocked`: other connections keep the database open at `oldVersion`; the call waits for them. */
export interface BlockedInfo {
  readonly oldVersion: number;
  /** The version asked for; null when the database is being deleted. */
  readonly newVersion: number | null;
}

/**
 * What another open of the same database (another call of this app, a tab, a worker, the service worker) tells a
 * call waiting for it: that it waits (`waiting`), that an upgrade started there, its progress (the same
 * {@link Progress} as `onProgress`), and how it finished. The waiting call then opens the upgraded database
 * without running anything.
 */
export type UpgradeElsewhere =
  | { readonly type: 'waiting' }
  | { readonly type: 'started'; readonly oldVersion: number; readonly newVersion: number; readonly dryRun: boolean }
  | { readonly type: 'progress'; readonly progress: Progress }
  | { readonly type: 'finished'; readonly ok: boolean; readonly version: number; readonly code?: string };

/** How a call waits: the same options on every call that opens, upgrades, restores or deletes. */
export interface BlockedOptions {
  /** Called when other connections keep the database open; the call waits for them to close. */
  readonly onBlocked?: (info: BlockedInfo) => void;
  /**
   * Milliseconds the call may wait, counted from the call, for the database to be free: other connections open
   * (`blocked`), an earlier request of this app still queued, another tab's or worker's upgrade (the clock restarts
   * at each progress report from it). Default 60000; `Infinity` waits as long as IndexedDB does. Past it the call
   * rejects with `OpenError('blocked')` naming what it waited on, and never changes the database later, even when
   * the others do finish.
   */
  readonly blockedTimeout?: number;
}

/** The default of {@link BlockedOptions.blockedTimeout}: bounded, and long enough to close another tab by hand. */
export const DEFAULT_BLOCKED_TIMEOUT = 60_000;

/** Where a {@link Wait} hears about other opens of its database, and whom it tells. */
export interface WaitListener {
  readonly channel: string;
  readonly onUpgradeElsewhere: ((event: UpgradeElsewhere) => void) | undefined;
}

/**
 * The bounded wait of one call, from the call until its request starts its upgrade or settles: one timer that any
 * progress heard from elsewhere restarts, the thing waited on for the error, and the news from other opens.
 */
export class Wait {
  readonly #name: string;
  readonly #options: BlockedOptions;
  readonly #gaveUp: string;
  readonly #timeout: number;
  readonly #controller = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #on: WaitedOn = 'unknown';
  #blocked: BlockedInfo | undefined;
  #over = false;
  #channel: BroadcastChannel | undefined;
  #reject: (error: OpenError) => void = () => {};
  #unfinished = false;
  /** Rejects with the `blocked` error when the time is up; never resolves. */
  readonly expired: Promise<never>;

  /** `gaveUp` says what did not happen, for the error ("the upgrade did not run"). */
  constructor(name: string, options: BlockedOptions, gaveUp: string, listener?: WaitListener) {
    this.#name = name;
    this.#options = options;
    this.#gaveUp = gaveUp;
    this.#timeout = options.blockedTimeout ?? DEFAULT_BLOCKED_TIMEOUT;
    this.expired = new Promise<never>((_, reject) => {
      this.#reject = reject;
    });
    this.expired.catch(() => {});
    if (listener !== undefined) this.#listen(listener);
    this.#arm();
  }

  /** Aborted when the time is up: for waits that take a signal (a Web Lock request). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * True when an upgrade elsewhere was heard starting but not finishing: its `finished` news and the lock it
   * released race, and the lock may come first. The open then tells `finished` itself, from what it found.
   */
  get unfinished(): boolean {
    return this.#unfinished;
  }

  /** True once the call gave up: its request, if still pending, must change nothing. */
  get gaveUp(): boolean {
    return this.#controller.signal.aborted;
  }

  /** Says what the call waits on now, for the error if it gives up. */
  waitingOn(what: WaitedOn): void {
    this.#on = what;
  }

  /** The request got `blocked`: other connections are open. */
  blocked(info: BlockedInfo): void {
    this.#on = 'connection';
    this.#blocked = info;
    this.#options.onBlocked?.(info);
  }

  /** The wait is over: the request started its upgrade, or settled. */
  end(): void {
    this.#over = true;
    clearTimeout(this.#timer);
    this.#channel?.close();
  }

  /** `work`, unless the time is up first. */
  race<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.expired]);
  }

  #arm(): void {
    clearTimeout(this.#timer);
    if (this.#over || this.gaveUp || this.#timeout === Number.POSITIVE_INFINITY) return;
    this.#timer = setTimeout(() => this.#expire(), this.#timeout);
  }

  #expire(): void {
    this.#controller.abort();
    this.end();
    this.#reject(this.#error());
  }

  #listen({ channel, onUpgradeElsewhere }: WaitListener): void {
    if (typeof BroadcastChannel !== 'function') return;
    this.#channel = new BroadcastChannel(channel);
    this.#channel.onmessage = (event: MessageEvent<UpgradeElsewhere>) => {
      if (this.#over) return;
      if (event.data.type === 'started') this.#unfinished = true;
      if (event.data.type === 'finished') this.#unfinished = false;
      // Another open making progress is not a hang: the clock starts again.
      this.#arm();
      onUpgradeElsewhere?.(event.data);
    };
  }

  #error(): OpenError {
    const ms = `${this.#timeout} ms`;
    const name = `"${this.#name}"`;
    const blocked = this.#blocked;
    const reasons: Record<WaitedOn, string> = {
      connection: `Other connections kept ${name} open at version ${blocked?.oldVersion} for ${ms}`,
      'queued-request': `An earlier request of this app for ${name} was still pending after ${ms} (it waits for other connections to close)`,
      'other-context': `Another tab, worker or service worker held the upgrade of ${name} for ${ms} without progress`,
      unknown: `${name} did not answer within ${ms}: an open of another tab or worker is queued ahead of this one, or holds it`,
    };
    return new OpenError('blocked', `${reasons[this.#on]}; ${this.#gaveUp}`, {
      waitedOn: this.#on,
      ...(blocked === undefined ? {} : { oldVersion: blocked.oldVersion }),
      ...(blocked?.newVersion == null ? {} : { newVersion: blocked.newVersion }),
    });
  }
}
