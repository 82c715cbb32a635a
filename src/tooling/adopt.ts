// Adoption: an app whose database another library created (Dexie, idb, localForage, PouchDB) moves to idb-evolve by
// declaring what is installed as its plan's first version, a baseline. From there, upgrades are ordinary ones.
import { SnapshotError } from '../errors.js';
import { type IndexedDBOptions, openExisting, resolveIndexedDB } from '../idb/request.js';
import { checkOptions, rule } from '../options.js';
import type { DatabaseLayout, KeyPath, NormalizedLayout, NormalizedStore, StoreLayout } from '../plan/layout.js';
import { headerLayout, SnapshotReader } from '../snapshot/format.js';
import { installedLayout } from '../upgrade/drift.js';

/** The library that made a database, as far as its layout tells (or as the caller says). */
export type AdoptedLibrary = 'dexie' | 'localforage' | 'pouchdb' | 'other';

/** Options of {@link adoptDatabase}, {@link adoptSnapshot} and {@link baselinePlan}. */
export interface AdoptOptions {
  /**
   * The library that made the database, for the notes in the code (Dexie's version arithmetic); found from the layout
   * when it says so (PouchDB's and localForage's stores, Dexie's `$meta`), else `other`.
   */
  readonly library?: AdoptedLibrary;
  /** The name of the exported plan in the code (default `plan`). */
  readonly exportName?: string;
  /** The module the code imports `definePlan` from (default `idb-evolve`). */
  readonly importFrom?: string;
}

/** An installed database described as a plan's baseline version. */
export interface AdoptedDatabase {
  readonly database: string;
  /** The IndexedDB version: the baseline's version number. */
  readonly version: number;
  readonly layout: NormalizedLayout;
  readonly library: AdoptedLibrary;
  /** The baseline as a plan declares it: `definePlan({ versions: [baseline, ...next] })`. */
  readonly baseline: { readonly version: number; readonly stores: DatabaseLayout };
  /** What to know before writing the next version (the library's conventions), also written into `code`. */
  readonly notes: readonly string[];
  /** A plan module declaring the baseline (valid TypeScript and JavaScript). */
  readonly code: string;
}

const optionRules = {
  library: rule.oneOf('dexie', 'localforage', 'pouchdb', 'other'),
  exportName: {
    test: (v: unknown) => typeof v === 'string' && /^[A-Za-z_$][\w$]*$/.test(v),
    expected: 'an identifier',
  },
  importFrom: rule.string,
};

/**
 * Reads the layout of an installed database (in a page of the app's origin, or with fake-indexeddb) and describes
 * it as the first version of a plan. Reads no record except Dexie's `$meta` version; changes nothing.
 *
 * @example
 * ```ts
 * const { code } = await adoptDatabase('FriendsDB', { library: 'dexie' })
 * console.log(code) // paste into src/db/plan.ts
 * ```
 */
export async function adoptDatabase(
  name: string,
  options: AdoptOptions & IndexedDBOptions = {},
): Promise<AdoptedDatabase> {
  checkOptions('adoptDatabase', options, optionRules);
  const { factory } = resolveIndexedDB(options);
  const db = await openExisting(factory, name);
  if (db === undefined) throw new SnapshotError('database_not_found', `There is no database "${name}" to adopt`);
  try {
    const layout = installedLayout(db);
    const dexieMeta = layout.$meta === undefined ? undefined : await readDexieMeta(db);
    return baselinePlan({ database: name, version: db.version, layout, dexieMeta }, options);
  } finally {
    db.close();
  }
}

/**
 * The same from a snapshot file (exported from a device, or written by `snapshotDatabase`): the file is verified
 * whole first, so a damaged one is refused (`snapshot_corrupt`) rather than adopted.
 */
export async function adoptSnapshot(file: Blob, options: AdoptOptions = {}): Promise<AdoptedDatabase> {
  checkOptions('adoptSnapshot', options, optionRules);
  const reader = new SnapshotReader(file, 'adopted snapshot');
  const header = await reader.header();
  const meta = header.stores.findIndex((store) => store.name === '$meta');
  let dexieMeta: number | undefined;
  for (let page = await reader.next(); page !== null; page = await reader.next()) {
    for (const record of page) {
      if (record.store === meta && record.key === 'version' && typeof record.value === 'number')
        dexieMeta = record.value;
    }
  }
  const layout = headerLayout(header, reader.id);
  return baselinePlan({ database: header.database, version: header.version, layout, dexieMeta }, options);
}

/** Dexie's `$meta` store holds its declared version while its schema was patched past it (`version` key). */
function readDexieMeta(db: IDBDatabase): Promise<number | undefined> {
  return new Promise((resolve) => {
    try {
      const request = db.transaction('$meta', 'readonly').objectStore('$meta').get('version');
      request.onsuccess = () => resolve(typeof request.result === 'number' ? request.result : undefined);
      request.onerror = () => resolve(undefined);
    } catch {
      resolve(undefined);
    }
  });
}

