// The "keepalive" experiment: can a versionchange transaction stay open while the upgrade code
// awaits non-IndexedDB work (timers, OPFS, fetch)? A cheap request loop keeps the transaction
// busy; the upgrade code never touches the transaction from a timer/OPFS/fetch continuation but
// queues its next request to run inside the next keepalive `success` callback.
// A probe of the platform, not a test of the library: this is a separate, minimal keepalive loop. The library's
// own is TransactionGuard (src/idb/transaction-guard.ts), which the shared suites and
// test/browser/opfs.browser.test.ts exercise in every engine.

export type KeepaliveEnd = 'commit' | 'abort';

/** Transaction state observed right after one awaited non-IDB step. */
export interface StepObservation {
  step: 'timeout' | 'opfs' | 'fetch';
  /** ms since the upgrade started. */
  at: number;
  /** The open request had fired success or error (it must not have). */
  openSettled: boolean;
  /** `complete` / `abort` had fired on the versionchange transaction (it must not have). */
  transactionFinished: 'complete' | 'abort' | null;
  keepaliveRequests: number;
  detail?: string;
}

export interface KeepaliveResult {
  end: KeepaliveEnd;
  steps: StepObservation[];
  /** Error name thrown by a request issued straight from the setTimeout continuation. */
  directCallFromTimer: string;
  /** A request issued right after awaiting a queued request (microtask of its success callback). */
  requestAfterAwaitedRequest: 'ok' | string;
  /** Whether fetch(location.href) worked in the test page. */
  fetchWorked: boolean;
  upgradeError: string | null;
  /** Keepalive round trips completed while the three awaits ran. */
  keepaliveRequests: number;
  /** Duration of the three awaited steps and their queued writes. */
  elapsedMs: number;
  keepaliveRequestsPerSecond: number;
  open: { ok: true; version: number } | { ok: false; error: string };
  after: { version: number; stores: string[]; s: unknown[]; t: unknown[] | null };
}

function promisify<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function readAll(db: IDBDatabase, store: string): Promise<unknown[]> {
  return promisify(db.transaction(store).objectStore(store).getAll());
}

/**
 * Runs the experiment on a fresh database: v1 has store `s` = [{id: 1, v: 'old'}]; the v2
 * upgrade creates store `t`, awaits a 200 ms timer, a 1 MiB OPFS write and a fetch, writes after
 * each, and then commits or aborts. The database is deleted afterwards.
 */
