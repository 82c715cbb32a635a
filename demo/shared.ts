// What the page, the dedicated Worker and the Service Worker share: the migration run and the plain-data shapes
// they exchange with postMessage (errors and reports must cross a structured clone).
import { isIdbEvolveError, openDatabase, snapshotPolicy, type Progress, type UpgradeReport } from '../src/index.js';
import { makePlan, type DemoPlanOptions } from './plan.js';

/** An error as plain data: every field the library's typed errors carry. */
export interface ErrorData {
  readonly name: string;
  readonly code?: string;
  readonly version?: number;
  readonly step?: string;
  readonly stepIndex?: number;
  readonly store?: string;
  readonly key?: string;
  readonly snapshotId?: string;
  /** A unique index violation: the index, the key two records share, and those records' primary keys. */
  readonly index?: string;
  readonly indexKey?: string;
  readonly primaryKeys?: readonly string[];
  /** A validation failure: the validator's issues, one line each. */
  readonly issues?: readonly string[];
  readonly message: string;
  readonly cause?: { readonly name: string; readonly message: string } | string;
  readonly typed: boolean;
}

function describeKey(key: unknown): string {
  if (key instanceof Date) return `Date(${key.toISOString()})`;
  try {
    return JSON.stringify(key) ?? String(key);
  } catch {
    return String(key);
  }
}

export function errorData(error: unknown): ErrorData {
  const e = error as Record<string, unknown> | null;
  const cause = e?.cause;
  const fields: Record<string, unknown> = {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(error),
    typed: isIdbEvolveError(error),
  };
  for (const field of ['code', 'version', 'step', 'stepIndex', 'store', 'snapshotId', 'index'] as const) {
    if (e?.[field] !== undefined) fields[field] = e[field];
  }
  if (e?.key !== undefined) fields.key = describeKey(e.key);
  if (e?.indexKey !== undefined) fields.indexKey = describeKey(e.indexKey);
  if (Array.isArray(e?.primaryKeys)) fields.primaryKeys = e.primaryKeys.map(describeKey);
  if (Array.isArray(e?.issues)) {
    fields.issues = (e.issues as { message: string; path?: unknown[] }[]).map(
      (issue) => `${issue.path?.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`,
    );
  }
  if (cause !== undefined) {
    const c = cause as { name?: unknown; message?: unknown } | null;
    fields.cause =
      typeof c === 'object' && c !== null && typeof c.message === 'string'
        ? { name: typeof c.name === 'string' ? c.name : 'Error', message: c.message }
        : describeKey(cause);
  }
  return fields as unknown as ErrorData;
}

/** A migration request sent to a worker. */
export interface MigrateRequest {
  readonly type: 'migrate';
  readonly database: string;
  readonly target: number;
  readonly plan: DemoPlanOptions;
}

/** What a worker posts back while and after migrating. */
export type MigrateMessage =
  | { readonly type: 'progress'; readonly progress: Progress }
  | { readonly type: 'blocked'; readonly oldVersion: number; readonly newVersion: number | null }
  | {
      readonly type: 'done';
      readonly where: string;
      readonly report: UpgradeReport | null;
      readonly snapshotId: string | null;
      readonly version: number;
      readonly ms: number;
    }
  | { readonly type: 'error'; readonly where: string; readonly error: ErrorData };

/** Runs the demo migration with openDatabase where it is called (page or worker), reporting through `post`. */
export async function runMigration(
  request: MigrateRequest,
  where: string,
  post: (message: MigrateMessage) => void,
): Promise<void> {
  const started = performance.now();
  let lastProgress = 0;
  try {
    const { db, upgrade } = await openDatabase(request.database, makePlan(request.plan), {
      version: request.target,
      onProgress: (progress) => {
        // One message per batch is plenty; phases and the end of a store always go through.
        const now = performance.now();
        if (now - lastProgress > 50 || progress.done === progress.total || progress.done === 0) {
          lastProgress = now;
          post({ type: 'progress', progress });
        }
      },
      onBlocked: (info) => post({ type: 'blocked', oldVersion: info.oldVersion, newVersion: info.newVersion }),
      // Same policy as the page's upgrades (demo/main.ts).
      snapshots: snapshotPolicy({ keep: 5 }),
    });
    const version = db.version;
    db.close();
    const report = upgrade?.report ?? null;
    const snapshotId = upgrade?.backup.status === 'taken' ? upgrade.backup.snapshot.id : null;
    post({ type: 'done', where, report, snapshotId, version, ms: performance.now() - started });
  } catch (error) {
    post({ type: 'error', where, error: errorData(error) });
  }
}
