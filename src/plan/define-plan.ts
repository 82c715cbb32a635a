import { PlanError } from '../errors.js';
import { keyChanged, normalizeLayout, type DatabaseLayout, type NormalizedLayout } from './layout.js';
import { NO_TRANSITION, type VersionTransition, versionTransition } from './transition.js';
import { isStandardSchema, type StandardSchemaV1 } from './standard-schema.js';
import type { Step } from '../upgrade/step-store.js';
import type { ValidationScope } from '../upgrade/validation.js';
import type { KnownVersionRecords, StepRecords, VersionStoreName } from './schema-types.js';

/** One version of a plan as the app declares it. */
export interface VersionDefinition {
  /** A positive integer; versions must be listed in increasing order. */
  readonly version: number;
  /** The complete layout at this version: every store that exists, not only the changes. */
  readonly stores: DatabaseLayout;
  /** Data steps run, in order, when a database is upgraded to this version (never on a fresh install). */
  readonly steps?: readonly Step[];
  /**
   * Record validators by store name (Standard Schema: zod, valibot, arktype, ...). Each holds for every record of
   * its store when the version completes: the state between two steps of the version is never checked, and
   * records no step rewrote are read and checked too (by the last step's walk of the store when it walks it whole,
   * else by one read pass at the version's end). The first record that fails aborts the upgrade with
   * `validation_failed`.
   */
  readonly validators?: Readonly<Record<string, StandardSchemaV1>>;
  /**
   * Which records the validators check: `all` (default), or `written`, only records a step of this version wrote:
   * no read pass over untouched records, for huge stores whose old records the app accepts not to check.
   */
  readonly validate?: ValidationScope;
  /** A human description, shown in reports and plan documentation. */
  readonly description?: string;
  /**
   * Other layouts databases at this version are known to have (one upgraded through old releases kept an index
   * that a fresh install never had), each with the steps that bring it to `stores`. The layout check accepts them
   * and names the one it found; the next upgrade first runs that alternative's transition (layout diff, then its
   * steps) as if it were a version of its own.
   */
  readonly alternatives?: readonly AlternativeLayout[];
  /**
   * How to carry records of this version back to the previous one, by store: used by
   * `openDatabase({ downgrade: 'restore-snapshot' })` so that data written since the upgrade survives a rollback.
   * Keyed by the store names of this version; a store this version renamed goes back to its old name. Every
   * version being undone must declare `down` (an empty object when records need no change); records of stores
   * that do not exist before this version are dropped. Return `remove` to drop a record.
   */
  readonly down?: Readonly<Record<string, DownTransform>>;
}

/** A layout a version's databases may have instead of the declared one, and how to bring it to the declared one. */
export interface AlternativeLayout {
  /** Names it in reports, errors and the open result; unique within its version. */
  readonly name: string;
  /** The complete layout such databases have. */
  readonly stores: DatabaseLayout;
  /** Data steps run after the layout diff, when a database with this layout is upgraded (default: none). */
  readonly steps?: readonly Step[];
}

/** Turns a record of a version into the record of the version before it, or `remove`; `primaryKey` is its key. */
export type DownTransform = (value: any, primaryKey: IDBValidKey | undefined) => unknown;

/**
 * The versions {@link definePlan} takes, typed from what it inferred: `Versions` holds one type per version, the
 * union of its `version`, `stores` and `validators` (see schema-types.ts). Each version's steps are then typed
 * against that version: helpers must name its stores (or the previous version's), inline steps get a
 * {@link StepContext} whose `store(name)` knows the stores and their record types. The plain types after each `|`
 * keep plans built from values of type {@link VersionDefinition} (whose literals are lost) compiling, untyped.
 */
export type VersionInputs<Versions extends readonly unknown[]> = {
  readonly [I in keyof Versions]: {
    readonly version: (Versions[I] & number) | NoInfer<number & Record<never, never>>;
    readonly stores: (Versions[I] & DatabaseLayout) | NoInfer<DatabaseLayout>;
    readonly validators?:
      | (Versions[I] & Readonly<Record<string, StandardSchemaV1>>)
      | NoInfer<Readonly<Record<string, StandardSchemaV1>>>;
    // `| readonly []` makes TypeScript type an inline array of steps as a tuple, element by element: as a plain
    // array its element types would be merged first, and a step with a misspelled store could vanish into a
    // wider one (a plain `Step`) before the check.
    readonly steps?: NoInfer<readonly VersionStep<Versions[I], PreviousOf<Versions, I>>[] | readonly []>;
    readonly validate?: ValidationScope;
    readonly description?: string;
    readonly alternatives?: readonly AlternativeLayout[];
    readonly down?: Readonly<Record<string, DownTransform>>;
  };
};

