import type { IdbEvolveError, SnapshotError } from '../errors.js';
import type { SnapshotInfo } from '../snapshot/format.js';
import type { SnapshotCopy } from '../snapshot/policy.js';
import type { UpgradeReport, VersionReport } from './run-upgrade.js';

/** What the lifecycle hooks learn about an upgrade. */
export interface UpgradeInfo {
  readonly database: string;
  readonly oldVersion: number;
  readonly newVersion: number;
  /** When the upgrade started (the `versionchange` transaction began). */
  readonly startedAt: Date;
  /** The plan versions this upgrade runs, in order (only the target for a fresh database, which gets it directly). */
  readonly pending: readonly number[];
}

/**
 * The backup an upgrade had. Going without one is always a word here, never a null: `off` (the app passed
 * `snapshots: false`), `skipped` (the snapshot failed and the policy's `onFailure` let the upgrade proceed), or
 * `not-needed` (a fresh database: there was nothing to back up).
 */
export type Backup =
  | {
      readonly status: 'taken';
      readonly snapshot: SnapshotInfo;
      /** Whether the origin's storage is persistent (the browser will not evict it); null where unknown. */
      readonly persistent: boolean | null;
      /** What became of the copy handed to the policy's `onSnapshot`. */
      readonly copy: SnapshotCopy;
    }
  | { readonly status: 'skipped'; readonly error: SnapshotError }
  | { readonly status: 'off' }
  | { readonly status: 'not-needed' };

/** Passed to `onFailed`: how far the upgrade got before it was rolled back. */
export interface FailedUpgradeInfo extends UpgradeInfo {
  /** Milliseconds from the start to the failure. */
  readonly ms: number;
  /** Reports of the versions that completed before the failure; their work was rolled back with the rest. */
  readonly completed: readonly VersionReport[];
  /** The snapshot written before the upgrade, which stays (it is the state the database was rolled back to). */
  readonly snapshot: SnapshotInfo | null;
}

/**
 * Lifecycle hooks for monitoring upgrades (staged rollouts, telemetry). They run inside the upgrade and must be
 * quick and synchronous; one that throws is ignored rather than allowed to fail the upgrade.
 */
export interface UpgradeHooks {
  /** The upgrade starts (inside the versionchange transaction, before the snapshot). */
  readonly onStart?: (info: UpgradeInfo) => void;
  /** One version is done (its layout, steps and layout check); the transaction has not committed yet. */
  readonly onVersion?: (report: VersionReport, info: UpgradeInfo) => void;
  /** The upgrade committed. */
  readonly onComplete?: (report: UpgradeReport, info: UpgradeInfo & { readonly backup: Backup }) => void;
  /** The upgrade was rolled back (or refused): the database is as it was. */
  readonly onFailed?: (error: IdbEvolveError, info: FailedUpgradeInfo) => void;
}

/** Calls a hook; monitoring must never change the outcome of an upgrade. */
export function safely<A extends unknown[]>(hook: ((...args: A) => void) | undefined, ...args: A): void {
  try {
    hook?.(...args);
  } catch {
    // Ignored: see UpgradeHooks.
  }
}

/** Filled in as an upgrade goes, so that its end can be reported whichever way it goes. */
export interface Trace {
  started?: UpgradeInfo;
  snapshot?: SnapshotInfo | null;
  readonly completed: VersionReport[];
}
