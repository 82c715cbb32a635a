import type { FieldPath, StepWrites, UntypedRecord, UntypedRecords } from '../plan/schema-types.js';
import {
  remove,
  unchanged,
  type RebuildStoreStructure,
  type RecordVisitor,
  type Step,
  type StepContext,
  type WalkOptions,
} from './step-store.js';

/**
 * The store argument of a helper: the literal name when it was inferred (so `definePlan` can check it against the
 * version), any string when the caller gave the record types explicitly and the name could not be inferred.
 */
export type StoreArgument<S extends string> = [S] extends [never] ? string : S;

/**
 * What a helper returns: a {@link Step} that records, for the compiler, the stores it names and what it writes, so
 * that `definePlan` rejects a store the version does not have and a record type its validator does not accept.
 */
export type HelperStep<S extends string, Writes = Record<never, never>> = Step<UntypedRecords, S, Writes>;

/** What a record transform returns: the record to write, or {@link remove} to drop it. */
export type RecordTransform<From, To> = (value: From, primaryKey: IDBValidKey) => To | typeof remove;

/** Options every step helper takes. */
export interface StepOptions {
  /** Overrides the generated step name (names must be unique within a version). */
  readonly name?: string;
}

/** Options of helpers that walk records. */
export interface WalkStepOptions extends StepOptions, Pick<WalkOptions, 'index' | 'range' | 'batchSize'> {}

type Path = readonly string[];

function parsePath(field: string): Path {
  if (typeof field !== 'string' || field === '') throw new TypeError('A field path must be a non-empty string');
  return field.split('.');
}

/** Finds the object holding the last segment of `path`, or undefined when an intermediate is missing. */
function parentOf(record: unknown, path: Path): Record<string, unknown> | undefined {
  let current = record;
  for (let i = 0; i < path.length - 1; i++) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[path[i]!];
  }
  return typeof current === 'object' && current !== null ? (current as Record<string, unknown>) : undefined;
}

/** A helper's arguments as text, functions by their source: what the schema history fingerprints. */
function sourceOf(helper: string, ...args: unknown[]): string {
  return `${helper}(${JSON.stringify(args, (_, value: unknown) => (typeof value === 'function' ? Function.prototype.toString.call(value) : value))})`;
}

function hasOwn(target: object, key: string): boolean {
  return Object.hasOwn(target, key);
}

/**
 * A step that walks one store with a visitor; the building block of the helpers, and handy on its own. `From` is
 * the record as stored, `To` as the visitor returns it: annotate the visitor (or pass both explicitly) to type a
 * shape-changing step. With an annotated visitor the store name stays checked against the version, and `To`
 * against its validator; explicit type arguments leave the name to the run-time check of `definePlan`.
 *
 * @example
 * ```ts
 * updateRecords('notes', (note: NoteV1): NoteV2 => ({ ...note, tags: [] }), { name: 'add tags' })
 * updateRecords<NoteV1, NoteV2>('notes', (note) => ({ ...note, tags: [] }), { name: 'add tags' })
 * ```
 */
export function updateRecords<From = UntypedRecord, To = From, const S extends string = never>(
  store: StoreArgument<S>,
  visitor: RecordVisitor<From, To>,
  options: WalkStepOptions & { readonly name: string },
): HelperStep<S, StepWrites<S, To>> {
  const { name, ...walk } = options;
  const run = async (context: StepContext): Promise<void> => {
    // The records are what the caller said they are: the types were checked where the step was declared.
    await context.store(store).walk(visitor as RecordVisitor<UntypedRecord, unknown>, walk);
  };
  const batch = walk.batchSize === undefined ? {} : { batchSize: walk.batchSize };
  return {
    name,
    stores: [store],
    run,
    // A walk of the whole store in key order can join a fused pass; an index or range walk cannot.
    ...(walk.index === undefined && walk.range === undefined && (walk as WalkOptions).direction === undefined
      ? { records: { store, visitor, run, ...batch } }
      : {}),
    source: sourceOf('updateRecords', store, visitor, walk),
  };
}

