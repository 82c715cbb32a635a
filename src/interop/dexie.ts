import type { ForeignOpen, InstalledDatabase } from './protect.js';

/** The part of a Dexie instance {@link dexieOpen} uses (Dexie 3 and 4); the library does not import Dexie. */
export interface DexieLike {
  readonly name: string;
  /** The highest version declared with `db.version(n)`. */
  readonly verno: number;
  readonly tables: readonly {
    readonly name: string;
    readonly schema: { readonly indexes: readonly { readonly name: string }[] };
  }[];
  open(): PromiseLike<unknown>;
  close(): void;
}

/**
 * The IndexedDB version Dexie will open `db` at, given what is installed: Dexie declares version `n` as IndexedDB
 * version `n * 10`; an installed database that is newer is opened at its own version, plus one when it lacks a
 * declared table or index (Dexie then adds them, its "schema patch" upgrade).
 */
export function dexieVersion(db: DexieLike, installed: InstalledDatabase): number {
  const declared = Math.round(db.verno * 10);
  if (installed.version < declared) return declared;
  const missing = db.tables.some((table) => {
    const store = installed.layout[table.name];
    return store === undefined || table.schema.indexes.some((index) => store.indexes[index.name] === undefined);
  });
  return Math.max(installed.version + (missing ? 1 : 0), 1);
}

/**
 * How to open a Dexie database under `protectUpgrade`: `db.open()`, at the IndexedDB version Dexie computes
 * (declared version x10, see {@link dexieVersion}); a failed open or upgrader is a failed upgrade.
 *
 * @example
 * ```ts
 * const { opened: db } = await protectUpgrade(dexieOpen(appDb))
 * ```
 */
export function dexieOpen<D extends DexieLike>(db: D): ForeignOpen<D> {
  return {
    name: db.name,
    version: (installed) => dexieVersion(db, installed),
    open: async () => {
      await db.open();
      return db;
    },
    close: (opened) => opened.close(),
  };
}
