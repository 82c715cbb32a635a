import { UpgradeError, type ValidationIssue } from '../errors.js';
import type { TransactionGuard } from '../idb/transaction-guard.js';
import type { StandardSchemaV1, StandardSchemaV1Issue, StandardSchemaV1Result } from '../plan/standard-schema.js';
import type { ProgressCallback } from '../progress.js';
import { keyId } from '../idb/keys.js';
import { readWholeStore } from './read-pages.js';
import { isThenable } from './thenable.js';

/**
 * Which records a version's validators check when the version completes: `all` (default) every record of each
 * validated store, `written` only records a step of the version wrote (put, add, or a walk's rewrite): cheaper on
 * huge stores, at the risk of old records that no step touched staying invalid.
 */
export type ValidationScope = 'all' | 'written';

/** What validation needs of a planned version: its number, validators and scope. */
export interface ValidatedVersion {
  readonly version: number;
  readonly validators: Readonly<Record<string, StandardSchemaV1>>;
  readonly validate: ValidationScope;
}

/** What a validating walk or rebuild calls per record it leaves in the store. */
export interface RecordCheck {
  /**
   * Validates `value`, the record's state at the end of the version, unless it is left as it was (`written`
   * false) and the scope skips such records; returns a promise only for asynchronous validators.
   */
  check(value: unknown, key: IDBValidKey, written: boolean): Promise<void> | undefined;
  /** The pass covered the store: the read pass at the version's end can skip it, unless the store is written again. */
  done(): void;
}

/** Everything a version's validation needs from the running upgrade. */
export interface ValidationRun {
  readonly guard: TransactionGuard;
  readonly keyRange: typeof IDBKeyRange;
  readonly factory: IDBFactory;
  readonly onProgress: ProgressCallback | undefined;
}

function issuesOf(issues: readonly StandardSchemaV1Issue[]): ValidationIssue[] {
  return issues.map((issue) => ({
    message: issue.message,
    ...(issue.path === undefined
      ? {}
      : { path: issue.path.map((part) => (typeof part === 'object' && part !== null ? part.key : part)) }),
  }));
}

/**
 * The validators of one version, checked against the state each record has when the version completes, never
 * between two of its steps. A store whose last step of the version walks it whole is validated by that walk as it
 * goes (no extra read); every other validated store is read once at the version's end ({@link finish}). With the
 * `written` scope only records written during the version are checked: their keys are remembered and read back.
 */
export class VersionValidation {
  readonly #version: number;
  readonly #validators: Readonly<Record<string, StandardSchemaV1>>;
  readonly #scope: ValidationScope;
  readonly #run: ValidationRun;
  /** Per validated store, the last step of the version that lists it. */
  readonly #lastStep = new Map<string, number>();
  /** Stores a final pass validated whole, and not written since. */
  readonly #covered = new Set<string>();
  /** Stores written outside a pass since that pass began. */
  readonly #dirty = new Set<string>();
  /** `written` scope: keys written during the version, by store. */
  readonly #written = new Map<string, Map<string, IDBValidKey>>();
  /** A step used the raw transaction: writes can no longer be followed, so every store gets its read pass. */
  #raw = false;
  /** Records checked, by store. */
  readonly checked: Record<string, number> = {};