/** The version before index `I` (`unknown` for the first): shifting the tuple by one reads it. */
type PreviousOf<Versions extends readonly unknown[], I> = [unknown, ...Versions][I & keyof [unknown, ...Versions]];

/**
 * A step as a version accepts it: using its stores or the previous version's, writing records its validators
 * accept. A version whose stores the compiler could not see (built from plain values) takes any step.
 */
export type VersionStep<E, P> = [VersionStoreName<E>] extends [never]
  ? Step
  : Step<
      StepRecords<E, P>,
      VersionStoreName<E> | VersionStoreName<P>,
      { readonly [K in keyof KnownVersionRecords<E>]?: KnownVersionRecords<E>[K] }
    >;

/** The last element of a tuple of versions. */
type LastOf<Versions extends readonly unknown[]> = Versions extends readonly [...unknown[], infer Last]
  ? Last
  : unknown;

/** What {@link definePlan} takes; `Versions` is inferred (see {@link VersionInputs}). */
export interface TypedPlanDefinition<Versions extends readonly unknown[]> {
  /** Every version the app has ever shipped, oldest first. Keep old versions: they say how to migrate from them. */
  readonly versions: VersionInputs<Versions>;
  /** Runs once when a database is created from nothing, after the final layout is in place: initial records. */
  readonly seed?: NoInfer<VersionStep<LastOf<Versions>, unknown>>;
}

/** A plan definition without types: what {@link definePlan} takes when its versions are built from plain values. */
export interface PlanDefinition {
  /** Every version the app has ever shipped, oldest first. Keep old versions: they say how to migrate from them. */
  readonly versions: readonly VersionDefinition[];
  /** Runs once when a database is created from nothing, after the final layout is in place: initial records. */
  readonly seed?: Step;
}

/** An {@link AlternativeLayout} once checked: its layout normalized, its transition to the declared one computed. */
export interface PlannedAlternative {
  readonly name: string;
  readonly layout: NormalizedLayout;
  readonly steps: readonly Step[];
  readonly transition: VersionTransition;
}

/** One version of a validated plan, with its layout normalized. */
export interface PlannedVersion {
  readonly version: number;
  readonly layout: NormalizedLayout;
  readonly steps: readonly Step[];
  /** How the steps rename and rebuild stores, computed once when the plan is defined. */
  readonly transition: VersionTransition;
  readonly validators: Readonly<Record<string, StandardSchemaV1>>;
  /** Which records the validators check at the version's end. */
  readonly validate: ValidationScope;
  /** Other layouts this version's databases may have. */
  readonly alternatives: readonly PlannedAlternative[];
  readonly description: string | undefined;
  readonly down: Readonly<Record<string, DownTransform>> | undefined;
}

/**
 * A validated, immutable plan: the only thing {@link openDatabase} accepts. `Versions` carries, for the types only,
 * what `definePlan` inferred of each version; read it through {@link PlanSchema}.
 */
export interface Plan<Versions extends readonly unknown[] = readonly unknown[]> {
  /** Type-level only, never set: the versions as `definePlan` inferred them, for {@link PlanSchema}. */
  readonly '~versions'?: Versions;
  /** Versions in increasing order. */
  readonly versions: readonly PlannedVersion[];
  /** The highest version. */
  readonly latest: number;
  /** Step run on fresh databases, if any. */
  readonly seed: Step | undefined;
  /** The version entry for `version`, or undefined when the plan has no such version. */
  get(version: number): PlannedVersion | undefined;
}

