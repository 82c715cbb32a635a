// What the cross-context browser tests share: dedicated workers that post typed messages back, and databases of
// the engine's own IndexedDB (not the suite's name-prefixed one: page and worker must see the same database),
// named `election-…` so that test/setup-browser.ts leaves them to these tests, which delete them after each test.
import { afterEach } from 'vitest';

const names: string[] = [];
const workers: Worker[] = [];

afterEach(async () => {
  for (const worker of workers.splice(0)) worker.terminate();
  for (const name of names.splice(0)) {
    await new Promise<void>((resolve) => {
      const request = indexedDB.deleteDatabase(name);
      request.onsuccess = request.onerror = () => resolve();
    });
  }
});

/** A database name of this test, deleted after it. */
export function databaseName(prefix = 'election'): string {
  const name = `${prefix}-${Math.random().toString(36).slice(2)}`;
  names.push(name);
  return name;
}

/** A started worker: every message it posted, the next one of a type, and the worker (to terminate it). */
export interface StartedWorker<M extends { readonly type: string }> {
  readonly messages: M[];
  next(type: M['type']): Promise<M>;
  readonly worker: Worker;
}

/** Starts the module worker at `url` (terminated after the test) and posts it `{ name }`. */
export function startWorker<M extends { readonly type: string }>(url: URL, name: string): StartedWorker<M> {
  const worker = new Worker(url, { type: 'module' });
  workers.push(worker);
  const messages: M[] = [];
  const waiting: [M['type'], (m: M) => void][] = [];
  worker.onmessage = (event: MessageEvent<M>) => {
    messages.push(event.data);
    for (const [type, resolve] of waiting) if (type === event.data.type) resolve(event.data);
  };
  worker.postMessage({ name });
  const next = (type: M['type']) =>
    new Promise<M>((resolve) => {
      const found = messages.find((m) => m.type === type);
      if (found !== undefined) resolve(found);
      else waiting.push([type, resolve]);
    });
  return { messages, next, worker };
}
