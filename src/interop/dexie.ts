import type { ForeignOpen, InstalledDatabase, Protection } from './protect.js';

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

/** Dexie's declared versions (internal in Dexie 3 and 4): each version's chained `upgrade()` functions. */
interface DexieVersions {
  readonly _versions?: readonly { readonly _cfg?: { contentUpgrade?: unknown } }[];
}

/**
 * Tracks each declared version's upgrade function for the time of an open, and returns what puts them back. An
 * upgrader that awaits anything but Dexie's own operations (a fetch, a timer) lets IndexedDB commit the upgrade
 * there; what it does after fails, but Dexie has resolved `open()` at the new version by then.
 */
function trackUpgraders(db: DexieLike, track: Protection['track']): () => void {
  const restores: (() => void)[] = [];
  for (const version of (db as DexieVersions)._versions ?? []) {
    const config = version._cfg;
    const upgrade = config?.contentUpgrade;
    if (config === undefined || typeof upgrade !== 'function') continue;
    config.contentUpgrade = track(upgrade as (...args: unknown[]) => unknown);
    restores.push(() => {
      config.contentUpgrade = upgrade;
    });
  }
  return () => {
    for (const restore of restores) restore();
  };
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
 * (declared version x10, see {@link dexieVersion}). A failed open is a failed upgrade, and so is an upgrader
 * (`version(n).upgrade(fn)`) that fails after IndexedDB committed the upgrade: Dexie's open resolves then, with the
 * upgrade half done.
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
    open: async ({ track }) => {
      const untrack = trackUpgraders(db, track);
      try {
        await db.open();
      } finally {
        untrack();
      }
      return db;
    },
    close: (opened) => opened.close(),
  };
}