function checkStep(step: unknown, version: number, index: number, names: Set<string>): Step {
  const candidate = step as Partial<Step> | null;
  const context = { version, stepIndex: index };
  if (typeof candidate !== 'object' || candidate === null) {
    throw new PlanError('invalid_step', `Step ${index} must be an object { name, stores, run }`, context);
  }
  if (typeof candidate.name !== 'string' || candidate.name === '') {
    throw new PlanError('invalid_step', `Step ${index} needs a non-empty name`, context);
  }
  const named = { ...context, step: candidate.name };
  if (names.has(candidate.name)) {
    throw new PlanError(
      'invalid_step',
      `Two steps share the name "${candidate.name}": names identify steps in errors`,
      named,
    );
  }
  names.add(candidate.name);
  if (typeof candidate.run !== 'function') {
    throw new PlanError('invalid_step', 'Step has no run function', named);
  }
  if (!Array.isArray(candidate.stores) || !candidate.stores.every((s) => typeof s === 'string')) {
    throw new PlanError('invalid_step', 'Step must list the stores it uses in `stores`', named);
  }
  const records = candidate.records;
  if (
    records !== undefined &&
    (typeof records.visitor !== 'function' || candidate.stores.length !== 1 || candidate.stores[0] !== records.store)
  ) {
    throw new PlanError(
      'invalid_step',
      'A record-level step (`records`) needs a `visitor` and must list its one store, `records.store`, as its only store',
      named,
    );
  }
  return candidate as Step;
}

/**
 * Checks a plan and freezes it. Everything that can be known before touching a database is checked here, so
 * that a wrong plan fails in development, on its first import, with a {@link PlanError} naming the version.
 * The types do part of it earlier still: the returned plan keeps every version's store names, key paths, index
 * names and validator types (read them with {@link PlanSchema}), and each version's steps must name its stores.
 *
 * @example
 * ```ts
 * const plan = definePlan({
 *   versions: [
 *     { version: 1, stores: { notes: { keyPath: 'id' } } },
 *     {
 *       version: 2,
 *       stores: { notes: { keyPath: 'id', indexes: { byTitle: 'title' } } },
 *       steps: [renameField('notes', 'name', 'title')],
 *     },
 *   ],
 * })
 * ```
 */
export function definePlan<const Versions extends readonly unknown[]>(
  definition: TypedPlanDefinition<Versions>,
): Plan<Versions> {
  // The types only shape what callers may write; checking works on the plain definition, whatever was passed.
  const plain = definition as unknown as PlanDefinition;
  if (typeof plain !== 'object' || plain === null || !Array.isArray(plain.versions)) {
    throw new PlanError('invalid_plan', 'definePlan takes { versions: [...] }');
  }
  if (plain.versions.length === 0) {
    throw new PlanError('invalid_plan', 'A plan needs at least one version');
  }
  const versions: PlannedVersion[] = [];
  let previous: PlannedVersion | undefined;
  for (const declared of plain.versions) {
    previous = planVersion(declared, previous);
    versions.push(previous);
  }
  const seed = plain.seed === undefined ? undefined : checkStep(plain.seed, previous!.version, 0, new Set());
  if (seed !== undefined) checkStores(seed, previous!.layout, new Set(), previous!.version, 0);
  const byVersion = new Map(versions.map((v) => [v.version, v]));
  return Object.freeze({
    versions: Object.freeze(versions),
    latest: previous!.version,
    seed,
    get: (version: number) => byVersion.get(version),
  });
}

/** Checks one declared version against the one before it and freezes it. */
function planVersion(declared: VersionDefinition, previous: PlannedVersion | undefined): PlannedVersion {
  const version = checkVersionNumber(declared, previous);
  const layout = normalizeLayout(version, declared.stores);
  const validators = checkValidators(declared, layout, version);
  checkDown(declared, layout, version);
  const names = new Set<string>();
  const declaredSteps: readonly Step[] = declared.steps ?? [];
  const steps = declaredSteps.map((step, index) => checkStep(step, version, index, names));
  if (previous === undefined && steps.length > 0) {
    throw new PlanError(
      'invalid_step',
      'The first version cannot have steps: a database is created at its final layout directly, so they would never run. Use `seed` for initial records',
      { version },
    );
  }
  const transition = previous === undefined ? NO_TRANSITION : checkTransition(previous.layout, layout, steps, version);
  return Object.freeze({
    version,
    layout,
    steps: Object.freeze(steps),
    transition,
    validators: Object.freeze(validators),
    validate: checkScope(declared, version),
    alternatives: Object.freeze(
      (declared.alternatives ?? []).map((alternative, index, all) =>
        checkAlternative(alternative, index, all, layout, version),
      ),
    ),
    description: declared.description,
    down: declared.down === undefined ? undefined : Object.freeze({ ...declared.down }),
  });
}