function walkStep<S extends string>(
  store: StoreArgument<S>,
  defaultName: string,
  options: WalkStepOptions,
  source: string,
  visitor: RecordVisitor<UntypedRecord>,
): HelperStep<S> {
  return { ...updateRecords(store, visitor, { ...options, name: options.name ?? defaultName }), source };
}

/** Options of {@link renameField}. */
export interface RenameFieldOptions extends WalkStepOptions {
  /** Overwrite the target field when a record already has it (default: fail the upgrade). */
  readonly overwrite?: boolean;
}

/**
 * Moves a field (dotted paths reach into nested objects) to a new name in every record that has it. Records
 * without the field are left untouched and not rewritten. A record that already has the target field fails the
 * upgrade unless `overwrite` is set, because one of the two values would be lost.
 */
export function renameField<From = UntypedRecord, To = UntypedRecord, const S extends string = never>(
  store: StoreArgument<S>,
  from: FieldPath<From>,
  to: FieldPath<To>,
  options: RenameFieldOptions = {},
): HelperStep<S> {
  const source = parsePath(from);
  const target = parsePath(to);
  const sourceKey = source[source.length - 1]!;
  const targetKey = target[target.length - 1]!;
  return walkStep(
    store,
    `renameField(${store}: ${from} -> ${to})`,
    options,
    sourceOf('renameField', store, from, to, options),
    (record) => {
      const holder = parentOf(record, source);
      if (holder === undefined || !hasOwn(holder, sourceKey)) return unchanged;
      const destination = parentOf(record, target);
      if (destination === undefined) {
        throw new Error(`Cannot rename "${from}" to "${to}": the parent of "${to}" is missing`);
      }
      if (hasOwn(destination, targetKey) && options.overwrite !== true) {
        throw new Error(`Cannot rename "${from}" to "${to}": the record already has "${to}" (pass overwrite: true)`);
      }
      const value = holder[sourceKey];
      delete holder[sourceKey];
      destination[targetKey] = value;
      return record;
    },
  );
}

/** Deletes a field from every record that has it; other records are not rewritten. `From` checks the field name. */
export function dropField<From = UntypedRecord, const S extends string = never>(
  store: StoreArgument<S>,
  field: FieldPath<From>,
  options: WalkStepOptions = {},
): HelperStep<S> {
  const path = parsePath(field);
  const key = path[path.length - 1]!;
  return walkStep(
    store,
    `dropField(${store}: ${field})`,
    options,
    sourceOf('dropField', store, field, options),
    (record) => {
      const holder = parentOf(record, path);
      if (holder === undefined || !hasOwn(holder, key)) return unchanged;
      delete holder[key];
      return record;
    },
  );
}

/** Options of {@link convertField}. */
export interface ConvertFieldOptions extends WalkStepOptions {
  /** Also call the converter for `null` and `undefined` values (default: they pass through unchanged). */
  readonly convertNullish?: boolean;
  /** Also call the converter when the field is missing (default: such records are skipped). */
  readonly convertMissing?: boolean;
}

/**
 * Replaces a field's value with `convert(value, record)`. Missing fields and `null`/`undefined` values pass
 * through untouched unless told otherwise, since a converter rarely means to handle them. A converter that
 * throws fails the upgrade with the record's key. `From` and `To` are the field's types before and after;
 * `Record` is the record as stored, which checks the field name when given.
 *
 * @example
 * ```ts
 * convertField('notes', 'createdAt', (iso: string) => new Date(iso))
 * ```
 */
export function convertField<From = unknown, To = unknown, Record = UntypedRecord, const S extends string = never>(
  store: StoreArgument<S>,
  field: FieldPath<Record>,
  convert: (value: From, record: Record) => To,
  options: ConvertFieldOptions = {},
): HelperStep<S> {
  const path = parsePath(field);
  const key = path[path.length - 1]!;
  return walkStep(
    store,
    `convertField(${store}: ${field})`,
    options,
    sourceOf('convertField', store, field, convert, options),
    (record) => {
      const holder = parentOf(record, path);
      if (holder === undefined) return unchanged;
      if (!hasOwn(holder, key) && options.convertMissing !== true) return unchanged;
      const value = holder[key];
      if ((value === null || value === undefined) && options.convertNullish !== true && hasOwn(holder, key))
        return unchanged;
      holder[key] = convert(value as From, record as Record);
      return record;
    },
  );
}

