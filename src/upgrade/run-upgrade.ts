import { UpgradeError } from '../errors.js';
import {
  compareLayouts,
  createIndex,
  createStore,
  formatDifferences,
  indexChanged,
  matchLayout,
  readLayout,
  type IndexLayout,
  type NormalizedLayout,
} from '../plan/layout.js';
import type { Plan, PlannedAlternative, PlannedVersion } from '../plan/define-plan.js';
import {
  UpgradeStore,
  unchanged,
  remove,
  type RecordLevel,
  type Step,
  type StepContext,
  type StepCounters,
  type StepStore,
} from './step-store.js';
import type { TransactionGuard } from '../idb/transaction-guard.js';
import type { ProgressCallback } from '../progress.js';
import { type RecordCheck, VersionValidation } from './validation.js';
import { Fusion } from './fusion.js';
import { evaluateKeyPath } from '../idb/keys.js';
import { findDuplicate } from './constraints.js';

/** What one step did. */
export interface StepReport {
  readonly name: string;
  readonly index: number;
  /** Records visited by walks. */
  readonly visited: number;
  /** Records rewritten by walks. */
  readonly updated: number;
  /** Records deleted by walks. */
  readonly deleted: number;
  /** Records written with put/add. */
  readonly written: number;
  readonly ms: number;
}

/** What one version of the upgrade did. */
export interface VersionReport {
  readonly version: number;
  readonly storesCreated: readonly string[];
  readonly storesDeleted: readonly string[];
  readonly storesRenamed: readonly (readonly [from: string, to: string])[];
  readonly storesRebuilt: readonly string[];
  /** `store.index` names. */
  readonly indexesCreated: readonly string[];
  readonly indexesDeleted: readonly string[];
  readonly steps: readonly StepReport[];
  /** Records checked against the version's validators, by store (each store's state at the version's end). */
  readonly validated: Readonly<Record<string, number>>;
  /**
   * Set on the report that brought an alternative installed layout (by name) to the declared layout of the
   * installed version, before the pending versions ran.
   */
  readonly alternative?: string;
  readonly ms: number;
}

/** What an upgrade did, version by version. */
export interface UpgradeReport {
  readonly oldVersion: number;
  readonly newVersion: number;
  /** True when the database was created from nothing (final layout directly, no steps). */
  readonly fresh: boolean;
  /** True for {@link dryRun}: the work was rolled back. */
  readonly dryRun: boolean;
  readonly versions: readonly VersionReport[];
  /** Milliseconds spent writing the snapshot before the first version (0 when none was written). */
  readonly snapshotMs: number;
  /** Milliseconds of the whole upgrade, the snapshot's `snapshotMs` included. */
  readonly ms: number;
}

/** Everything {@link runUpgrade} needs, all from inside `onupgradeneeded`. */
export interface UpgradeRun {
  readonly db: IDBDatabase;
  readonly guard: TransactionGuard;
  readonly plan: Plan;
  readonly factory: IDBFactory;
  readonly keyRange: typeof IDBKeyRange;
  readonly oldVersion: number;
  readonly newVersion: number;
  readonly dryRun: boolean;
  /**
   * Read the records before building each unique index over them, to name two that share a key: set when a failed
   * upgrade is replayed to explain a bare ConstraintError abort.
   */
  readonly findDuplicates?: boolean;
  readonly onProgress: ProgressCallback | undefined;
  /** Called as each version completes. */
  readonly onVersion?: ((report: VersionReport) => void) | undefined;
}

const now = (): number => (typeof performance === 'undefined' ? Date.now() : performance.now());

// Where a store waits while rebuildStore recreates it; the NUL keeps it from meeting any declared name.
const rebuildSource = (store: string): string => `${store}\u0000idb-evolve-rebuild`;

/**
 * Brings the database from `oldVersion` to `newVersion` inside the versionchange transaction: the final layout
 * directly for a fresh database, else every pending version in turn (layout diff, steps, removal of dropped
 * stores, layout check). Throws the first failure; the caller aborts the transaction.
 */
