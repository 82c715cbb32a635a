import type { ForeignOpen } from './protect.js';

/** The part of a PouchDB instance {@link pouchDBOpen} uses; the library does not import PouchDB. */
export interface PouchDBLike {
  info(): PromiseLike<unknown>;
  close(): PromiseLike<unknown>;
}

/** The IndexedDB version of PouchDB's `idb` adapter (pouchdb-browser's default), stable since PouchDB 6. */
export const POUCHDB_IDB_VERSION = 5;

/**
 * How to open a PouchDB database (the `idb` adapter) under `protectUpgrade`: `create()` makes the instance, and its
 * `info()` waits for the adapter's setup, where PouchDB upgrades its IndexedDB database (`_pouch_` + name).
 *
 * @example
 * ```ts
 * const { opened: notes } = await protectUpgrade(pouchDBOpen('notes', () => new PouchDB('notes')))
 * ```
 */
export function pouchDBOpen<P extends PouchDBLike>(
  name: string,
  create: () => P,
  options: { readonly prefix?: string } = {},
): ForeignOpen<P> {
  return {
    name: `${options.prefix ?? '_pouch_'}${name}`,
    version: POUCHDB_IDB_VERSION,
    open: async () => {
      const db = create();
      await db.info();
      return db;
    },
    close: (db) => db.close(),
  };
}