function checkVersionNumber(declared: VersionDefinition, previous: PlannedVersion | undefined): number {
  const version = (declared as Partial<VersionDefinition> | null)?.version;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new PlanError('invalid_version', `Version ${String(version)} is not a positive integer`, {
      ...(typeof version === 'number' ? { version } : {}),
    });
  }
  if (previous !== undefined && version === previous.version) {
    throw new PlanError('duplicate_version', `Version ${version} is declared twice`, { version });
  }
  if (previous !== undefined && version < previous.version) {
    throw new PlanError(
      'version_order',
      `Version ${version} comes after version ${previous.version}: list versions in increasing order`,
      { version },
    );
  }
  return version;
}

function checkValidators(
  declared: VersionDefinition,
  layout: NormalizedLayout,
  version: number,
): Record<string, StandardSchemaV1> {
  const validators: Record<string, StandardSchemaV1> = {};
  for (const [store, validator] of Object.entries(declared.validators ?? {})) {
    if (!(store in layout)) {
      throw new PlanError(
        'unknown_store',
        `Validator for store "${store}", which version ${version} does not declare`,
        {
          version,
          store,
        },
      );
    }
    if (!isStandardSchema(validator)) {
      throw new PlanError(
        'invalid_validator',
        'Validators must implement Standard Schema v1 (zod 4, valibot, arktype, ...)',
        {
          version,
          store,
        },
      );
    }
    validators[store] = validator;
  }
  return validators;
}

/** Checks one alternative layout of a version: a name of its own, a valid layout, steps that fit its transition. */
function checkAlternative(
  alternative: AlternativeLayout,
  index: number,
  all: readonly AlternativeLayout[],
  declared: NormalizedLayout,
  version: number,
): PlannedAlternative {
  const name = (alternative as Partial<AlternativeLayout> | null)?.name;
  if (typeof name !== 'string' || name === '' || all.findIndex((other) => other?.name === name) !== index) {
    throw new PlanError('invalid_plan', `Alternative layout ${index} of version ${version} needs a name of its own`, {
      version,
    });
  }
  const layout = normalizeLayout(version, alternative.stores);
  const names = new Set<string>();
  const steps = (alternative.steps ?? []).map((step, stepIndex) => checkStep(step, version, stepIndex, names));
  const transition = checkTransition(layout, declared, steps, version);
  return Object.freeze({ name, layout, steps: Object.freeze(steps), transition });
}

function checkScope(declared: VersionDefinition, version: number): ValidationScope {
  const scope = declared.validate ?? 'all';
  if (scope !== 'all' && scope !== 'written') {
    throw new PlanError('invalid_validator', `validate must be "all" or "written", got ${JSON.stringify(scope)}`, {
      version,
    });
  }
  return scope;
}

function checkDown(declared: VersionDefinition, layout: NormalizedLayout, version: number): void {
  for (const [store, transform] of Object.entries(declared.down ?? {})) {
    if (!(store in layout)) {
      throw new PlanError(
        'unknown_store',
        `down transform for store "${store}", which version ${version} does not declare`,
        {
          version,
          store,
        },
      );
    }
    if (typeof transform !== 'function') {
      throw new PlanError('invalid_step', `down transform for store "${store}" must be a function`, { version, store });
    }
  }
}

function checkStores(
  step: Step,
  layout: NormalizedLayout,
  leaving: Set<string>,
  version: number,
  stepIndex: number,
): void {
  for (const store of step.stores) {
    if (!(store in layout) && !leaving.has(store)) {
      throw new PlanError('unknown_store', `Step uses store "${store}", which does not exist at this version`, {
        version,
        step: step.name,
        stepIndex,
        store,
      });
    }
  }
}

/**
 * Checks the steps of one version against the layouts before and after it, and returns how they move stores: stores
 * they name must exist then, renames must move an existing store to a new name, and a store whose key changes must
 * be rebuilt.
 */
function checkTransition(
  before: NormalizedLayout,
  after: NormalizedLayout,
  steps: readonly Step[],
  version: number,
): VersionTransition {
  const transition = versionTransition(before, after, steps, version);
  const { existing, rebuilt } = transition;
  const leaving = new Set(existing.keys());
  steps.forEach((step, stepIndex) => {
    checkStores(step, after, leaving, version, stepIndex);
  });
  for (const [name, store] of Object.entries(after)) {
    const old = existing.get(name);
    if (old !== undefined && keyChanged(old, store) && !rebuilt.has(name)) {
      throw new PlanError(
        'key_path_changed',
        `Store "${name}" changes its keyPath or autoIncrement, which IndexedDB cannot do in place: add rebuildStore("${name}") to version ${version}`,
        { version, store: name },
      );
    }
  }
  return transition;
}
