// The one data set and the one migration every benchmark case uses.
//
// Records are generated from their index alone (no shared PRNG state), so any case can rebuild record `i`, and
// every peer sees byte-identical data. JSON.stringify of a record is ~185 bytes (measured by `recordStats`).

/** Database layout at version 1 and 2 (unchanged by the migration): one store, in-line keys, one index. */
export const STORE = 'items';
export const KEY_PATH = 'id';
export const INDEX = 'category';

export interface ItemV1 {
  id: number;
  sku: string;
  title: string;
  category: string;
  price: string;
  qty: number;
  createdAt: Date;
  tags: string[];
  legacy: string;
}

export interface ItemV2 {
  id: number;
  sku: string;
  name: string;
  category: string;
  price: number;
  qty: number;
  createdAt: Date;
  tags: string[];
}

const WORDS = [
  'amber',
  'birch',
  'cedar',
  'delta',
  'ember',
  'fjord',
  'grove',
  'harbor',
  'iris',
  'juniper',
  'kelp',
  'lumen',
];
const TAGS = ['new', 'sale', 'eco', 'gift', 'bulk', 'rare', 'kids', 'home'];
const BASE_TIME = Date.UTC(2024, 0, 1);

/** Cheap integer hash (xorshift-multiply) so that fields vary without any shared state. */
function hash(n: number): number {
  let x = (n + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Record number `i` (1-based) at version 1. */
export function makeItem(i: number): ItemV1 {
  const h = hash(i);
  const w = (k: number): string => WORDS[(h >>> (k * 4)) % WORDS.length]!;
  return {
    id: i,
    sku: `S${String(i).padStart(7, '0')}`,
    title: `${w(0)} ${w(1)} ${w(2)} ${i % 997}`,
    category: `c-${String(h % 64).padStart(2, '0')}`,
    price: `${(h % 100000) / 100}`,
    qty: h % 500,
    createdAt: new Date(BASE_TIME + i * 37_000),
    tags: [TAGS[h % 8]!, TAGS[(h >>> 3) % 8]!],
    legacy: `L${(h % 46656).toString(36).padStart(3, '0')}-${w(3)}`,
  };
}

/**
 * The migration, in one pass, exactly as every single-pass peer runs it: rename `title` to `name`, convert `price`
 * from a string to a number, drop `legacy`. Changes the record in place and returns it.
 */
export function migrateItem(record: ItemV1 | ItemV2): ItemV2 {
  const r = record as unknown as Record<string, unknown>;
  r.name = r.title;
  delete r.title;
  r.price = Number(r.price);
  delete r.legacy;
  return r as unknown as ItemV2;
}

/** Record `i` after the migration; what every peer must have written. */
export function expectedItem(i: number): ItemV2 {
  return migrateItem(makeItem(i));
}

/** Average JSON size of the first `n` records, to document the record size. */
export function recordStats(n = 1000): { avgJsonBytes: number } {
  let bytes = 0;
  for (let i = 1; i <= n; i++) bytes += JSON.stringify(makeItem(i)).length;
  return { avgJsonBytes: bytes / n };
}

/** Keys spot-checked after every case: first, last and a few in between. */
export function sampleKeys(count: number): number[] {
  const keys = new Set([1, 2, Math.floor(count / 3), Math.floor(count / 2), count - 1, count]);
  return [...keys].filter((k) => k >= 1 && k <= count);
}

/** Structural equality for the plain data above (Dates by time). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, k) => sameValue(v, b[k]));
  }
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return (
      ka.length === kb.length &&
      ka.every(
        (k) => Object.hasOwn(b, k) && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
      )
    );
  }
  return Object.is(a, b);
}
