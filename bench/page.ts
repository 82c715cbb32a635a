// The bench page: exposes `window.bench`, which the Node driver (run.mjs) calls with page.evaluate. Every
// function returns plain JSON. Setup, verification and cleanup are separate calls so that the driver can force a
// garbage collection and take the heap baseline right before the timed call.
import { expectedItem, makeItem, recordStats } from './data.js';
import { clearOpfs, deleteDatabase, populate, verify, verifyOriginal } from './idb-util.js';
import { diagnoseCases } from './diagnose-cases.js';
import { migrateCases as mainCases, type MigrateCase, type Outcome } from './migrate-cases.js';

const migrateCases: readonly MigrateCase[] = [...mainCases, ...diagnoseCases];
import { restoreCases, snapshotCases, type RestoreCase, type SnapshotCase } from './snapshot-cases.js';

function find<T extends { id: string }>(list: readonly T[], id: string): T {
  const found = list.find((c) => c.id === id);
  if (found === undefined) throw new Error(`No case "${id}"`);
  return found;
}

let prepared: unknown;

const describe = (
  c: MigrateCase | SnapshotCase | RestoreCase,
): { id: string; label: string; unavailable: string | null } => ({
  id: c.id,
  label: c.label,
  unavailable: ('unavailable' in c ? c.unavailable?.() : undefined) ?? null,
});

async function timed(work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

const bench = {
  info: () => ({
    userAgent: navigator.userAgent,
    hardwareConcurrency: navigator.hardwareConcurrency,
    record: { ...recordStats(), example: JSON.stringify(makeItem(1)) },
    cases: {
      migrate: mainCases.map(describe),
      diagnose: diagnoseCases.map(describe),
      snapshot: snapshotCases.map(describe),
      restore: restoreCases.map(describe),
    },
  }),

  /** Fresh database `name` at version 1 with `count` records. */
  populate: async (name: string, count: number): Promise<number> => timed(() => populate(name, count)),
  deleteDatabase: (name: string): Promise<void> => deleteDatabase(name),
  clearOpfs: (): Promise<void> => clearOpfs(),

  prepareMigrate: async (id: string, name: string, count: number): Promise<void> => {
    prepared = undefined;
    await populate(name, count);
    prepared = find(migrateCases, id).setup?.(count);
  },
  /**
   * Resolves with the time, for capped cases that hit `limit` (ms) the records done before stopping, and for a
   * case with a snapshot the part of the time it took.
   */
  runMigrate: async (id: string, name: string, count: number, limit?: number): Promise<{ ms: number } & Outcome> => {
    const c = find(migrateCases, id);
    let outcome: Outcome | undefined;
    const ms = await timed(async () => {
      outcome = (await c.run(name, count, prepared, limit)) ?? undefined;
    });
    return { ms, ...outcome };
  },
  /** Checks the migrated database. It is not deleted: the driver gives every run an origin (a LevelDB) of its own. */
  finishMigrate: async (id: string, name: string, count: number): Promise<void> => {
    prepared = undefined;
    const c = find(migrateCases, id);
    if (c.leaves === 'original') await verify(name, count, makeItem, 2);
    else await verify(name, count, expectedItem, c.finalVersion ?? 2);
  },
  /** After a capped run that stopped: the upgrade was rolled back, so the database must still be at version 1. */
  finishStopped: async (name: string, count: number): Promise<void> => {
    prepared = undefined;
    await verifyOriginal(name, count);
  },

  cleanSnapshot: (id: string): Promise<void> => find(snapshotCases, id).clean(),
  runSnapshot: (id: string, name: string): Promise<number> => {
    const c = find(snapshotCases, id);
    return timed(() => c.run(name));
  },
  snapshotOutput: (id: string) => find(snapshotCases, id).output(),

  prepareRestore: (id: string, count: number): void => {
    prepared = find(restoreCases, id).setup?.(count);
  },
  runRestore: (id: string, target: string, ref: string): Promise<number> => {
    const c = find(restoreCases, id);
    return timed(() => c.run(target, ref, prepared));
  },
  finishRestore: async (target: string, count: number): Promise<void> => {
    prepared = undefined;
    await verifyOriginal(target, count);
  },
  verifyOriginal: (name: string, count: number): Promise<void> => verifyOriginal(name, count),
};

export type Bench = typeof bench;
(globalThis as unknown as { bench: Bench }).bench = bench;
document.title = 'idb-evolve bench: ready';
