import { remove, unchanged, type RecordVisitor, type Step, type StepContext, type WalkOptions } from './step-store.js';

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
 * A step that walks one store with a visitor; the building block of the helpers, and handy on its own.
 *
 * @example
 * ```ts
 * updateRecords('notes', (note) => (note.archived ? remove : { ...note, title: note.title.trim() }), { name: 'trim titles' })
 * ```
 */
export function updateRecords<T = any>(
  store: string,
  visitor: RecordVisitor<T>,
  options: WalkStepOptions & { readonly name: string },
): Step {
  const { name, ...walk } = options;
  return {
    name,
    stores: [store],
    run: async (context: StepContext) => {
      await context.store<T>(store).walk(visitor, walk);
    },
    source: sourceOf('updateRecords', store, visitor, walk),
  };
}

function walkStep(
  store: string,
  defaultName: string,
  options: WalkStepOptions,
  source: string,
  visitor: RecordVisitor<any>,
): Step {
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
export function renameField(store: string, from: string, to: string, options: RenameFieldOptions = {}): Step {
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

/** Deletes a field from every record that has it; other records are not rewritten. */
export function dropField(store: string, field: string, options: WalkStepOptions = {}): Step {
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
 * throws fails the upgrade with the record's key.
 *
 * @example
 * ```ts
 * convertField('notes', 'createdAt', (iso: string) => new Date(iso))
 * ```
 */
export function convertField<From = any, To = unknown>(
  store: string,
  field: string,
  convert: (value: From, record: any) => To,
  options: ConvertFieldOptions = {},
): Step {
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
      holder[key] = convert(value as From, record);
      return record;
    },
  );
}

/**
 * Sets a field on every record where it is missing or `undefined`, to a value or to what a function computes
 * from the record. Records that have it are not rewritten.
 */
export function defaultValue(
  store: string,
  field: string,
  value: unknown | ((record: any) => unknown),
  options: WalkStepOptions = {},
): Step {
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
export function renameStore(from: string, to: string, options: StepOptions = {}): Step {
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
export function copyStore(
  from: string,
  to: string,
  transform?: (value: any, primaryKey: IDBValidKey) => unknown,
  options: WalkStepOptions = {},
): Step {
  const { name = `copyStore(${from} -> ${to})`, ...walk } = options;
  return {
    name,
    stores: [from, to],
    source: sourceOf('copyStore', from, to, transform, walk),
    run: async (context) => {
      const target = context.store(to);
      const outOfLine = target.keyPath === null;
      await context.store(from).walk((value, { primaryKey }) => {
        const copied = transform === undefined ? value : transform(value, primaryKey);
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
export function rebuildStore(
  store: string,
  transform?: (value: any, primaryKey: IDBValidKey) => unknown,
  options: StepOptions = {},
): Step {
  return {
    name: options.name ?? `rebuildStore(${store})`,
    stores: [store],
    run: () => {},
    structure: { kind: 'rebuild-store', store, transform },
    source: sourceOf('rebuildStore', store, transform),
  };
}
