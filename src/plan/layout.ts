import { PlanError, type LayoutDifference } from '../errors.js';

/** An IndexedDB key path: a dotted property path, or several of them for a compound key. */
export type KeyPath = string | readonly string[];

/** How an index is declared: its key path alone, or the full options. */
export type IndexDeclaration = KeyPath | IndexLayout;

/** One index of a store, in IndexedDB's own terms. */
export interface IndexLayout {
  readonly keyPath: KeyPath;
  /** Reject two records with the same index key (default false). */
  readonly unique?: boolean;
  /** Index each element of an array value separately (default false; not with an array key path). */
  readonly multiEntry?: boolean;
}

/** One object store as a version declares it. */
export interface StoreLayout {
  /** In-line key path; omit (or `null`) for out-of-line keys. */
  readonly keyPath?: KeyPath | null;
  /** Let IndexedDB generate keys (default false). */
  readonly autoIncrement?: boolean;
  /** Indexes by name. */
  readonly indexes?: Readonly<Record<string, IndexDeclaration>>;
}

/** The full layout of a database at one version: every store by name. */
export type DatabaseLayout = Readonly<Record<string, StoreLayout>>;

/** A store with every default filled in; what the library compares and creates. */
export interface NormalizedStore {
  readonly keyPath: KeyPath | null;
  readonly autoIncrement: boolean;
  readonly indexes: Readonly<Record<string, Required<IndexLayout>>>;
}

/** A layout with every default filled in, as stored in a plan and read from a database. */
export type NormalizedLayout = Readonly<Record<string, NormalizedStore>>;

// ECMAScript IdentifierName, which is what IndexedDB accepts between the dots of a key path.
const IDENTIFIER = /^[\p{ID_Start}$_][\p{ID_Continue}$\u200C\u200D]*$/u;

function isValidKeyPathString(path: string): boolean {
  return path === '' || path.split('.').every((part) => IDENTIFIER.test(part));
}

/** True when `keyPath` is a key path IndexedDB accepts. */
export function isValidKeyPath(keyPath: unknown): keyPath is KeyPath {
  if (typeof keyPath === 'string') return isValidKeyPathString(keyPath);
  return (
    Array.isArray(keyPath) &&
    keyPath.length > 0 &&
    keyPath.every((part) => typeof part === 'string' && isValidKeyPathString(part))
  );
}

function describeKeyPath(keyPath: unknown): string {
  return JSON.stringify(keyPath) ?? String(keyPath);
}

function normalizeIndex(
  version: number,
  store: string,
  name: string,
  declaration: IndexDeclaration,
): Required<IndexLayout> {
  const layout: IndexLayout =
    typeof declaration === 'string' || Array.isArray(declaration)
      ? { keyPath: declaration as KeyPath }
      : (declaration as IndexLayout);
  if (typeof layout !== 'object' || layout === null) {
    throw new PlanError('invalid_index', `Index "${name}" must be a key path or { keyPath, unique, multiEntry }`, {
      version,
      store,
    });
  }
  if (!isValidKeyPath(layout.keyPath) || layout.keyPath === '') {
    throw new PlanError(
      'invalid_key_path',
      `Index "${name}" has an invalid key path ${describeKeyPath(layout.keyPath)}: use identifiers joined by dots`,
      { version, store },
    );
  }
  const multiEntry = layout.multiEntry ?? false;
  if (multiEntry && Array.isArray(layout.keyPath)) {
    throw new PlanError('invalid_index', `Index "${name}" cannot be multiEntry with an array key path`, {
      version,
      store,
    });
  }
  return { keyPath: copyKeyPath(layout.keyPath), unique: layout.unique ?? false, multiEntry };
}

/**
 * A key path as a string or a frozen copy of its array, declared or read from a database: engines hand back array
 * key paths as DOMStringList in old WebKit, which Array.from copies too.
 */
