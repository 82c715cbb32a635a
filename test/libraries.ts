// The other IndexedDB libraries the interop tests run, loaded the way each needs in Node and in a browser.
import type PouchDB from 'pouchdb-browser';

/** pouchdb-browser expects a browser's `self` and `navigator`; Node 20 has neither. */
export async function loadPouchDB(): Promise<typeof PouchDB> {
  const g = globalThis as { self?: unknown; navigator?: unknown };
  g.self ??= globalThis;
  g.navigator ??= { userAgent: 'node' };
  return (await import('pouchdb-browser')).default;
}

const run = Math.random().toString(36).slice(2, 8);
let databases = 0;

/**
 * A database name of its own: the libraries open the global IndexedDB (fake-indexeddb's in Node, the engine's in a
 * browser, where test/setup-browser.ts deletes every database between tests).
 */
export const unique = (name: string): string => `${name}-${run}-${++databases}`;
