/**
 * Every error idb-evolve throws or rejects with is an {@link IdbEvolveError}: a literal `name`, a snake_case
 * `code`, context fields (version, step, store, key) and the platform's own error as `cause`.
 */

/** Codes of {@link PlanError}: what is wrong with a plan, found when it is defined. */
export type PlanErrorCode =
  | 'invalid_plan'
  | 'invalid_version'
  | 'duplicate_version'
  | 'version_order'
  | 'invalid_store'
  | 'invalid_key_path'
  | 'invalid_index'
  | 'invalid_step'
  | 'unknown_store'
  | 'key_path_changed'
  | 'invalid_validator'
  | 'invalid_target_version';

/** Codes of {@link UpgradeError}: why an upgrade was aborted. The database keeps its old version and data. */
export type UpgradeErrorCode =
  | 'step_failed'
  | 'request_failed'
  | 'constraint_violation'
  | 'validation_failed'
  | 'invalid_step_result'
  | 'key_changed'
  | 'undeclared_store'
  | 'transaction_inactive'
  | 'layout_mismatch'
  | 'unknown_installed_version'
  | 'upgrade_aborted';

/** Codes of {@link OpenError}: why a database could not be opened, upgraded, restored or deleted. */
export type OpenErrorCode = 'downgrade' | 'blocked' | 'open_failed' | 'indexeddb_unavailable' | 'layout_drift';

/** Code of {@link OptionsError}: an option of a public function is missing, of the wrong kind, or out of range. */
export type OptionsErrorCode = 'invalid_options';

/** Codes of {@link SnapshotError}: a snapshot could not be written, read, verified or restored. */
export type SnapshotErrorCode =
  | 'snapshot_unavailable'
  | 'snapshot_quota'
  | 'snapshot_write_failed'
  | 'snapshot_not_found'
  | 'snapshot_corrupt'
  | 'snapshot_wrong_database'
  | 'snapshot_unsupported'
  | 'database_not_found'
  | 'restore_failed';

/** Codes of the `idb-evolve/testing` errors: fixtures that cannot be written, failed checks. */
export type TestingErrorCode =
  | 'unknown_fixture_store'
  | 'invalid_fixture'
  | 'write_failed'
  | 'migration_check_failed'
  | 'schema_history_changed';

/**
 * Codes of `ProtectedOpenError` (`protectUpgrade`): another library's open rejected (`protected_open_failed`), or it
 * resolved although its upgrade failed: a tracked upgrade callback threw or rejected, or `verify` refused the result
 * (`protected_upgrade_failed`).
 */
export type ProtectedOpenErrorCode = 'protected_open_failed' | 'protected_upgrade_failed';

/** Every code idb-evolve uses; no code belongs to two error classes. */
export type ErrorCode =
  | PlanErrorCode
  | UpgradeErrorCode
  | OpenErrorCode
  | OptionsErrorCode
  | SnapshotErrorCode
  | TestingErrorCode
  | ProtectedOpenErrorCode;

/** Context carried by an {@link IdbEvolveError}; fields are present when they are known. */
export interface ErrorContext {
  /** The plan version being defined or migrated to. */
  readonly version?: number;
  /** Name of the step that failed. */
  readonly step?: string;
  /** Zero-based position of the step within its version. */
  readonly stepIndex?: number;
  /** Object store involved. */
  readonly store?: string;
  /** Primary key of the record being processed, for per-record failures. */
  readonly key?: IDBValidKey;
  /** The underlying error (a DOMException, a step's own throw); validation issues go in `issues`, never here. */
  readonly cause?: unknown;
}

/** A key as text for messages: JSON where it can be, Dates and binary keys spelled out. */
export function describeKey(key: IDBValidKey): string {
  try {
    if (key instanceof Date) return `Date(${key.toISOString()})`;
    if (key instanceof ArrayBuffer || ArrayBuffer.isView(key)) return `binary(${key.byteLength} bytes)`;
    return JSON.stringify(key) ?? String(key);
  } catch {
    return String(key);
  }
}