function copyKeyPath(keyPath: KeyPath): KeyPath;
function copyKeyPath(keyPath: KeyPath | null): KeyPath | null;
function copyKeyPath(keyPath: KeyPath | null): KeyPath | null {
  return keyPath === null || typeof keyPath === 'string' ? keyPath : Object.freeze(Array.from(keyPath));
}

/**
 * Validates a declared layout and fills in defaults. Throws {@link PlanError} naming the version and store.
 */
export function normalizeLayout(version: number, layout: DatabaseLayout): NormalizedLayout {
  if (typeof layout !== 'object' || layout === null || Array.isArray(layout)) {
    throw new PlanError('invalid_store', 'stores must be an object of store layouts keyed by store name', { version });
  }
  const stores: Record<string, NormalizedStore> = {};
  for (const [name, store] of Object.entries(layout)) {
    if (typeof store !== 'object' || store === null) {
      throw new PlanError('invalid_store', `Store "${name}" must be an object`, { version, store: name });
    }
    const keyPath = store.keyPath ?? null;
    const autoIncrement = store.autoIncrement ?? false;
    if (keyPath !== null && !isValidKeyPath(keyPath)) {
      throw new PlanError(
        'invalid_key_path',
        `Store "${name}" has an invalid key path ${describeKeyPath(keyPath)}: use identifiers joined by dots`,
        { version, store: name },
      );
    }
    // IndexedDB itself rejects these two with InvalidAccessError, but only inside the upgrade.
    if (autoIncrement && (keyPath === '' || Array.isArray(keyPath))) {
      throw new PlanError(
        'invalid_key_path',
        `Store "${name}" cannot use autoIncrement with key path ${describeKeyPath(keyPath)}`,
        {
          version,
          store: name,
        },
      );
    }
    const indexes: Record<string, Required<IndexLayout>> = {};
    for (const [indexName, declaration] of Object.entries(store.indexes ?? {})) {
      indexes[indexName] = Object.freeze(normalizeIndex(version, name, indexName, declaration));
    }
    stores[name] = Object.freeze({
      keyPath: copyKeyPath(keyPath),
      autoIncrement,
      indexes: Object.freeze(indexes),
    });
  }
  return Object.freeze(stores);
}

/** True when two key paths are the same (arrays compared element by element). */
export function sameKeyPath(a: KeyPath | null, b: KeyPath | null): boolean {
  if (typeof a === 'string' || a === null || typeof b === 'string' || b === null) return a === b;
  return a.length === b.length && a.every((part, i) => part === b[i]);
}

/** True when a store's key cannot be kept as is: its key path or key generator changed. */
export function keyChanged(a: NormalizedStore, b: NormalizedStore): boolean {
  return !sameKeyPath(a.keyPath, b.keyPath) || a.autoIncrement !== b.autoIncrement;
}

/** True when an index must be recreated to match the declaration. */
export function indexChanged(a: Required<IndexLayout>, b: Required<IndexLayout>): boolean {
  return !sameKeyPath(a.keyPath, b.keyPath) || a.unique !== b.unique || a.multiEntry !== b.multiEntry;
}

/**
 * Reads the layout a database really has, through a transaction covering the stores (the upgrade's). `fresh`
 * holds index handles (by `store + NUL + index`) to read instead of asking the store for them.
 */
export function readLayout(
  db: IDBDatabase,
  transaction: IDBTransaction,
  fresh?: ReadonlyMap<string, IDBIndex>,
): NormalizedLayout {
  const stores: Record<string, NormalizedStore> = {};
  for (const name of Array.from(db.objectStoreNames)) {
    const store = transaction.objectStore(name);
    const indexes: Record<string, Required<IndexLayout>> = {};
    for (const indexName of Array.from(store.indexNames)) {
      const index = fresh?.get(`${name}\u0000${indexName}`) ?? store.index(indexName);
      indexes[indexName] = {
        keyPath: copyKeyPath(index.keyPath) ?? '',
        unique: index.unique,
        multiEntry: index.multiEntry,
      };
    }
    stores[name] = { keyPath: copyKeyPath(store.keyPath), autoIncrement: store.autoIncrement, indexes };
  }
  return stores;
}

