import { IdbEvolveError } from '../errors.js';
import type { Plan } from '../plan/define-plan.js';
import { describeValue, type Fixtures, FixtureError } from './fixtures.js';
import { type MigrationOutcome, migrateFixtures, type TestingOptions } from './database.js';

/**
 * The part of a fast-check arbitrary that {@link checkMigration} needs to know the generated type; any
 * `fc.Arbitrary<T>` is one.
 */
export interface ArbitraryLike<T> {
  canShrinkWithoutContext(value: unknown): value is T;
}

/** The run details {@link checkMigration} reads from `fc.check`. */
export interface RunDetailsLike {
  readonly failed: boolean;
  readonly numRuns: number;
  readonly numShrinks: number;
  readonly seed: number;
  readonly counterexample: readonly unknown[] | null;
  readonly counterexamplePath: string | null;
  readonly errorInstance?: unknown;
}

/**
 * The part of the fast-check module {@link checkMigration} uses: pass `fc` itself (`import fc from 'fast-check'`).
 * Taking it as a parameter keeps fast-check a dev dependency of your project, not a dependency of this one.
 */
export interface FastCheckLike {
  asyncProperty(...args: any[]): any;
  check(property: any, parameters?: any): Promise<RunDetailsLike> | RunDetailsLike;
  stringify?(value: unknown): string;
}

/** fast-check run parameters passed through to `fc.check` (`numRuns`, `seed`, `path`, `endOnFailure`, ...). */
export interface CheckParameters {
  readonly numRuns?: number;
  readonly seed?: number;
  readonly path?: string;
  readonly endOnFailure?: boolean;
  readonly [parameter: string]: unknown;
}

/** Options of {@link checkMigration}. */
export interface CheckMigrationOptions<F extends Fixtures> extends TestingOptions {
  /** Your fast-check module. */
  readonly fc: FastCheckLike;
  /** Version the generated fixtures belong to. */
  readonly from: number;
  /** Version to migrate to (default: the plan's latest). */
  readonly to?: number;
  /** Generates the fixtures of one run, e.g. `fc.record({ notes: fc.uniqueArray(note, { selector: (n) => n.id }) })`. */
  readonly fixtures: ArbitraryLike<F>;
  /**
   * What must hold after each migration; throw (an `expect` failing) or return false to fail the run. Without it,
   * the property is that the migration succeeds.
   */
  readonly property?: (outcome: MigrationOutcome, fixtures: F) => boolean | void | Promise<boolean | void>;
  /**
   * Call the property also when the upgrade failed (default false: a failed upgrade fails the run, and the
   * property only sees successful ones). Set it to check properties of failures, like "nothing changed".
   */
  readonly allowErrors?: boolean;
  /** Check fixtures against the validators of `from` (default true here: generated records must be realistic). */
  readonly validate?: boolean;
  /** Passed to `fc.check`; a failure's error message says which `seed` and `path` replay it. */
  readonly parameters?: CheckParameters;
}

/** What a passing {@link checkMigration} ran. */
export interface MigrationCheckSummary {
  readonly numRuns: number;
  readonly seed: number;
}

/** Context of a {@link MigrationCheckError}. */
export interface MigrationCheckErrorContext {
  readonly from: number;
  readonly to: number;
  readonly fixtures: Fixtures | undefined;
  readonly outcome: MigrationOutcome | null;
  readonly failure: unknown;
  readonly seed: number;
  readonly path: string | null;
  readonly numRuns: number;
  readonly numShrinks: number;
}

/**
 * A {@link checkMigration} property failed. The message shows the smallest failing fixtures, why they failed and
 * the `seed` and `path` that replay the run; the same is here as data.
 */
export class MigrationCheckError extends IdbEvolveError {
  override name = 'MigrationCheckError' as const;
  declare readonly code: 'migration_check_failed';
  readonly from: number;
  readonly to: number;
  /** The smallest fixtures found that fail (after shrinking); undefined when fast-check gave none. */
  readonly fixtures: Fixtures | undefined;
  /** What the migration of those fixtures did; null when it did not get that far (a fixture error). */
  readonly outcome: MigrationOutcome | null;
  /** The upgrade's typed error for those fixtures, or null when the upgrade succeeded and the property failed. */
  readonly error: IdbEvolveError | null;
  /** What failed the run: the upgrade's error, the property's throw, or a {@link FixtureError}. */
  readonly failure: unknown;
  readonly seed: number;
  readonly path: string | null;
  readonly numRuns: number;
  readonly numShrinks: number;

