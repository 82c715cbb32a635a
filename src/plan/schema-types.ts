/**
 * Types that flow from a plan to the code that uses it: store names, key types, index names and record types per
 * version. Type-level only: nothing here exists at run time, so typed plans cost nothing in the bundle.
 *
 * How a version's pieces are captured: `definePlan` infers one type per version from three of its properties at
 * once (`version`, `stores`, `validators`), and TypeScript joins the three literal candidates into a union such as
 * `2 | { notes: {...} } | { notes: Validator }`. The helpers below take that union apart again: the number is the
 * version, values with a `~standard` property are validators, other object values are store layouts. (Two type
 * parameters, one per property, cannot be inferred from one tuple of versions; one parameter can.)
 */
/** A record whose shape the plan does not declare: an object with fields of unknown type. */
export type UntypedRecord = Record<string, unknown>;

/** Record types by store name, as a step sees them. */
export type StoreRecords = { readonly [store: string]: unknown };

/** What a step sees when nothing is known about the plan (a step written on its own): any store, untyped records. */
export type UntypedRecords = { readonly [store: string]: UntypedRecord };

/** The store names of a {@link StoreRecords} map. */
export type StoreName<Records extends StoreRecords> = keyof Records & string;

/** Anything with the Standard Schema property: how validators are told apart from store layouts. */
type ValidatorLike = { readonly '~standard': unknown };

// The object members of a version's union (layouts and validator maps), and the values they hold at `K`.
type Pieces<E> = E extends object ? E : never;
type KeysOf<E> = E extends object ? keyof E : never;
type ValueAt<E, K> = E extends object ? (K extends keyof E ? E[K] : never) : never;
type LayoutAt<E, K> = Exclude<ValueAt<Pieces<E>, K>, undefined | ValidatorLike>;
type ValidatorAt<E, K> = Extract<ValueAt<Pieces<E>, K>, ValidatorLike>;

/** The store names a version declares (`E` is the version's type as `definePlan` captured it). */
export type VersionStoreName<E> = {
  [K in KeysOf<Pieces<E>>]: [LayoutAt<E, K>] extends [never] ? never : K;
}[KeysOf<Pieces<E>>] &
  string;

/** The record type a Standard Schema validator outputs; `unknown` when it does not say. */
type OutputOf<V> = V extends { readonly '~standard': { readonly types?: infer T } }
  ? NonNullable<T> extends { readonly output: infer O }
    ? O
    : unknown
  : unknown;

/** Records of a store without a validator: objects for in-line keys (IndexedDB requires them), anything else. */
type FallbackRecord<Layout> = Layout extends { readonly keyPath: string | readonly string[] } ? UntypedRecord : unknown;

/** The record type of store `K` at a version, from its validator: `unknown` when it has none. */
type KnownRecordAt<E, K> = [ValidatorAt<E, K>] extends [never] ? unknown : OutputOf<ValidatorAt<E, K>>;

/** The record type of store `K` as visitors see it: the validator's output, or the untyped fallback. */
type RecordAt<E, K> = [ValidatorAt<E, K>] extends [never]
  ? FallbackRecord<LayoutAt<E, K>>
  : OutputOf<ValidatorAt<E, K>>;

/** Record types by store at a version (validator output, else an untyped fallback). */
export type VersionRecords<E> = { readonly [K in VersionStoreName<E>]: RecordAt<E, K> };

/** Record types by store at a version that its validators declare; `unknown` for the others (nothing to check). */
export type KnownVersionRecords<E> = { readonly [K in VersionStoreName<E>]: KnownRecordAt<E, K> };

/**
 * The stores a step of version `E` can use, with their record types: the version's own, and those of the version
 * before (`P`) that this one drops or renames, which steps may still read while they run.
 */
export type StepRecords<E, P> = VersionRecords<E> & {
  readonly [K in Exclude<VersionStoreName<P>, VersionStoreName<E>>]: RecordAt<P, K>;
};

/**
 * What a step helper writes, by store, when its record type is known; checked against the version's validators.
 * Symbols are `unchanged` and `remove`, which write nothing (and records cannot be symbols).
 */
export type StepWrites<S extends string, To> = [Exclude<To, symbol>] extends [never]
  ? Record<never, never>
  : UntypedRecord extends Exclude<To, symbol>
    ? Record<never, never>
    : { readonly [K in S]: Exclude<To, symbol> };

// ---- Keys and indexes, for PlanSchema -------------------------------------------------------------------------

/** The value at a dotted path of `T`, or `undefined` when the type does not have it. */
type FieldAt<T, Path extends string> = Path extends `${infer Head}.${infer Rest}`
  ? Head extends keyof T
    ? FieldAt<NonNullable<T[Head]>, Rest>
    : undefined
  : Path extends keyof T
    ? T[Path]
    : undefined;