/** Lists every difference between a declared layout and a found one; empty when they match. */
export function compareLayouts(expected: NormalizedLayout, found: NormalizedLayout): LayoutDifference[] {
  const differences: LayoutDifference[] = [];
  for (const store of new Set([...Object.keys(expected), ...Object.keys(found)])) {
    const want = expected[store];
    const have = found[store];
    compareEntries(differences, { store }, want, have, ['keyPath', 'autoIncrement']);
    if (want === undefined || have === undefined) continue;
    for (const index of new Set([...Object.keys(want.indexes), ...Object.keys(have.indexes)])) {
      compareEntries(differences, { store, index }, want.indexes[index], have.indexes[index], [
        'keyPath',
        'unique',
        'multiEntry',
      ]);
    }
  }
  return differences;
}

/** Adds the differences of one store (`where` is `{ store }`) or index (`{ store, index }`), missing on one side or not. */
function compareEntries<T extends NormalizedStore | Required<IndexLayout>>(
  differences: LayoutDifference[],
  where: { readonly store: string; readonly index?: string },
  want: T | undefined,
  have: T | undefined,
  properties: readonly (keyof T & string)[],
): void {
  if (want === undefined || have === undefined) {
    differences.push({
      ...where,
      property: where.index === undefined ? 'store' : 'index',
      expected: want !== undefined,
      found: have !== undefined,
    });
    return;
  }
  for (const property of properties) {
    const same = property === 'keyPath' ? sameKeyPath(want.keyPath, have.keyPath) : want[property] === have[property];
    if (!same) differences.push({ ...where, property, expected: want[property], found: have[property] });
  }
}

/** Formats layout differences one per line, for error messages. */
export function formatDifferences(differences: readonly LayoutDifference[]): string {
  return differences
    .map((d) => {
      const where = d.index === undefined ? `store "${d.store}"` : `index "${d.store}.${d.index}"`;
      if (d.property === 'store' || d.property === 'index') {
        return `${where}: expected ${d.expected ? 'present' : 'absent'}, found ${d.found ? 'present' : 'absent'}`;
      }
      return `${where} ${d.property}: expected ${JSON.stringify(d.expected)}, found ${JSON.stringify(d.found)}`;
    })
    .join('; ');
}

/** Creates a store with its indexes, exactly as declared. */
export function createStore(db: IDBDatabase, name: string, layout: NormalizedStore): IDBObjectStore {
  const store = db.createObjectStore(name, {
    keyPath: layout.keyPath === null ? null : (layout.keyPath as string | string[]),
    autoIncrement: layout.autoIncrement,
  });
  for (const [indexName, index] of Object.entries(layout.indexes)) createIndex(store, indexName, index);
  return store;
}

/** Creates an index exactly as declared. */
export function createIndex(store: IDBObjectStore, name: string, index: Required<IndexLayout>): IDBIndex {
  return store.createIndex(name, index.keyPath as string | string[], {
    unique: index.unique,
    multiEntry: index.multiEntry,
  });
}

/** Which layout of a version a database has: the declared one or a named alternative, else how it differs. */
export interface LayoutMatch {
  /** The alternative found, by name; null for the declared layout (or for none). */
  readonly alternative: string | null;
  /** How the database differs from the declared layout when it matches none; empty when it matches one. */
  readonly differences: readonly LayoutDifference[];
}

/**
 * Compares a found layout with a version's declared layout, then with each of its alternatives in order; the
 * differences reported when none matches are those from the declared layout.
 */
export function matchLayout(
  declared: NormalizedLayout,
  alternatives: readonly { readonly name: string; readonly layout: NormalizedLayout }[],
  found: NormalizedLayout,
): LayoutMatch {
  const differences = compareLayouts(declared, found);
  if (differences.length === 0) return { alternative: null, differences };
  const alternative = alternatives.find(({ layout }) => compareLayouts(layout, found).length === 0);
  return alternative === undefined
    ? { alternative: null, differences }
    : { alternative: alternative.name, differences: [] };
}