function contextSuffix(context: ErrorContext): string {
  const parts: string[] = [];
  if (context.version !== undefined) parts.push(`version ${context.version}`);
  if (context.step !== undefined) parts.push(`step "${context.step}"`);
  if (context.store !== undefined) parts.push(`store "${context.store}"`);
  if (context.key !== undefined) parts.push(`key ${describeKey(context.key)}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

const BRAND = Symbol.for('idb-evolve.error');

/**
 * Base class of every idb-evolve error. Catch it to handle all of them; switch on `code` for the detail.
 *
 * @example
 * ```ts
 * try { await openDatabase('app', plan, { snapshots: snapshotPolicy() }) }
 * catch (error) {
 *   if (isIdbEvolveError(error)) console.error(error.code, error.version, error.step, error.key)
 * }
 * ```
 */
export class IdbEvolveError extends Error {
  override name: string = 'IdbEvolveError';
  // Context fields here and in the subclasses are `declare`d: the constructors assign every one of them (in this
  // order), so class field definitions would only repeat them in the bundle that every app ships.
  /** Machine-readable reason, stable across releases. */
  declare readonly code: ErrorCode;
  /** Plan version concerned, when known. */
  declare readonly version: number | undefined;
  /** Step name, when a step was running. */
  declare readonly step: string | undefined;
  /** Step position within its version, when a step was running. */
  declare readonly stepIndex: number | undefined;
  /** Object store concerned, when known. */
  declare readonly store: string | undefined;
  /** Primary key of the record being processed, when the failure is per record. */
  declare readonly key: IDBValidKey | undefined;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}) {
    super(message + contextSuffix(context), 'cause' in context ? { cause: context.cause } : undefined);
    this.code = code;
    this.version = context.version;
    this.step = context.step;
    this.stepIndex = context.stepIndex;
    this.store = context.store;
    this.key = context.key;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** Thrown by `definePlan` when a plan cannot be right; nothing has touched a database. */
export class PlanError extends IdbEvolveError {
  override name = 'PlanError' as const;
  declare readonly code: PlanErrorCode;
  constructor(code: PlanErrorCode, message: string, context: ErrorContext = {}) {
    super(code, message, context);
  }
}

/** One problem reported by a record validator (Standard Schema issue, kept as data). */
export interface ValidationIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey>;
}

/** A layout difference found by the layout check: what the plan declares versus what the database has. */
export interface LayoutDifference {
  /** Store concerned; index differences also name the index. */
  readonly store: string;
  readonly index?: string;
  /** What differs: `store`, `keyPath`, `autoIncrement`, `index`, `unique`, `multiEntry`. */
  readonly property: string;
  readonly expected: unknown;
  readonly found: unknown;
}

/** Extra context of an {@link UpgradeError}. */
export interface UpgradeErrorContext extends ErrorContext {
  readonly issues?: ReadonlyArray<ValidationIssue>;
  readonly differences?: ReadonlyArray<LayoutDifference>;
  /** For `constraint_violation` on a unique index: its name, key path and the index key two records share. */
  readonly index?: string;
  readonly keyPath?: string | ReadonlyArray<string>;
  readonly indexKey?: IDBValidKey;
  /** For `constraint_violation` on a unique index: primary keys of records that collide (the one there first, then the other). */
  readonly primaryKeys?: ReadonlyArray<IDBValidKey>;
}

/**
 * An upgrade was aborted: the whole versionchange transaction was rolled back, so the database keeps its old
 * version and exactly its old data. `version`, `step`, `store` and `key` say where it failed; `cause` says why.
 */
export class UpgradeError extends IdbEvolveError {
  override name = 'UpgradeError' as const;
  declare readonly code: UpgradeErrorCode;
  /** Validator issues, for `validation_failed`. */
  declare readonly issues: ReadonlyArray<ValidationIssue> | undefined;
  /** Expected/found pairs, for `layout_mismatch`. */
  declare readonly differences: ReadonlyArray<LayoutDifference> | undefined;
  /** For `constraint_violation` on a unique index: the index. */
  declare readonly index: string | undefined;
  /** For `constraint_violation` on a unique index: its key path. */
  declare readonly keyPath: string | ReadonlyArray<string> | undefined;
  /** For `constraint_violation` on a unique index: the index key two records share. */
  declare readonly indexKey: IDBValidKey | undefined;
  /** For `constraint_violation` on a unique index: primary keys of colliding records (the one there first, then the other). */
  declare readonly primaryKeys: ReadonlyArray<IDBValidKey> | undefined;
  constructor(code: UpgradeErrorCode, message: string, context: UpgradeErrorContext = {}) {
    super(code, message, context);
    this.issues = context.issues;
    this.differences = context.differences;
    this.index = context.index;
    this.keyPath = context.keyPath;
    this.indexKey = context.indexKey;
    this.primaryKeys = context.primaryKeys;
  }
}

/**
 * What a call that gave up (`blocked`) was waiting on: `connection` (a connection at `oldVersion` stayed open),
 * `queued-request` (an earlier request of this app for the database was still pending), `other-context` (another
 * tab, worker or service worker held the upgrade), `unknown` (nothing said why: usually an open of another context
 * queued ahead).
 */
export type WaitedOn = 'connection' | 'queued-request' | 'other-context' | 'unknown';

/** Extra context of an {@link OpenError}. */
export interface OpenErrorContext extends ErrorContext {
  /** For `blocked`: what the call waited on when it gave up. */
  readonly waitedOn?: WaitedOn;
  readonly oldVersion?: number;
  readonly newVersion?: number;
  /** For `layout_drift`: how the installed layout differs from the declared one. */
  readonly differences?: ReadonlyArray<LayoutDifference>;
}

/**
 * `openDatabase` could not open the database: it is newer than the plan (`downgrade`), other connections kept it
 * `blocked` past the timeout, its layout is not the plan's for its version (`layout_drift`), or the platform refused
 * the open. Nothing was changed.
 */
export class OpenError extends IdbEvolveError {
  override name = 'OpenError' as const;
  declare readonly code: OpenErrorCode;
  /** Version installed in the browser, when known. */
  declare readonly oldVersion: number | undefined;
  /** Version that was requested. */
  declare readonly newVersion: number | undefined;
  /** For `layout_drift`: expected/found pairs. */
  declare readonly differences: ReadonlyArray<LayoutDifference> | undefined;
  /** For `blocked`: what the call waited on when it gave up. */
  declare readonly waitedOn: WaitedOn | undefined;
  constructor(code: OpenErrorCode, message: string, context: OpenErrorContext = {}) {
    super(code, message, context);
    this.waitedOn = context.waitedOn;
    this.oldVersion = context.oldVersion;
    this.newVersion = context.newVersion;
    this.differences = context.differences;
  }
}

/** Extra context of a {@link SnapshotError}. */
export interface SnapshotErrorContext extends ErrorContext {
  /** Id of the snapshot file concerned. */
  readonly snapshotId?: string;
  /** 1-based line of the snapshot file where reading failed. */
  readonly line?: number;
  /** For `snapshot_unavailable`: each writer tried, and why it could not write here. */
  readonly attempts?: ReadonlyArray<{ readonly writer: string; readonly reason: string }>;
  /** For `snapshot_quota` refused before writing: the estimated size of the snapshot, in bytes. */
  readonly bytesNeeded?: number;
  /** For `snapshot_quota` refused before writing: what `navigator.storage.estimate()` says is left, in bytes. */
  readonly bytesAvailable?: number;
}

/**
 * A snapshot could not be written (no OPFS, quota), found, or trusted (truncated, altered, another database's,
 * unknown format). When it happens before an upgrade, the upgrade is refused and the database is untouched; when
 * it happens before a restore, the restore does not start.
 */
export class SnapshotError extends IdbEvolveError {
  override name = 'SnapshotError' as const;
  declare readonly code: SnapshotErrorCode;
  /** Id of the snapshot file concerned, when known. */
  declare readonly snapshotId: string | undefined;
  /** 1-based line of the file where reading failed, when known. */
  declare readonly line: number | undefined;
  /** For `snapshot_unavailable`: each writer tried, and why it could not write here. */
  declare readonly attempts: ReadonlyArray<{ readonly writer: string; readonly reason: string }> | undefined;
  /** For `snapshot_quota` refused before writing: the estimated snapshot size, in bytes. */
  declare readonly bytesNeeded: number | undefined;
  /** For `snapshot_quota` refused before writing: the bytes the browser says are left. */
  declare readonly bytesAvailable: number | undefined;
  constructor(code: SnapshotErrorCode, message: string, context: SnapshotErrorContext = {}) {
    super(code, message + (context.line === undefined ? '' : ` (line ${context.line})`), context);
    this.snapshotId = context.snapshotId;
    this.line = context.line;
    this.attempts = context.attempts;
    this.bytesNeeded = context.bytesNeeded;
    this.bytesAvailable = context.bytesAvailable;
  }
}

/** Extra context of an {@link OptionsError}. */
export interface OptionsErrorContext extends ErrorContext {
  /** The option at fault, as the caller spelled it (`keep`, `snapshots`, `blockedTimeout`, ...). */
  readonly option?: string;
}

/**
 * A public function was called with an option it cannot honour (missing, of the wrong kind, out of range). Thrown
 * before anything is read or written: a typo must never quietly mean a default, such as `keep: NaN` pruning every
 * snapshot.
 */
export class OptionsError extends IdbEvolveError {
  override name = 'OptionsError' as const;
  declare readonly code: OptionsErrorCode;
  /** The option at fault, when one is. */
  declare readonly option: string | undefined;
  constructor(message: string, context: OptionsErrorContext = {}) {
    super('invalid_options', message, context);
    this.option = context.option;
  }
}

/**
 * The main entry's error classes by name. `ProtectedOpenError` adds itself from its own module (it lives with
 * `protectUpgrade`, so that apps that do not use it do not ship it).
 */
export interface IdbEvolveErrors {
  PlanError: PlanError;
  UpgradeError: UpgradeError;
  OpenError: OpenError;
  OptionsError: OptionsError;
  SnapshotError: SnapshotError;
}

/** The concrete errors of the main entry: `switch (error.code)` on it narrows to the class and its fields. */
export type AnyIdbEvolveError = IdbEvolveErrors[keyof IdbEvolveErrors];

/** Names of the main entry's error classes, for {@link isIdbEvolveError}. */
export type IdbEvolveErrorName = AnyIdbEvolveError['name'];

/**
 * True for an idb-evolve error (of class `name`, when given), also one from another realm (iframe, worker bundle,
 * duplicated package copy), where `instanceof` fails.
 *
 * @example
 * ```ts
 * if (isIdbEvolveError(error, 'UpgradeError')) showFailedStep(error.version, error.step, error.key)
 * ```
 */
export function isIdbEvolveError(error: unknown): error is AnyIdbEvolveError;
export function isIdbEvolveError<N extends IdbEvolveErrorName>(
  error: unknown,
  name: N,
): error is Extract<AnyIdbEvolveError, { name: N }>;
export function isIdbEvolveError(error: unknown, name?: string): boolean {
  const branded = typeof error === 'object' && error !== null && (error as { [BRAND]?: unknown })[BRAND] === true;
  return branded && (name === undefined || (error as Error).name === name);
}