export async function runUpgrade(run: UpgradeRun): Promise<UpgradeReport> {
  const started = now();
  const { plan, oldVersion, newVersion, guard } = run;
  const versions: VersionReport[] = [];
  if (oldVersion === 0) {
    versions.push(await createFresh(run));
    run.onVersion?.(versions[0]!);
  } else {
    const installed = plan.get(oldVersion);
    if (installed === undefined) {
      throw new UpgradeError(
        'unknown_installed_version',
        `The database is at version ${oldVersion}, which the plan does not declare: keep every shipped version in the plan`,
        { version: oldVersion },
      );
    }
    // Never diff a database whose shape the plan does not describe: deleting "undeclared" stores would lose data.
    const alternative = installedAlternative(run, installed);
    const pending = plan.versions.filter((v) => v.version > oldVersion && v.version <= newVersion);
    const passes: Passes = { fusion: new Fusion(run), settled: new Map() };
    const announce = announcer(run, versions, passes.settled);
    if (alternative !== undefined) {
      guard.position = { version: oldVersion };
      const normalized = { ...installed, steps: alternative.steps, transition: alternative.transition };
      const report = await applyVersion(run, normalized, passes, pending.length === 0);
      versions.push({ ...report, alternative: alternative.name });
      announce();
    }
    for (const version of pending) {
      guard.position = { version: version.version };
      versions.push(await applyVersion(run, version, passes, version === pending.at(-1)));
      announce();
    }
  }
  guard.throwIfFailed();
  const ms = now() - started;
  return { oldVersion, newVersion, fresh: oldVersion === 0, dryRun: run.dryRun, versions, snapshotMs: 0, ms };
}

/**
 * Checks the installed layout against the installed version's declared one and its alternatives: the alternative
 * found (to be brought to the declared layout first), undefined for the declared layout; `layout_mismatch` when
 * it is none of them.
 */
function installedAlternative(run: UpgradeRun, installed: PlannedVersion): PlannedAlternative | undefined {
  const stores = Object.keys(installed.layout).length;
  const event = { phase: 'check', unit: 'stores', version: installed.version, total: stores } as const;
  run.onProgress?.({ ...event, done: 0 });
  const match = matchLayout(installed.layout, installed.alternatives, readLayout(run.db, run.guard.transaction));
  if (match.differences.length === 0) run.onProgress?.({ ...event, done: stores });
  else {
    throw run.guard.fail(
      new UpgradeError(
        'layout_mismatch',
        `The installed database does not match the plan's layout for its version (nor any alternative): ${formatDifferences(match.differences)}`,
        { version: installed.version, differences: match.differences },
      ),
    );
  }
  return installed.alternatives.find((alternative) => alternative.name === match.alternative);
}

/**
 * Calls `onVersion` for each completed version, in order, once none of its steps waits in a fused pass: a report
 * is final only then. `settled` counts, by version, the steps still waiting.
 */
function announcer(run: UpgradeRun, versions: readonly VersionReport[], settled: Map<number, number>): () => void {
  let told = 0;
  return () => {
    while (told < versions.length && (settled.get(versions[told]!.version) ?? 0) === 0) {
      run.onVersion?.(versions[told]!);
      told++;
    }
  };
}

async function createFresh(run: UpgradeRun): Promise<VersionReport> {
  const started = now();
  const { db, guard, plan, newVersion } = run;
  const target = plan.get(newVersion)!;
  guard.position = { version: newVersion };
  const storesCreated: string[] = [];
  const indexesCreated: string[] = [];
  for (const [name, layout] of Object.entries(target.layout)) {
    guard.call(() => createStore(db, name, layout), { store: name });
    storesCreated.push(name);
    for (const index of Object.keys(layout.indexes)) indexesCreated.push(`${name}.${index}`);
  }
  layoutDone(run, target);
  const steps: StepReport[] = [];
  const seed = plan.seed === undefined ? [] : [plan.seed];
  const validation = new VersionValidation(target, seed, run);
  if (plan.seed !== undefined) steps.push(await runStep(run, target, plan.seed, 0, 'seed', validation));
  await validation.finish();
  verifyLayout(run, target, 'The layout after the upgrade does not match the plan');
  return {
    version: newVersion,
    storesCreated,
    storesDeleted: [],
    storesRenamed: [],
    storesRebuilt: [],
    indexesCreated,
    indexesDeleted: [],
    steps,
    validated: validation.checked,
    ms: now() - started,
  };
}