/** The library a layout shows: PouchDB's and localForage's stores have fixed names; Dexie's `$meta` is its own. */
function detectLibrary(layout: NormalizedLayout): AdoptedLibrary {
  if (layout['document-store'] !== undefined && layout['by-sequence'] !== undefined) return 'pouchdb';
  if (layout['local-forage-detect-blob-support'] !== undefined) return 'localforage';
  if (layout.$meta !== undefined) return 'dexie';
  return 'other';
}

/**
 * Describes a database (name, IndexedDB version, layout) as a plan's baseline and writes the plan module; what
 * {@link adoptDatabase} and {@link adoptSnapshot} return. `dexieMeta` is the version in Dexie's `$meta` store.
 */
export function baselinePlan(
  installed: { database: string; version: number; layout: NormalizedLayout; dexieMeta?: number | undefined },
  options: AdoptOptions = {},
): AdoptedDatabase {
  checkOptions('baselinePlan', options, optionRules);
  const library = options.library ?? detectLibrary(installed.layout);
  const stores = declaredLayout(installed.layout);
  const baseline = { version: installed.version, stores };
  const notes = libraryNotes(library, installed);
  const code = planModule(installed.database, baseline, notes, options);
  return { ...installed, library, baseline, notes, code };
}

/** The layout as a plan would declare it: defaults left out (no key path, no key generator, plain indexes). */
function declaredLayout(layout: NormalizedLayout): DatabaseLayout {
  const stores: Record<string, StoreLayout> = {};
  for (const [name, store] of Object.entries(layout)) stores[name] = declaredStore(store);
  return stores;
}

function declaredStore(store: NormalizedStore): StoreLayout {
  const indexes: Record<string, KeyPath | { keyPath: KeyPath; unique?: true; multiEntry?: true }> = {};
  for (const [name, index] of Object.entries(store.indexes)) {
    indexes[name] =
      !index.unique && !index.multiEntry
        ? index.keyPath
        : {
            keyPath: index.keyPath,
            ...(index.unique ? { unique: true } : {}),
            ...(index.multiEntry ? { multiEntry: true } : {}),
          };
  }
  return {
    ...(store.keyPath === null ? {} : { keyPath: store.keyPath }),
    ...(store.autoIncrement ? { autoIncrement: true } : {}),
    ...(Object.keys(indexes).length === 0 ? {} : { indexes }),
  };
}

function libraryNotes(
  library: AdoptedLibrary,
  installed: { version: number; dexieMeta?: number | undefined },
): string[] {
  const { version } = installed;
  const next = `Declare the next version as ${version + 1} or higher`;
  if (library === 'dexie') {
    const patched =
      version % 10 === 0
        ? ''
        : ', or a lower version Dexie patched (it adds 1 when tables or indexes were declared without a version bump)';
    const meta =
      installed.dexieMeta === undefined
        ? []
        : [
            `Its $meta store says Dexie's declared version is ${installed.dexieMeta}; $meta only records Dexie's schema patches: a later version may leave it out (drop it).`,
          ];
    return [
      `Dexie: IndexedDB version ${version} is Dexie's db.version(${version / 10}) (Dexie multiplies by 10)${patched}.`,
      ...meta,
      `${next}; a multiple of 10 (${(Math.floor(version / 10) + 1) * 10}) while Dexie code may still open the database on some devices.`,
    ];
  }
  if (library === 'pouchdb') {
    return [
      'PouchDB (idb adapter, version 5): documents live in `by-sequence` (bodies, one per revision) and `document-store` (metadata, winning revision); attachments in `attach-store`.',
      `${next} only once PouchDB no longer opens this database: PouchDB refuses a version other than 5.`,
    ];
  }
  if (library === 'localforage') {
    return [
      'localForage: each store keeps values under out-of-line string keys; `local-forage-detect-blob-support` is its feature probe.',
      `${next}; localForage itself opens whatever version is installed, and adds one only for a store it lacks.`,
    ];
  }
  return [`${next}.`];
}

/** A JavaScript literal of plain data (strings single-quoted, identifier keys bare), two spaces per level. */
function literal(value: unknown, indent: string): string {
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (typeof value !== 'object' || value === null) return String(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) return `[${value.map((v) => literal(v, inner)).join(', ')}]`;
  const entries = Object.entries(value);
  if (entries.length === 0) return '{}';
  const key = (k: string) => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : literal(k, inner));
  return `{\n${entries.map(([k, v]) => `${inner}${key(k)}: ${literal(v, inner)},`).join('\n')}\n${indent}}`;
}

function planModule(
  database: string,
  baseline: { version: number; stores: DatabaseLayout },
  notes: readonly string[],
  options: AdoptOptions,
): string {
  const comment = [
    `Baseline of the IndexedDB database ${literal(database, '')}, adopted by idb-evolve from version ${baseline.version}.`,
    'It declares what is installed: keep it unchanged, and add versions after it.',
    ...notes,
  ];
  return [
    ...comment.map((line) => `// ${line}`),
    `import { definePlan } from ${literal(options.importFrom ?? 'idb-evolve', '')};`,
    '',
    `export const ${options.exportName ?? 'plan'} = definePlan({`,
    `  versions: [`,
    `    ${literal(baseline, '    ')},`,
    '  ],',
    '});',
    '',
  ].join('\n');
}
