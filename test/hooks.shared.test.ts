import { expect, test } from 'vitest';
import {
  listSnapshots,
  openDatabase,
  readUpgradeLog,
  updateRecords,
  type Step,
  type UpgradeHooks,
} from '../src/index.js';
import { fakeEnvironment, openAndClose, plan, seedDatabase } from './helpers.js';

const v1 = { version: 1, stores: { notes: { keyPath: 'id' } } } as const;
// A custom step (not record-level): it is not fused with the previous version's, so that version completes first.
const bump = (fail: boolean): Step => {
  const { records: _records, ...step } = updateRecords(
    'notes',
    (n: { id: number; n: number }) => {
      if (fail && n.id === 2) throw new Error('boom');
      return { ...n, n: n.n + 1 };
    },
    { name: 'bump' },
  );
  return step;
};

function recorder(): { calls: [string, unknown][]; hooks: UpgradeHooks } {
  const calls: [string, unknown][] = [];
  return {
    calls,
    hooks: {
      onStart: (info) => calls.push(['start', info]),
      onVersion: (report) => calls.push(['version', report.version]),
      onComplete: (report, info) =>
        calls.push([
          'complete',
          {
            versions: report.versions.length,
            backup: info.backup.status,
            snapshot: info.backup.status === 'taken' ? info.backup.snapshot.version : undefined,
          },
        ]),
      onFailed: (error, info) =>
        calls.push([
          'failed',
          {
            code: error.code,
            version: error.version,
            ms: typeof info.ms,
            completed: info.completed.map((v) => v.version),
            snapshot: info.snapshot?.version,
          },
        ]),
    },
  };
}

test('hooks see start, each version and completion; the upgrade log records the run', async () => {
  const { factory, options } = fakeEnvironment();
  const p = plan(v1, { ...v1, version: 2, steps: [bump(false)] }, { ...v1, version: 3, steps: [bump(false)] });
  await seedDatabase(
    'db',
    p,
    1,
    {
      notes: [
        { id: 1, n: 0 },
        { id: 2, n: 0 },
      ],
    },
    options,
  );
  const { calls, hooks } = recorder();
  const { db, upgrade } = await openDatabase('db', p, { ...options, hooks, upgradeLog: true });
  db.close();
  expect(calls).toEqual([
    ['start', { database: 'db', oldVersion: 1, newVersion: 3, startedAt: expect.any(Date), pending: [2, 3] }],
    ['version', 2],
    ['version', 3],
    ['complete', { versions: 2, backup: 'taken', snapshot: 1 }],
  ]);
  expect(upgrade?.backup.status).toBe('taken');
  const snapshot = upgrade?.backup.status === 'taken' ? upgrade.backup.snapshot : undefined;
  const [record, ...rest] = await readUpgradeLog({
    database: 'db',
    indexedDB: factory,
    IDBKeyRange: options.IDBKeyRange,
  });
  expect(rest).toEqual([]);
  expect(record).toMatchObject({
    database: 'db',
    outcome: 'upgraded',
    oldVersion: 1,
    newVersion: 3,
    snapshotId: snapshot!.id,
    error: null,
  });
  expect(record!.versions.map((v) => v.steps.map((s) => [s.name, s.visited, s.updated]))).toEqual([
    [['bump', 2, 2]],
    [['bump', 2, 2]],
  ]);
});

test('a failed upgrade calls onFailed and is recorded with its typed error; hooks that throw change nothing', async () => {
  const { factory, options } = fakeEnvironment();
  const p = plan(v1, { ...v1, version: 2, steps: [bump(false)] }, { ...v1, version: 3, steps: [bump(true)] });
  await seedDatabase(
    'db',
    p,
    1,
    {
      notes: [
        { id: 1, n: 0 },
        { id: 2, n: 0 },
      ],
    },
    options,
  );
  const { calls, hooks } = recorder();
  const throwing: UpgradeHooks = {
    ...hooks,
    onStart: (info) => {
      hooks.onStart!(info);
      throw new Error('monitoring broke');
    },
  };
  await expect(openDatabase('db', p, { ...options, hooks: throwing, upgradeLog: true })).rejects.toMatchObject({
    code: 'step_failed',
    key: 2,
  });
  // onFailed learns how far it got: version 2 completed (then rolled back), and the snapshot it can be compared with.
  expect(calls).toEqual([
    ['start', { database: 'db', oldVersion: 1, newVersion: 3, startedAt: expect.any(Date), pending: [2, 3] }],
    ['version', 2],
    ['failed', { code: 'step_failed', version: 3, ms: 'number', completed: [2], snapshot: 1 }],
  ]);
  const [snapshot] = await listSnapshots({ storage: options.snapshots.storage });
  const history = await readUpgradeLog({ database: 'db', indexedDB: factory, IDBKeyRange: options.IDBKeyRange });
  expect(history).toHaveLength(1);
  expect(history[0]).toMatchObject({
    outcome: 'failed',
    oldVersion: 1,
    newVersion: 3,
    snapshotId: snapshot!.id,
    error: { name: 'UpgradeError', code: 'step_failed', version: 3, step: 'bump', store: 'notes', key: 2 },
  });
  expect(history[0]!.versions.map((v) => [v.version, v.steps.map((s) => [s.name, s.updated])])).toEqual([
    [2, [['bump', 2]]],
  ]);
});

test('without upgradeLog: true nothing is recorded, and opens that do not upgrade call no hook', async () => {
  const { factory, options } = fakeEnvironment();
  const p = plan(v1, { ...v1, version: 2, steps: [bump(false)] });
  await seedDatabase('db', p, 1, { notes: [{ id: 1, n: 0 }] }, options);
  await openAndClose('db', p, options);
  const { calls, hooks } = recorder();
  await openAndClose('db', p, { ...options, hooks });
  expect(calls).toEqual([]);
  expect((await factory.databases()).map((d) => d.name)).toEqual(['db']);
});

test('onComplete says which backup the upgrade had: not-needed when fresh, off with snapshots: false', async () => {
  const { options } = fakeEnvironment();
  const p = plan(v1, { ...v1, version: 2, steps: [bump(false)] });
  const backups: unknown[] = [];
  const hooks: UpgradeHooks = { onComplete: (report, info) => backups.push([report.newVersion, info.backup]) };
  await openAndClose('db', p, { ...options, version: 1, hooks });
  await openAndClose('db', p, { ...options, snapshots: false, hooks });
  expect(backups).toEqual([
    [1, { status: 'not-needed' }],
    [2, { status: 'off' }],
  ]);
});