/** The shared state of one upgrade's versions: the waiting passes, and by version the steps still queued in them. */
interface Passes {
  readonly fusion: Fusion;
  readonly settled: Map<number, number>;
}

async function applyVersion(
  run: UpgradeRun,
  next: PlannedVersion,
  passes: Passes,
  last: boolean,
): Promise<VersionReport> {
  const started = now();
  const { db, guard } = run;
  const { fusion } = passes;
  const layout = await applyLayout(run, next, fusion);
  const { steps, validated } = await runSteps(run, next, passes, last);
  const storesDeleted: string[] = [];
  for (const name of Array.from(db.objectStoreNames)) {
    if (!(name in next.layout)) {
      await fusion.flush([name]);
      guard.call(() => db.deleteObjectStore(name), { store: name });
      storesDeleted.push(name);
    }
  }
  verifyLayout(run, next, `The layout after version ${next.version} does not match the plan`, layout.created);
  const { created: _created, ...changes } = layout;
  return { version: next.version, ...changes, storesDeleted, steps, validated, ms: now() - started };
}

/** A version's layout phase: renames, then the diff (stores created, indexes deleted and built). */
async function applyLayout(run: UpgradeRun, next: PlannedVersion, fusion: Fusion) {
  const { db, guard } = run;
  const transaction = guard.transaction;
  const storesRenamed: [string, string][] = [];
  const storesCreated: string[] = [];
  const indexesCreated: string[] = [];
  const indexesDeleted: string[] = [];
  // Renames first, so that the layout diff sees renamed stores under their new names.
  const { renamed, rebuilt: rebuilding } = next.transition;
  // A store that moves or is rebuilt needs its records as they stand: its pass runs first.
  await fusion.flush([...renamed.map((r) => r.from), ...rebuilding]);
  for (const { from, to, step } of renamed) {
    guard.call(() => (transaction.objectStore(from).name = to), { store: from, step });
    storesRenamed.push([from, to]);
  }
  // fake-indexeddb hands back a stale IDBIndex after deleteIndex + createIndex of the same name; the layout check
  // reads the handles createIndex returned instead.
  const created = new Map<string, IDBIndex>();
  for (const [name, layout] of Object.entries(next.layout)) {
    if (!db.objectStoreNames.contains(name)) {
      guard.call(() => createStore(db, name, layout), { store: name });
      storesCreated.push(name);
      continue;
    }
    // A store being rebuilt keeps its old layout until its rebuild step, for the steps listed before it.
    if (rebuilding.has(name)) continue;
    const store = transaction.objectStore(name);
    const existing = Array.from(store.indexNames);
    const stale = existing.filter((index) => {
      const wanted = layout.indexes[index];
      return wanted === undefined || indexChanged(wanted, store.index(index));
    });
    const missing = Object.keys(layout.indexes).filter((index) => !existing.includes(index) || stale.includes(index));
    // Indexes built over the records need them as they stand: the store's waiting pass runs first.
    if (stale.length > 0 || missing.length > 0) await fusion.flush([name]);
    for (const indexName of stale) {
      guard.call(() => store.deleteIndex(indexName), { store: name });
      indexesDeleted.push(`${name}.${indexName}`);
    }
    for (const indexName of missing) {
      created.set(
        `${name}\u0000${indexName}`,
        await buildIndex(run, next, store, indexName, layout.indexes[indexName]!),
      );
      indexesCreated.push(`${name}.${indexName}`);
    }
  }
  layoutDone(run, next);
  return { storesCreated, storesRenamed, storesRebuilt: [...rebuilding], indexesCreated, indexesDeleted, created };
}

/**
 * A version's steps, record-level ones queued on their store's pass, then its validation (checked in a waiting pass
 * where one is, else by a read pass). The last version runs every waiting pass.
 */