  constructor(message: string, context: MigrationCheckErrorContext) {
    super('migration_check_failed', message, { cause: context.failure });
    this.from = context.from;
    this.to = context.to;
    this.fixtures = context.fixtures;
    this.outcome = context.outcome;
    this.error = context.outcome?.error ?? null;
    this.failure = context.failure;
    this.seed = context.seed;
    this.path = context.path;
    this.numRuns = context.numRuns;
    this.numShrinks = context.numShrinks;
  }
}

/** Marks a property that returned false, so the report can say so. */
class PropertyReturnedFalse extends Error {
  override name = 'PropertyReturnedFalse' as const;
}

function describeFailure(failure: unknown): string {
  if (failure instanceof Error) {
    const code = (failure as { code?: unknown }).code;
    return `${failure.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${failure.message}`;
  }
  return describeValue(failure);
}

/**
 * Property test of a migration: fast-check generates fixtures for version `from`, each run migrates them in a
 * fresh database (unique name, deleted afterwards) to `to`, and `property` must hold. On failure, fast-check
 * shrinks the fixtures, and this rejects with a {@link MigrationCheckError} naming the smallest failing fixtures,
 * the upgrade's typed error and the seed to replay.
 *
 * @example
 * ```ts
 * import fc from 'fast-check'
 *
 * await checkMigration(plan, {
 *   fc,
 *   from: 1,
 *   fixtures: fc.record({ notes: fc.uniqueArray(fc.record({ id: fc.nat(), name: fc.string() }), { selector: (n) => n.id }) }),
 *   property: ({ after }, { notes }) => {
 *     expect(after.stores.notes?.records.map(([, note]) => note.title)).toEqual(notes.map((n) => n.name))
 *   },
 * })
 * ```
 */
export async function checkMigration<F extends Fixtures>(
  plan: Plan,
  options: CheckMigrationOptions<F>,
): Promise<MigrationCheckSummary> {
  const {
    fc,
    fixtures,
    property,
    allowErrors = false,
    validate = true,
    parameters = {},
    from,
    to = plan.latest,
    ...testing
  } = options;
  interface Failing {
    readonly fixtures: F;
    readonly outcome: MigrationOutcome | null;
    readonly failure: unknown;
  }
  // One run in its own database; what failed it, or undefined when the property held.
  const attempt = async (generated: F): Promise<Failing | undefined> => {
    let outcome: MigrationOutcome | null = null;
    try {
      outcome = await migrateFixtures(plan, { ...testing, from, to, fixtures: generated, validate });
      if (outcome.error !== null && !allowErrors) return { fixtures: generated, outcome, failure: outcome.error };
      if (property !== undefined && (await property(outcome, generated)) === false) {
        return { fixtures: generated, outcome, failure: new PropertyReturnedFalse('The property returned false') };
      }
      return undefined;
    } catch (failure) {
      return { fixtures: generated, outcome, failure };
    }
  };
  let last: Failing | undefined;
  const predicate = async (generated: F): Promise<void> => {
    const failing = await attempt(generated);
    if (failing === undefined) return;
    last = failing;
    throw failing.failure;
  };
  const details = await fc.check(fc.asyncProperty(fixtures, predicate), parameters);
  if (!details.failed) return { numRuns: details.numRuns, seed: details.seed };

  const counterexample = details.counterexample?.[0] as F | undefined;
  let failing = last;
  if (counterexample !== undefined && failing?.fixtures !== counterexample) {
    // fast-check handed back a copy of the value: replay it to learn what it did.
    failing = (await attempt(counterexample)) ?? {
      fixtures: counterexample,
      outcome: null,
      failure: details.errorInstance,
    };
  }
  const show = (value: unknown): string => (fc.stringify === undefined ? describeValue(value) : fc.stringify(value));
  const failure = failing?.failure ?? details.errorInstance;
  const lines = [
    `Migration from version ${from} to ${to} failed after ${details.numRuns} run${details.numRuns === 1 ? '' : 's'} and ${details.numShrinks} shrink${details.numShrinks === 1 ? '' : 's'}`,
    `  failure: ${describeFailure(failure)}`,
    `  fixtures: ${counterexample === undefined ? '(none)' : show(counterexample)}`,
    `  replay with parameters: { seed: ${details.seed}${details.counterexamplePath === null ? '' : `, path: ${JSON.stringify(details.counterexamplePath)}`} }`,
  ];
  throw new MigrationCheckError(lines.join('\n'), {
    from,
    to,
    fixtures: counterexample,
    outcome: failing?.outcome ?? null,
    failure,
    seed: details.seed,
    path: details.counterexamplePath,
    numRuns: details.numRuns,
    numShrinks: details.numShrinks,
  });
}
