import type { IndexLayout, KeyPath } from '../plan/layout.js';

/** Reads the value at an in-line key path the way IndexedDB does for plain data. */
export function evaluateKeyPath(value: unknown, keyPath: KeyPath): unknown {
  if (typeof keyPath !== 'string') return keyPath.map((part) => evaluateKeyPath(value, part));
  if (keyPath === '') return value;
  // One property, the usual key path: read without splitting (this runs once or twice per record of a walk).
  if (!keyPath.includes('.'))
    return value === null || value === undefined ? undefined : (value as Record<string, unknown>)[keyPath];
  let current: unknown = value;
  for (const part of keyPath.split('.')) {
    if (current === null || current === undefined) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/**
 * A string standing for a key, for lookups: keys IndexedDB tells apart get different strings. Every part starts
 * with a marker that no other kind of part starts with, so joining them cannot make two keys collide. (Written here
 * rather than taken from the snapshot codec, which every app would then ship.)
 */
export function keyId(key: IDBValidKey): string {
  if (typeof key === 'string') return JSON.stringify(key);
  if (typeof key === 'number') return `n${key}`;
  if (key instanceof Date) return `d${key.getTime()}`;
  if (Array.isArray(key)) return `[${key.map(keyId).join()}]`;
  const bytes = ArrayBuffer.isView(key)
    ? new Uint8Array(key.buffer, key.byteOffset, key.byteLength)
    : new Uint8Array(key);
  return `b${bytes.join('.')}`;
}

/** True when `value` is a valid IndexedDB key (the factory's `cmp` is the judge, as the engine's own rules are). */
export function isValidKey(factory: IDBFactory, value: unknown): value is IDBValidKey {
  if (value === undefined) return false;
  try {
    factory.cmp(value, value);
    return true;
  } catch {
    return false;
  }
}

/**
 * The keys a record has in an index, as IndexedDB computes them: none when the key path does not give a valid key
 * (the record is simply not in the index), each distinct valid element of an array for a multiEntry index.
 */
export function indexEntries(factory: IDBFactory, value: unknown, index: Required<IndexLayout>): IDBValidKey[] {
  const indexKey = evaluateKeyPath(value, index.keyPath);
  if (index.multiEntry && Array.isArray(indexKey)) {
    return [...new Map(indexKey.filter((k) => isValidKey(factory, k)).map((k) => [keyId(k), k])).values()];
  }
  return isValidKey(factory, indexKey) ? [indexKey] : [];
}