async function runSteps(run: UpgradeRun, next: PlannedVersion, { fusion, settled }: Passes, last: boolean) {
  const steps: StepReport[] = [];
  const validation = new VersionValidation(next, next.steps, run);
  for (const [index, step] of next.steps.entries()) {
    const records = fusible(next, step);
    if (records === undefined) {
      // Any other step may read or write any store (its raw transaction too): every waiting pass runs first.
      await fusion.flush();
      steps.push(await runStep(run, next, step, index, 'step', validation));
    } else steps.push(queueStep(fusion, settled, next, step, index, records));
  }
  await validation.finish((store, check) => {
    if (!fusion.pending(store)) return false;
    fusion.check(store, check);
    return true;
  });
  // The last version's passes run within it, so that its progress and layout check come in their usual order.
  if (last) await fusion.flush();
  return { steps, validated: validation.checked };
}

/**
 * The step's record-level declaration when it may join a fused pass: it is still the step's own (`records.run` is
 * its `run`), the version validates all records (not only
 * written ones), and the store has no unique index (whose check between two steps is a state of its own) and is not
 * rebuilt by the version.
 */
function fusible(version: PlannedVersion, step: Step): RecordLevel | undefined {
  const records = step.records;
  if (records === undefined || step.structure !== undefined || version.validate !== 'all') return undefined;
  // A wrapped step (its run replaced) does something the declaration does not describe.
  if (records.run !== step.run) return undefined;
  const layout = version.layout[records.store];
  if (layout === undefined || version.transition.rebuilt.has(records.store)) return undefined;
  if (Object.values(layout.indexes).some((index) => index.unique)) return undefined;
  return records;
}

/** Queues a record-level step on its store's pass; its report fills in when the pass has run. */
function queueStep(
  fusion: Fusion,
  settled: Map<number, number>,
  version: PlannedVersion,
  step: Step,
  index: number,
  records: RecordLevel,
): StepReport {
  const report = { name: step.name, index, visited: 0, updated: 0, deleted: 0, written: 0, ms: 0 };
  settled.set(version.version, (settled.get(version.version) ?? 0) + 1);
  fusion.queue({
    version: version.version,
    step,
    stepIndex: index,
    records,
    counters: report,
    done: (ms) => {
      report.ms = ms;
      settled.set(version.version, settled.get(version.version)! - 1);
    },
  });
  return report;
}

/** Reports the layout phase of a version as done: every store is in place. */
function layoutDone(run: UpgradeRun, version: PlannedVersion): void {
  const stores = Object.keys(version.layout).length;
  run.onProgress?.({ phase: 'layout', unit: 'stores', version: version.version, done: stores, total: stores });
}

/**
 * Creates an index over existing records. The engine builds it in the background and reports nothing: with a
 * listener (or in a dry run), an event goes out before, and after a read of the new index, which the engine answers
 * only once the build is complete (seconds at 50k records).
 */
async function buildIndex(
  run: UpgradeRun,
  version: PlannedVersion,
  store: IDBObjectStore,
  index: string,
  layout: Required<IndexLayout>,
): Promise<IDBIndex> {
  const { guard, onProgress } = run;
  const event = { phase: 'index', unit: 'indexes', version: version.version, store: store.name, index } as const;
  onProgress?.({ ...event, done: 0, total: 1 });
  if (run.findDuplicates === true && layout.unique) {
    await findDuplicate({ ...run, store, index, layout, version: version.version });
  }
  const handle = guard.call(() => createIndex(store, index, layout), { store: store.name });
  // A dry run waits too: rolled back before the build ends, it would never learn that the build fails.
  if (onProgress === undefined && !run.dryRun) return handle;
  // The smallest read there is: the first key of the index (-Infinity sorts before every other key).
  await guard.request(handle.getKey(run.keyRange.lowerBound(Number.NEGATIVE_INFINITY)), { store: store.name });
  onProgress?.({ ...event, done: 1, total: 1 });
  return handle;
}

