import type { ForeignOpen, InstalledDatabase } from './protect.js';

/** The part of a localForage instance {@link localForageOpen} uses; the library does not import localForage. */
export interface LocalForageLike {
  config(): { readonly name?: string; readonly storeName?: string; readonly version?: number };
  ready(): PromiseLike<unknown>;
}

/**
 * How to open a localForage instance's IndexedDB under `protectUpgrade`: `ready()`. localForage opens the database
 * at its installed version and upgrades it by one when the instance's store is missing (a new
 * `createInstance({ storeName })`), or to its configured `version` when that is higher.
 *
 * @example
 * ```ts
 * const drafts = localforage.createInstance({ name: 'app', storeName: 'drafts' })
 * await protectUpgrade(localForageOpen(drafts))
 * ```
 */
export function localForageOpen<L extends LocalForageLike>(instance: L): ForeignOpen<L> {
  const config = instance.config();
  const storeName = config.storeName ?? 'keyvaluepairs';
  const configured = config.version ?? 1;
  return {
    name: config.name ?? 'localforage',
    version: (installed: InstalledDatabase) => {
      const missing = installed.layout[storeName] === undefined;
      return Math.max(installed.version + (missing ? 1 : 0), configured);
    },
    open: async () => {
      await instance.ready();
      return instance;
    },
    // localForage has no close: its connection closes itself on `versionchange`, which a restore's delete sends.
    close: () => {},
  };
}