/** The key an in-line key path reads from a record: the field's type where it is a valid key, else any key. */
type KeyAt<T, KeyPath> = KeyPath extends string
  ? Extract<FieldAt<T, KeyPath>, IDBValidKey> extends infer Key
    ? [Key] extends [never]
      ? IDBValidKey
      : Key
    : never
  : KeyPath extends readonly string[]
    ? { -readonly [I in keyof KeyPath]: KeyAt<T, KeyPath[I]> }
    : IDBValidKey;

/** A store's primary key type: generated numbers, the in-line key path's field, or any key (out-of-line). */
type PrimaryKeyOf<Layout, T> = Layout extends { readonly autoIncrement: true }
  ? number
  : Layout extends { readonly keyPath: infer KeyPath extends string | readonly string[] }
    ? KeyAt<T, KeyPath>
    : IDBValidKey;

type IndexKeyPath<Declaration> = Declaration extends { readonly keyPath: infer KeyPath } ? KeyPath : Declaration;

/** An index's key: its key path's field; each element of an array field for `multiEntry`. */
type IndexKeyOf<Declaration, T> = Declaration extends { readonly multiEntry: true }
  ? KeyAt<T, IndexKeyPath<Declaration>> extends infer Key
    ? Key extends readonly (infer Element)[]
      ? Extract<Element, IDBValidKey>
      : Key
    : never
  : KeyAt<T, IndexKeyPath<Declaration>>;

type IndexesOf<Layout, T> = Layout extends { readonly indexes: infer Indexes }
  ? { [Name in keyof Indexes & string]: IndexKeyOf<Indexes[Name], T> }
  : Record<never, never>;

/** The `version` a version's type declares. */
type VersionNumberOf<E> = Extract<E, number>;

/** The captured version type of `P` at version `V`. */
type VersionAt<P, V> = P extends { readonly '~versions'?: infer Versions extends readonly unknown[] }
  ? { [I in keyof Versions]: [V] extends [VersionNumberOf<Versions[I]>] ? Versions[I] : never }[number]
  : never;

/** The newest version number of a plan type. */
type LatestVersion<P> = P extends { readonly '~versions'?: readonly [...unknown[], infer Last] }
  ? VersionNumberOf<Last>
  : number;

/**
 * The plan's stores at version `V` (default: the latest) in the shape of idb's `DBSchema`: for each store its
 * `key`, its record `value` and its `indexes` by name. Record types come from the version's validators (their
 * Standard Schema output type); stores without one hold `Record<string, unknown>` (in-line keys) or `unknown`.
 * `Overrides` replaces record types by store, for stores whose type the plan does not know.
 *
 * @example
 * ```ts
 * import { wrap, type IDBPDatabase } from 'idb'
 * const { db } = await openDatabase('app', plan)
 * const typed = wrap(db) as IDBPDatabase<PlanSchema<typeof plan>>
 * const note = await typed.get('notes', 1) // the notes validator's output type, or undefined
 * ```
 */
export type PlanSchema<
  P,
  V extends number = LatestVersion<P>,
  Overrides extends StoreRecords = Record<never, never>,
> = {
  [K in VersionStoreName<VersionAt<P, V>>]: SchemaEntry<
    LayoutAt<VersionAt<P, V>, K>,
    K extends keyof Overrides ? Overrides[K] : RecordAt<VersionAt<P, V>, K>
  >;
};

/** One store of a {@link PlanSchema}. */
type SchemaEntry<Layout, T> = {
  key: PrimaryKeyOf<Layout, T>;
  value: T;
  indexes: IndexesOf<Layout, T>;
};

/** The store names of a plan at version `V` (default: the latest). */
export type PlanStoreName<P, V extends number = LatestVersion<P>> = VersionStoreName<VersionAt<P, V>>;

/** The record type of one store of a plan at version `V` (default: the latest). */
export type PlanRecord<P, Store extends PlanStoreName<P, V>, V extends number = LatestVersion<P>> = RecordAt<
  VersionAt<P, V>,
  Store
>;

/** Dotted field paths of a record type, a few levels deep; any string when the type does not list its fields. */
export type FieldPath<T, Depth extends readonly unknown[] = []> = string extends keyof T
  ? string
  : T extends object
    ? {
        [K in keyof T & string]:
          | K
          | (Depth['length'] extends 3
              ? never
              : NonNullable<T[K]> extends readonly unknown[] | Date | ArrayBuffer | Blob
                ? never
                : NonNullable<T[K]> extends object
                  ? `${K}.${FieldPath<NonNullable<T[K]>, [...Depth, 0]>}`
                  : never);
      }[keyof T & string]
    : string;