async function runStep(
  run: UpgradeRun,
  version: PlannedVersion,
  step: Step,
  index: number,
  phase: 'step' | 'seed',
  validation: VersionValidation,
): Promise<StepReport> {
  const started = now();
  const { guard } = run;
  const position = { version: version.version, step: step.name, stepIndex: index };
  guard.position = position;
  const counters: StepCounters = { visited: 0, updated: 0, deleted: 0, written: 0 };
  const onProgress = run.onProgress;
  const storeFor = (name: string, storeName: string = name): UpgradeStore =>
    new UpgradeStore(
      name,
      {
        guard,
        factory: run.factory,
        keyRange: run.keyRange,
        validation,
        stepIndex: index,
        counters,
        progress:
          onProgress === undefined
            ? undefined
            : (store, done, total) => onProgress({ phase, unit: 'records', ...position, store, done, total }),
      },
      storeName,
    );
  const stores = new Map<string, UpgradeStore>();
  const context: StepContext = {
    version: version.version,
    oldVersion: run.oldVersion,
    newVersion: run.newVersion,
    dryRun: run.dryRun,
    // Writes made on the raw transaction cannot be followed: the version's validation then reads every store.
    get transaction() {
      validation.rawAccess();
      return guard.transaction;
    },
    IDBKeyRange: run.keyRange,
    store: ((name: string): StepStore => {
      if (!step.stores.includes(name)) {
        throw guard.failWith('undeclared_store', `Step used store "${name}" without listing it in its \`stores\``, {
          store: name,
        });
      }
      let store = stores.get(name);
      if (store === undefined) {
        store = storeFor(name);
        stores.set(name, store);
      }
      return store;
    }) as StepContext['store'],
    request: (request) => guard.request(request),
  };
  try {
    if (step.structure?.kind === 'rebuild-store') {
      await rebuild(
        run,
        version,
        step.structure.store,
        step.structure.transform,
        storeFor,
        validation.finalPass(step.structure.store, index),
      );
    } else {
      await step.run(context);
    }
  } catch (error) {
    throw guard.fail(error);
  }
  guard.throwIfFailed();
  return { name: step.name, index, ...counters, ms: now() - started };
}

/**
 * Recreates a store at its rebuild step: the old one is set aside under a private name, the new one is created
 * from the version's layout, every record is copied with `add` (two records given the same new key fail the
 * upgrade rather than overwrite each other), and the old one is dropped.
 */
async function rebuild(
  run: UpgradeRun,
  version: PlannedVersion,
  store: string,
  transform: ((value: any, primaryKey: IDBValidKey) => unknown) | undefined,
  storeFor: (name: string, storeName?: string) => UpgradeStore,
  final: RecordCheck | undefined,
): Promise<void> {
  const { guard, db } = run;
  guard.call(() => (guard.transaction.objectStore(store).name = rebuildSource(store)), { store });
  guard.call(() => createStore(db, store, version.layout[store]!), { store });
  const source = storeFor(store, rebuildSource(store));
  const target = storeFor(store);
  await source.walk((value, { primaryKey }) => {
    const rebuilt = transform === undefined ? value : transform(value, primaryKey);
    if (rebuilt === undefined) {
      throw guard.failWith(
        'invalid_step_result',
        'The rebuild transform returned undefined: return the record or `remove`',
        { store, key: primaryKey },
      );
    }
    if (rebuilt === remove) return unchanged;
    const key = target.keyPath === null ? primaryKey : undefined;
    if (final === undefined) {
      void target.add(rebuilt, key).catch(() => {});
      return unchanged;
    }
    void target.addChecked(rebuilt, key).catch(() => {});
    // Checked under its new key, where the key path gives one (a generated key is not known yet: the old one).
    const newKey = key ?? evaluateKeyPath(rebuilt, target.keyPath!) ?? primaryKey;
    const verdict = final.check(rebuilt, newKey as IDBValidKey, true);
    return verdict === undefined ? unchanged : verdict.then(() => unchanged);
  });
  final?.done();
  guard.call(() => db.deleteObjectStore(rebuildSource(store)), { store });
}

function verifyLayout(
  run: UpgradeRun,
  version: PlannedVersion,
  message: string,
  created?: ReadonlyMap<string, IDBIndex>,
): void {
  const stores = Object.keys(version.layout).length;
  const event = { phase: 'check', unit: 'stores', version: version.version, total: stores } as const;
  run.onProgress?.({ ...event, done: 0 });
  const found: NormalizedLayout = readLayout(run.db, run.guard.transaction, created);
  const differences = compareLayouts(version.layout, found);
  if (differences.length > 0) {
    throw run.guard.fail(
      new UpgradeError('layout_mismatch', `${message}: ${formatDifferences(differences)}`, {
        version: version.version,
        differences,
      }),
    );
  }
  run.onProgress?.({ ...event, done: stores });
}