export async function runKeepaliveExperiment(end: KeepaliveEnd): Promise<KeepaliveResult> {
  const name = `keepalive-${end}-${crypto.randomUUID()}`;
  const fileName = `${name}.bin`;

  const v1 = indexedDB.open(name, 1);
  v1.onupgradeneeded = () => {
    v1.result.createObjectStore('s', { keyPath: 'id' }).put({ id: 1, v: 'old' });
  };
  (await promisify(v1)).close();

  const steps: StepObservation[] = [];
  let directCallFromTimer = 'no error';
  let requestAfterAwaitedRequest = 'not run';
  let fetchWorked = false;
  let upgradeError: string | null = null;
  let keepaliveRequests = 0;
  let keepaliveRequestsDuringAwaits = 0;
  let elapsedMs = 0;
  let openSettled = false;

  const request = indexedDB.open(name, 2);
  const upgradeFinished = new Promise<void>((resolveUpgrade) => {
    request.onupgradeneeded = () => {
      const tx = request.transaction!;
      request.result.createObjectStore('t', { keyPath: 'id' });
      let transactionFinished: 'complete' | 'abort' | null = null;
      tx.addEventListener('complete', () => (transactionFinished = 'complete'));
      tx.addEventListener('abort', () => (transactionFinished = 'abort'));

      let pending = true;
      let next: (() => void) | null = null;
      const keepalive = () => {
        const probe = tx.objectStore('s').count(IDBKeyRange.only(-Infinity));
        probe.onsuccess = () => {
          keepaliveRequests++;
          const action = next;
          next = null;
          action?.();
          if (pending && transactionFinished === null) keepalive();
        };
      };
      /** Runs `action` inside the next keepalive success callback, where the transaction is active. */
      const inTransaction = <T>(action: () => IDBRequest<T> | T): Promise<T> =>
        new Promise<T>((resolve, reject) => {
          next = () => {
            try {
              const result = action();
              if (result instanceof IDBRequest) promisify(result as IDBRequest<T>).then(resolve, reject);
              else resolve(result);
            } catch (error) {
              reject(error);
            }
          };
        });

      const started = performance.now();
      const observe = (step: StepObservation['step'], detail?: string) =>
        steps.push({
          step,
          at: Math.round(performance.now() - started),
          openSettled,
          transactionFinished,
          keepaliveRequests,
          ...(detail === undefined ? {} : { detail }),
        });

      keepalive();
      void (async () => {
        try {
          // (a) a timer
          await new Promise((resolve) => setTimeout(resolve, 200));
          try {
            tx.objectStore('s').put({ id: 99, v: 'direct-from-timer' });
          } catch (error) {
            directCallFromTimer = (error as DOMException).name;
          }
          observe('timeout');
          await inTransaction(() => tx.objectStore('s').put({ id: 2, v: 'after-timeout' }));
          // Continuing in the microtask of that put's success callback: still active.
          try {
            await promisify(tx.objectStore('s').put({ id: 5, v: 'after-awaited-request' }));
            requestAfterAwaitedRequest = 'ok';
          } catch (error) {
            requestAfterAwaitedRequest = (error as DOMException).name;
          }

          // (b) an OPFS write of 1 MiB
          const dir = await navigator.storage.getDirectory();
          const handle = await dir.getFileHandle(fileName, { create: true });
          const writable = await handle.createWritable();
          await writable.write(new Uint8Array(1 << 20).fill(7));
          await writable.close();
          observe('opfs', `size ${(await handle.getFile()).size}`);
          await inTransaction(() => tx.objectStore('t').put({ id: 3, v: 'after-opfs' }));

          // (c) a fetch of the test page itself
          try {
            const text = await (await fetch(location.href)).text();
            fetchWorked = true;
            observe('fetch', `${text.length} chars`);
          } catch (error) {
            observe('fetch', `failed: ${(error as Error).name}: ${(error as Error).message}`);
          }
          await inTransaction(() => tx.objectStore('s').put({ id: 4, v: 'after-fetch' }));

          elapsedMs = performance.now() - started;
          keepaliveRequestsDuringAwaits = keepaliveRequests;
          await dir.removeEntry(fileName);
          if (end === 'abort') {
            await inTransaction(() => {
              pending = false;
              tx.abort();
            });
          }
        } catch (error) {
          upgradeError = `${(error as Error).name}: ${(error as Error).message}`;
          pending = false;
          try {
            tx.abort();
          } catch {
            // Already finished.
          }
        } finally {
          pending = false;
          resolveUpgrade();
        }
      })();
    };
  });

  const open = await new Promise<KeepaliveResult['open']>((resolve) => {
    request.onsuccess = () => {
      openSettled = true;
      resolve({ ok: true, version: request.result.version });
      request.result.close();
    };
    request.onerror = () => {
      openSettled = true;
      resolve({ ok: false, error: request.error?.name ?? 'unknown' });
    };
  });
  await upgradeFinished;

  const db = await promisify(indexedDB.open(name));
  const stores = [...db.objectStoreNames];
  const after = {
    version: db.version,
    stores,
    s: await readAll(db, 's'),
    t: stores.includes('t') ? await readAll(db, 't') : null,
  };
  db.close();
  await promisify(indexedDB.deleteDatabase(name));

  return {
    end,
    steps,
    directCallFromTimer,
    requestAfterAwaitedRequest,
    fetchWorked,
    upgradeError,
    keepaliveRequests: keepaliveRequestsDuringAwaits,
    elapsedMs: Math.round(elapsedMs),
    keepaliveRequestsPerSecond: elapsedMs ? Math.round((keepaliveRequestsDuringAwaits / elapsedMs) * 1000) : 0,
    open,
    after,
  };
}

export interface ControlResult {
  /** Error name thrown by a put issued after the timer (the transaction has committed by then). */
  putAfterTimer: string;
  /** Whether the open request had already succeeded when the timer fired. */
  openSucceededBeforeTimer: boolean;
  open: { ok: true; version: number } | { ok: false; error: string };
  storesAfter: string[];
}

/**
 * Control for the experiment: the same upgrade without the keepalive loop. The versionchange
 * transaction auto-commits while the upgrade awaits a timer, so the database ends up at the new
 * version with only the work done before the await.
 */
export async function runWithoutKeepalive(): Promise<ControlResult> {
  const name = `keepalive-control-${crypto.randomUUID()}`;
  let putAfterTimer = 'no error';
  let openSucceeded = false;
  let openSucceededBeforeTimer = false;
  const request = indexedDB.open(name, 1);
  const upgradeFinished = new Promise<void>((resolveUpgrade) => {
    request.onupgradeneeded = () => {
      const tx = request.transaction!;
      request.result.createObjectStore('before-await');
      void (async () => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        openSucceededBeforeTimer = openSucceeded;
        try {
          tx.objectStore('before-await').put('late', 1);
        } catch (error) {
          putAfterTimer = (error as DOMException).name;
        }
        resolveUpgrade();
      })();
    };
  });
  const open = await new Promise<ControlResult['open']>((resolve) => {
    request.onsuccess = () => {
      openSucceeded = true;
      resolve({ ok: true, version: request.result.version });
    };
    request.onerror = () => resolve({ ok: false, error: request.error?.name ?? 'unknown' });
  });
  await upgradeFinished;
  let storesAfter: string[] = [];
  if (open.ok) {
    storesAfter = [...request.result.objectStoreNames];
    request.result.close();
  }
  await promisify(indexedDB.deleteDatabase(name));
  return { putAfterTimer, openSucceededBeforeTimer, open, storesAfter };
}
