import { IdbEvolveError, type ErrorContext, type ProtectedOpenErrorCode } from '../errors.js';
import type { SnapshotInfo } from '../snapshot/format.js';
import type { RestoreReport } from '../snapshot/restore.js';

/** Context of a {@link ProtectedOpenError}. */
export interface ProtectedOpenErrorContext extends ErrorContext {
  readonly database: string;
  readonly oldVersion: number;
  readonly newVersion: number;
  readonly installedVersion: number;
  readonly committed: boolean;
  readonly snapshot: SnapshotInfo | null;
  readonly restored: RestoreReport | null;
  readonly restoreError?: unknown;
  readonly restore: () => Promise<RestoreReport>;
}

/**
 * An upgrade run by another library (Dexie, idb, localForage, PouchDB) under {@link protectUpgrade} failed. Says
 * whether the failure changed the database (`committed`: IndexedDB committed the upgrade anyway, or the open
 * resolved), which snapshot was taken before it, and whether that snapshot was restored; `restore()` restores it
 * (again) when the app chooses to, for example after `restore: 'manual'`.
 */
export class ProtectedOpenError extends IdbEvolveError {
  override name = 'ProtectedOpenError' as const;
  declare readonly code: ProtectedOpenErrorCode;
  /** The database the protected open was for. */
  declare readonly database: string;
  /** The version installed before the open (0: the database did not exist). */
  declare readonly oldVersion: number;
  /** The version the open asked for. */
  declare readonly newVersion: number;
  /** The version installed after the failure, before any restore. */
  declare readonly installedVersion: number;
  /** Whether the failed upgrade changed the database (else IndexedDB rolled it back and nothing needs restoring). */
  declare readonly committed: boolean;
  /** The snapshot written before the upgrade; null when none was needed or the policy let the open go without. */
  declare readonly snapshot: SnapshotInfo | null;
  /** The restore that put the snapshot back (`restore: 'auto'` and a committed failure); else null. */
  declare readonly restored: RestoreReport | null;
  /** Why the automatic restore failed, when it did; `restore()` can be tried again once the cause is fixed. */
  declare readonly restoreError: unknown;
  /** Restores the snapshot (with the protected open's IndexedDB and storage); rejects when there is none. */
  declare readonly restore: () => Promise<RestoreReport>;

  constructor(code: ProtectedOpenErrorCode, message: string, context: ProtectedOpenErrorContext) {
    super(code, message, context);
    this.database = context.database;
    this.oldVersion = context.oldVersion;
    this.newVersion = context.newVersion;
    this.installedVersion = context.installedVersion;
    this.committed = context.committed;
    this.snapshot = context.snapshot;
    this.restored = context.restored;
    this.restoreError = context.restoreError;
    this.restore = context.restore;
  }
}

declare module '../errors.js' {
  interface IdbEvolveErrors {
    ProtectedOpenError: ProtectedOpenError;
  }
}