  constructor(version: ValidatedVersion, steps: readonly { readonly stores: readonly string[] }[], run: ValidationRun) {
    this.#version = version.version;
    this.#validators = version.validators;
    this.#scope = version.validate;
    this.#run = run;
    steps.forEach((step, index) => {
      for (const store of step.stores) if (store in this.#validators) this.#lastStep.set(store, index);
    });
  }

  /** A step wrote `key` (null when unknown) of `store` outside a validating pass. */
  wrote(store: string, key: IDBValidKey | null): void {
    if (!(store in this.#validators)) return;
    this.#covered.delete(store);
    this.#dirty.add(store);
    if (this.#scope === 'written' && key !== null) this.#keysOf(store).set(keyId(key), key);
  }

  /** A step asked for the raw transaction: its writes cannot be seen. */
  rawAccess(): void {
    this.#raw = true;
    this.#covered.clear();
  }

  /**
   * The check a full walk (or rebuild) of `store` by step `stepIndex` applies as it goes, when that pass can stand
   * for the version's end: it is the last step of the version using the store. Undefined otherwise.
   */
  finalPass(store: string, stepIndex: number): RecordCheck | undefined {
    const validator = this.#validators[store];
    if (validator === undefined || this.#raw || this.#lastStep.get(store) !== stepIndex) return undefined;
    this.#dirty.delete(store);
    const keys = this.#written.get(store);
    return {
      check: (value, key, written) => {
        if (this.#scope === 'written' && !written && keys?.has(keyId(key)) !== true) return undefined;
        return this.#check(validator, store, value, key);
      },
      done: () => {
        if (!this.#dirty.has(store) && !this.#raw) this.#covered.add(store);
      },
    };
  }

  /**
   * Validates every validated store no final pass covered: a read pass each (`all`), or the written keys. `defer`
   * may take a store's check instead (a fused pass still to run on it checks each record where this version ends).
   */
  async finish(
    defer?: (store: string, check: (value: unknown, key: IDBValidKey) => Promise<void> | undefined) => boolean,
  ): Promise<void> {
    this.#run.guard.position = { version: this.#version };
    for (const [store, validator] of Object.entries(this.#validators)) {
      if (this.#covered.has(store)) continue;
      if (this.#scope === 'written') await this.#readWritten(store, validator);
      else if (defer?.(store, (value, key) => this.#check(validator, store, value, key)) !== true) {
        await this.#readPass(store, validator);
      }
    }
  }

  #keysOf(store: string): Map<string, IDBValidKey> {
    let keys = this.#written.get(store);
    if (keys === undefined) this.#written.set(store, (keys = new Map()));
    return keys;
  }

  async #readPass(store: string, validator: StandardSchemaV1): Promise<void> {
    const { guard, keyRange, factory, onProgress } = this.#run;
    const context = { store };
    const objectStore = guard.call(() => guard.transaction.objectStore(store), context);
    const progress = onProgress && ({ phase: 'validate', unit: 'records', version: this.#version, store } as const);
    const total = progress && (await guard.request(objectStore.count(), context));
    let done = 0;
    if (progress) onProgress({ ...progress, done, total: total! });
    await readWholeStore({
      guard,
      keyRange,
      factory,
      store: objectStore,
      context,
      onPage: async (page) => {
        for (const record of page) {
          const verdict = this.#check(validator, store, record.value, record.primaryKey);
          if (verdict !== undefined) await verdict;
        }
        done += page.length;
        if (progress) onProgress({ ...progress, done, total: total! });
      },
    });
  }

  /** `written` scope: reads back each written key still in the store (1000 gets in flight at a time). */
  async #readWritten(store: string, validator: StandardSchemaV1): Promise<void> {
    const { guard } = this.#run;
    const keys = Array.from(this.#written.get(store)?.values() ?? []);
    if (keys.length === 0) return;
    const objectStore = guard.call(() => guard.transaction.objectStore(store), { store });
    for (let start = 0; start < keys.length; start += 1000) {
      const chunk = keys.slice(start, start + 1000);
      const values = await Promise.all(chunk.map((key) => guard.request(objectStore.get(key), { store, key })));
      for (const [i, value] of values.entries()) {
        if (value === undefined) continue; // Deleted again by a later step.
        const verdict = this.#check(validator, store, value, chunk[i]!);
        if (verdict !== undefined) await verdict;
      }
    }
  }

  /** Validates one record; a failure aborts the upgrade with the version, store, key and issues. */
  #check(validator: StandardSchemaV1, store: string, value: unknown, key: IDBValidKey): Promise<void> | undefined {
    this.checked[store] = (this.checked[store] ?? 0) + 1;
    const verdict = ({ issues }: StandardSchemaV1Result<unknown>): undefined => {
      if (issues === undefined) return undefined;
      throw this.#run.guard.fail(this.#failure(store, key, issuesOf(issues)));
    };
    const result = validator['~standard'].validate(value);
    return isThenable<StandardSchemaV1Result<unknown>>(result)
      ? Promise.resolve(result).then(verdict)
      : verdict(result);
  }

  #failure(store: string, key: IDBValidKey, issues: ValidationIssue[]): UpgradeError {
    const first = issues[0];
    const where = first?.path && first.path.length > 0 ? ` at ${first.path.map(String).join('.')}` : '';
    return new UpgradeError(
      'validation_failed',
      `Record does not satisfy version ${this.#version}'s validator at the end of the version${where}: ${first?.message ?? 'invalid'}`,
      { version: this.#version, store, key, issues },
    );
  }
}