/**
 * Sets a field on every record where it is missing or `undefined`, to a value or to what a function computes
 * from the record. Records that have it are not rewritten. `To` is the record once it has the field, which checks
 * the field name when given.
 */
export function defaultValue<To = UntypedRecord, const S extends string = never>(
  store: StoreArgument<S>,
  field: FieldPath<To>,
  value: unknown,
  options: WalkStepOptions = {},
): HelperStep<S> {
  const path = parsePath(field);
  const key = path[path.length - 1]!;
  return walkStep(
    store,
    `defaultValue(${store}: ${field})`,
    options,
    sourceOf('defaultValue', store, field, value, options),
    (record) => {
      const holder = parentOf(record, path);
      if (holder === undefined) {
        throw new Error(`Cannot set a default for "${field}": its parent object is missing`);
      }
      if (holder[key] !== undefined) return unchanged;
      holder[key] = typeof value === 'function' ? (value as (record: unknown) => unknown)(record) : value;
      return record;
    },
  );
}

/**
 * Renames a store, keeping its records and indexes. Declare the store under its new name in this version's
 * layout (and not under the old one); index changes declared with it are applied after the rename.
 */
export function renameStore<const From extends string, const To extends string>(
  from: From,
  to: To,
  options: StepOptions = {},
): HelperStep<From | To> {
  return {
    name: options.name ?? `renameStore(${from} -> ${to})`,
    stores: [to],
    run: () => {},
    structure: { kind: 'rename-store', from, to },
    source: sourceOf('renameStore', from, to),
  };
}

/**
 * Copies every record of one store into another (declared in this version's layout), optionally transformed.
 * Return `remove` from the transform to skip a record. A key that already exists in the target fails the upgrade
 * (records are added, never overwritten). The source store is kept unless the layout drops it.
 */
export function copyStore<
  From = UntypedRecord,
  To = From,
  const Source extends string = never,
  const Target extends string = never,
>(
  from: StoreArgument<Source>,
  to: StoreArgument<Target>,
  transform?: RecordTransform<From, To>,
  options: WalkStepOptions = {},
): HelperStep<Source | Target, StepWrites<Target, To>> {
  const { name = `copyStore(${from} -> ${to})`, ...walk } = options;
  return {
    name,
    stores: [from, to],
    source: sourceOf('copyStore', from, to, transform, walk),
    run: async (context) => {
      const target = context.store(to);
      const outOfLine = target.keyPath === null;
      await context.store(from).walk((value, { primaryKey }) => {
        const copied: unknown = transform === undefined ? value : transform(value as From, primaryKey);
        if (copied === undefined)
          throw new Error('The copy transform returned undefined: return the record or `remove`');
        if (copied !== remove) {
          // add, not put: a key already in the target fails the upgrade instead of overwriting a record silently.
          // Not awaited: the request is queued in order, and its failure aborts the upgrade through the guard.
          void target.add(copied, outOfLine ? primaryKey : undefined).catch(() => {});
        }
        return unchanged;
      }, walk);
    },
  };
}

/**
 * Recreates a store whose key path or autoIncrement changes (IndexedDB cannot change them in place): the old
 * store is set aside, the new one is created from this version's layout, every record is copied over through
 * `transform` (which must give each record its new key), and the old one is deleted. Return `remove` from the
 * transform to drop a record.
 */
export function rebuildStore<From = UntypedRecord, To = From, const S extends string = never>(
  store: StoreArgument<S>,
  transform?: RecordTransform<From, To>,
  options: StepOptions = {},
): HelperStep<S, StepWrites<S, To>> {
  return {
    name: options.name ?? `rebuildStore(${store})`,
    stores: [store],
    run: () => {},
    structure: { kind: 'rebuild-store', store, transform: transform as RebuildStoreStructure['transform'] },
    source: sourceOf('rebuildStore', store, transform),
  };
}
