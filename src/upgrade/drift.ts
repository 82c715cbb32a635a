import { type LayoutDifference, OpenError } from '../errors.js';
import type { Plan } from '../plan/define-plan.js';
import { formatDifferences, matchLayout, type NormalizedLayout, readLayout } from '../plan/layout.js';

/** The layout an open found installed, checked against the plan's layouts for the database's version. */
export interface InstalledLayout {
  readonly version: number;
  /** The plan's alternative layout the database has, by name; null when it has the declared one. */
  readonly alternative: string | null;
  /** How it differs from the declared layout when it matches none (reported to `onDrift`); else empty. */
  readonly differences: readonly LayoutDifference[];
}

/** Reads the layout of an open connection: names, key paths, key generators and indexes, no record. */
export function installedLayout(db: IDBDatabase): NormalizedLayout {
  const names = Array.from(db.objectStoreNames);
  if (names.length === 0) return {};
  // Only its stores' properties are read: ended at once, it holds up neither the app's transactions nor a close.
  const transaction = db.transaction(names, 'readonly');
  try {
    return readLayout(db, transaction);
  } finally {
    transaction.abort();
  }
}

/**
 * The layout check of every open that did not upgrade: a database whose layout is none of those the plan declares
 * for its version was changed without a version bump (or by other code). Rejects with OpenError `layout_drift`,
 * the connection closed, unless `onDrift` takes the report.
 */
export function checkInstalledLayout(
  name: string,
  db: IDBDatabase,
  plan: Plan,
  onDrift: ((drift: InstalledLayout) => void) | undefined,
): InstalledLayout {
  const version = plan.get(db.version)!;
  const match = matchLayout(version.layout, version.alternatives, installedLayout(db));
  const layout = { version: db.version, ...match };
  if (match.differences.length === 0) return layout;
  if (onDrift !== undefined) {
    onDrift(layout);
    return layout;
  }
  db.close();
  throw new OpenError(
    'layout_drift',
    `"${name}" is at version ${db.version} but its layout is not the one the plan declares for it (was the layout changed without a version bump?): ${formatDifferences(match.differences)}`,
    { version: db.version, oldVersion: db.version, differences: match.differences },
  );
}
