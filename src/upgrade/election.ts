// One upgrader per database across tabs, workers and the service worker: a Web Lock elects it, a BroadcastChannel
// carries its news to the others, who wait on the lock and then open the upgraded database without running anything.
import { asLockHolder, joinQueue } from '../idb/request.js';
import { type BlockedOptions, type UpgradeElsewhere, Wait, type WaitListener } from '../idb/wait.js';

const ids = new WeakMap<IDBFactory, string>();

/**
 * Names the IndexedDB a lock or channel is about: `global` for the browser's own (shared by every context of the
 * origin), a random id per injected factory (fake-indexeddb instances are separate worlds).
 */
function factoryId(factory: IDBFactory): string {
  if (factory === (globalThis as { indexedDB?: IDBFactory }).indexedDB) return 'global';
  let id = ids.get(factory);
  if (id === undefined) ids.set(factory, (id = Math.random().toString(36).slice(2)));
  return id;
}

/** The BroadcastChannel name of a database's upgrade news. */
export function newsChannel(factory: IDBFactory, name: string): string {
  return `idb-evolve:news:${factoryId(factory)}:${name}`;
}

interface Locks {
  request(
    name: string,
    options: { ifAvailable?: boolean; signal?: AbortSignal },
    hold: (lock: unknown) => unknown,
  ): Promise<unknown>;
}

/**
 * The `acquire` step of an open with a plan: takes the database's upgrade lock, waiting (as `other-context`, with a
 * `waiting` event) while another context holds it; resolves with its release, called once the request settled.
 * Where Web Locks do not exist (Node, old engines) it is a lock of this realm only.
 */
export function upgradeLock(
  factory: IDBFactory,
  name: string,
  tell: ((event: UpgradeElsewhere) => void) | undefined,
): (wait: Wait) => Promise<() => void> {
  return (wait) => {
    const locks = (globalThis as { navigator?: { locks?: Locks } }).navigator?.locks;
    const lockName = `idb-evolve:upgrade:${factoryId(factory)}:${name}`;
    if (locks === undefined) return realmLock(lockName, wait);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    return new Promise<() => void>((resolve, reject) => {
      const hold = (lock: unknown): unknown => {
        if (lock === null) return false;
        // Granted after the call gave up: let it go at once.
        if (wait.gaveUp) return undefined;
        resolve(release);
        // A context that dies releases it: the next one takes over, and its upgrade starts again from the start.
        return held;
      };
      locks.request(lockName, { ifAvailable: true }, hold).then((free) => {
        if (free !== false) return;
        wait.waitingOn('other-context');
        tell?.({ type: 'waiting' });
        locks.request(lockName, { signal: wait.signal }, hold).catch(reject);
      }, reject);
    });
  };
}

// Where Web Locks are missing (Node, old engines), the lock still orders the calls of this realm.
const realmLocks = new Map<string, Promise<void>>();

function realmLock(lockName: string, wait: Wait): Promise<() => void> {
  const turn = joinQueue(realmLocks, lockName);
  if (turn.queued) wait.waitingOn('queued-request');
  return turn.ready.then(() => {
    // Its turn came after the call gave up: pass it on at once.
    if (wait.gaveUp) turn.leave();
    return turn.leave;
  });
}

/**
 * Runs `work` holding the database's upgrade lock, for work made of several requests that no other context's open
 * may come between (a restore deletes, then recreates the database). The wait for the lock is bounded like any; with
 * a `listener`, news from the context holding it restarts the clock.
 */
export async function withUpgradeLock<T>(
  factory: IDBFactory,
  name: string,
  options: BlockedOptions,
  gaveUp: string,
  work: () => Promise<T>,
  listener?: WaitListener,
): Promise<T> {
  const wait = new Wait(name, options, gaveUp, listener);
  let release: () => void;
  try {
    release = await wait.race(upgradeLock(factory, name, undefined)(wait));
  } finally {
    wait.end();
  }
  try {
    return await asLockHolder(factory, name, work);
  } finally {
    release();
  }
}

/** Posts an upgrade's news to the other opens of its database; a no-op where BroadcastChannel does not exist. */
export class UpgradeNews {
  readonly #channel: BroadcastChannel | undefined;

  constructor(factory: IDBFactory, name: string) {
    this.#channel =
      typeof BroadcastChannel === 'function' ? new BroadcastChannel(newsChannel(factory, name)) : undefined;
  }

  post(event: UpgradeElsewhere): void {
    try {
      this.#channel?.postMessage(event);
    } catch {
      // Closed, or a progress event that cannot be cloned: news is best effort, the upgrade is not.
    }
  }

  close(): void {
    this.#channel?.close();
  }
}
