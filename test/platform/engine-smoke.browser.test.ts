// Smoke tests for the real engines (Chromium, Firefox ESR, WebKitGTK): the platform facts the
// library's design depends on. Findings are asserted per engine so an engine upgrade that
// changes one of them fails loudly here rather than in a library test.
import { describe, expect, test } from 'vitest';
import { runKeepaliveExperiment, runWithoutKeepalive } from './keepalive-experiment';

type Engine = 'chromium' | 'firefox' | 'webkit';

// Only the browser projects include *.browser.test.ts (vitest.config.ts); this guard also skips the probes if the
// file is ever run outside a browser.
const inBrowser = typeof window !== 'undefined' && typeof navigator !== 'undefined' && 'storage' in navigator;

function engine(): Engine {
  const ua = navigator.userAgent;
  if (ua.includes('Firefox/')) return 'firefox';
  if (ua.includes('Chrome/')) return 'chromium';
  return 'webkit';
}

function promisify<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

const uniqueName = (prefix: string) => `${prefix}-${crypto.randomUUID()}`;

describe.skipIf(!inBrowser)('engine smoke', () => {
  test('IndexedDB: upgrade, write, read, databases(), deleteDatabase', async () => {
    const name = uniqueName('smoke-idb');
    const open = indexedDB.open(name, 3);
    let oldVersion = -1;
    open.onupgradeneeded = (event) => {
      oldVersion = event.oldVersion;
      const store = open.result.createObjectStore('items', { keyPath: 'id' });
      store.createIndex('byTag', 'tag');
    };
    const db = await promisify(open);
    expect(oldVersion).toBe(0);
    expect(db.version).toBe(3);

    const write = db.transaction('items', 'readwrite');
    const store = write.objectStore('items');
    store.put({ id: 1, tag: 'a', when: new Date(0) });
    store.put({ id: 2, tag: 'b', bytes: new Uint8Array([1, 2, 3]) });
    await new Promise<void>((resolve, reject) => {
      write.oncomplete = () => resolve();
      write.onerror = () => reject(write.error);
    });

    const read = db.transaction('items').objectStore('items');
    const one = await promisify(read.get(1));
    expect(one).toEqual({ id: 1, tag: 'a', when: new Date(0) });
    expect(await promisify(read.index('byTag').getAllKeys('b'))).toEqual([2]);
    expect(await promisify(read.count())).toBe(2);

    const listed = await indexedDB.databases();
    expect(listed).toContainEqual({ name, version: 3 });

    db.close();
    await promisify(indexedDB.deleteDatabase(name));
    expect((await indexedDB.databases()).map((info) => info.name)).not.toContain(name);
  });

  test('OPFS: createWritable write/close/read, abort keeps old content, removeEntry', async () => {
    const root = await navigator.storage.getDirectory();
    const fileName = uniqueName('smoke-opfs');

    const handle = await root.getFileHandle(fileName, { create: true });
    const writable = await handle.createWritable();
    await writable.write('old content');
    await writable.close();
    expect(await (await handle.getFile()).text()).toBe('old content');

    // An aborted writable is discarded: the file keeps what the last close() committed.
    const aborted = await handle.createWritable();
    await aborted.write('new content that must not land');
    await aborted.abort();
    expect(await (await handle.getFile()).text()).toBe('old content');

    // A file created for a writable that is then aborted stays empty.
    const freshName = uniqueName('smoke-opfs-fresh');
    const fresh = await root.getFileHandle(freshName, { create: true });
    const freshWritable = await fresh.createWritable();
    await freshWritable.write('never committed');
    await freshWritable.abort();
    expect((await fresh.getFile()).size).toBe(0);

    await root.removeEntry(fileName);
    await root.removeEntry(freshName);
    await expect(root.getFileHandle(fileName)).rejects.toMatchObject({ name: 'NotFoundError' });
  });

  describe('keepalive: a versionchange transaction survives non-IDB awaits', () => {
    test('control: without the loop the upgrade commits half-done during a setTimeout await', async () => {
      const result = await runWithoutKeepalive();
      console.log(`[${engine()}] no keepalive: ${JSON.stringify(result)}`);
      // Whether open's success event arrives before the 50 ms timer depends on load (Firefox and WebKit under a
      // busy CI sometimes fire the timer first): only logged. The finished transaction below is what matters.
      expect(result.open).toEqual({ ok: true, version: 1 });
      expect(result.storesAfter).toEqual(['before-await']);
      // The transaction has finished (not merely gone inactive) by the time the timer fires.
      expect(result.putAfterTimer).toBe('InvalidStateError');
    });

    test('commit: stays open across setTimeout, OPFS and fetch, then commits everything', async () => {
      const result = await runKeepaliveExperiment('commit');
      console.log(
        `[${engine()}] keepalive commit: ${result.keepaliveRequests} keepalive requests in ` +
          `${result.elapsedMs} ms (~${result.keepaliveRequestsPerSecond}/s); direct call from timer: ` +
          `${result.directCallFromTimer}; steps ${JSON.stringify(result.steps)}`,
      );

      expect(result.upgradeError).toBeNull();
      expect(result.fetchWorked).toBe(true);
      expect(result.steps.map((step) => step.step)).toEqual(['timeout', 'opfs', 'fetch']);
      for (const step of result.steps) {
        expect(step, `after ${step.step}`).toMatchObject({ openSettled: false, transactionFinished: null });
      }
      // A request straight from the timer continuation is refused; the loop is unaffected.
      expect(result.directCallFromTimer).toBe('TransactionInactiveError');
      // Awaiting a promise-wrapped request resumes while the transaction is still active.
      expect(result.requestAfterAwaitedRequest).toBe('ok');

      expect(result.open).toEqual({ ok: true, version: 2 });
      expect(result.after.version).toBe(2);
      expect(result.after.stores).toEqual(['s', 't']);
      expect(result.after.s).toEqual([
        { id: 1, v: 'old' },
        { id: 2, v: 'after-timeout' },
        { id: 4, v: 'after-fetch' },
        { id: 5, v: 'after-awaited-request' },
      ]);
      expect(result.after.t).toEqual([{ id: 3, v: 'after-opfs' }]);
    });

    test('abort: tx.abort() after the awaits rolls back version, stores and data', async () => {
      const result = await runKeepaliveExperiment('abort');
      console.log(
        `[${engine()}] keepalive abort: ${result.keepaliveRequests} keepalive requests in ` +
          `${result.elapsedMs} ms (~${result.keepaliveRequestsPerSecond}/s)`,
      );

      expect(result.upgradeError).toBeNull();
      for (const step of result.steps) {
        expect(step, `after ${step.step}`).toMatchObject({ openSettled: false, transactionFinished: null });
      }
      expect(result.directCallFromTimer).toBe('TransactionInactiveError');
      expect(result.open).toEqual({ ok: false, error: 'AbortError' });
      expect(result.after).toEqual({ version: 1, stores: ['s'], s: [{ id: 1, v: 'old' }], t: null });
    });
  });

  test('feature detection: getAllRecords and continuePrimaryKey', () => {
    const expected: Record<Engine, { getAllRecords: boolean; continuePrimaryKey: boolean }> = {
      chromium: { getAllRecords: true, continuePrimaryKey: true },
      firefox: { getAllRecords: true, continuePrimaryKey: true },
      webkit: { getAllRecords: false, continuePrimaryKey: true },
    };
    const actual = {
      getAllRecords: typeof (IDBObjectStore.prototype as { getAllRecords?: unknown }).getAllRecords === 'function',
      continuePrimaryKey: typeof IDBCursor.prototype.continuePrimaryKey === 'function',
    };
    console.log(`[${engine()}] features ${JSON.stringify(actual)} (${navigator.userAgent})`);
    expect(actual, `feature set changed in ${navigator.userAgent}`).toEqual(expected[engine()]);
  });
});
