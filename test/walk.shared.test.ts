import { IDBObjectStore as FakeIDBObjectStore } from 'fake-indexeddb';
import { describe, expect, test, vi } from 'vitest';
import {
  remove,
  unchanged,
  type UpgradeError,
  type DatabaseLayout,
  type RecordInfo,
  type StepContext,
  type StepReport,
  type UpgradeReport,
  type WalkOptions,
  type WalkResult,
} from '../src/index.js';
import {
  dump,
  fakeEnvironment,
  openAndClose,
  plan,
  realIndexedDB,
  seedDatabase,
  upgradeMustFail,
  type DatabaseDump,
} from './helpers.js';

interface Row {
  id: number;
  group: number;
  seen?: number;
}

type Run = (ctx: StepContext) => void | Promise<void>;

const inline: DatabaseLayout = { items: { keyPath: 'id', indexes: { byGroup: 'group' } } };

/** `count` records with ids 1..count (inserted out of order) and `group = id % 3`, so the index has many duplicates. */
function rows(count: number): Row[] {
  const list = Array.from({ length: count }, (_, i) => ({ id: i + 1, group: (i + 1) % 3 }));
  return [...list.filter((r) => r.id % 2 === 0), ...list.filter((r) => r.id % 2 === 1)];
}

/** A v1 → v2 plan whose only v2 step is `{ name: 'walk', stores, run }`. */
function walkPlan(run: Run, layout: DatabaseLayout = inline, stores: string[] = Object.keys(layout)) {
  return plan({ version: 1, stores: layout }, { version: 2, stores: layout, steps: [{ name: 'walk', stores, run }] });
}

interface Seed {
  layout?: DatabaseLayout;
  records?: Record<string, unknown[]>;
  outOfLine?: boolean;
  stores?: string[];
}

/** Seeds v1, runs the step in the upgrade to v2, returns its report and the database before and after. */
async function runStep(run: Run, seed: Seed = {}) {
  const { layout = inline, records = { items: rows(10) }, outOfLine = false, stores } = seed;
  const { factory, options } = fakeEnvironment();
  const p = walkPlan(run, layout, stores);
  await seedDatabase('db', p, 1, records, options, { outOfLine });
  const before = await dump(factory, 'db');
  const report = (await openAndClose('db', p, options)) as UpgradeReport;
  const after = await dump(factory, 'db');
  expect(after.version).toBe(2);
  return { step: report.versions[0]!.steps[0]!, before, after };
}

/** Like {@link runStep} but the upgrade must fail: returns the UpgradeError after checking nothing changed. */
async function failStep(run: Run, seed: Seed = {}): Promise<UpgradeError> {
  const { layout = inline, records = { items: rows(10) }, outOfLine = false, stores } = seed;
  return upgradeMustFail(walkPlan(run, layout, stores), records, { outOfLine });
}

/** Walks `items` marking each record `seen` once more, logging [key, primaryKey] per visit. */
async function markingWalk(options: WalkOptions, seed: Seed = {}) {
  const visits: [IDBValidKey, IDBValidKey][] = [];
  let result: WalkResult | undefined;
  const { step, after } = await runStep(async (ctx) => {
    result = await ctx.store<Row>('items').walk((value, { key, primaryKey }) => {
      visits.push([key, primaryKey]);
      return { ...value, seen: (value.seen ?? 0) + 1 };
    }, options);
  }, seed);
  return { visits, primaryKeys: visits.map(([, pk]) => pk), result, step, after };
}

const counts = (step: StepReport) => ({
  visited: step.visited,
  updated: step.updated,
  deleted: step.deleted,
  written: step.written,
});

/** Records of `items` as [primaryKey, seen]. */
const seenOf = (d: DatabaseDump) => d.stores.items!.records.map(([key, value]) => [key, (value as Row).seen]);

const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

// The key range class of the IndexedDB under test (fake in Node, the engine's own in a browser), for ranges built
// outside a step; steps use ctx.IDBKeyRange, the class the open was given.
const IDBKeyRange = fakeEnvironment().options.IDBKeyRange;
const objectStorePrototype = (realIndexedDB ? globalThis.IDBObjectStore.prototype : FakeIDBObjectStore.prototype) as {
  getAllRecords?: unknown;
};

/** Runs `fn` with IDBObjectStore.prototype.getAllRecords removed, as in WebKit (a no-op where it never existed). */
async function withoutGetAllRecords<T>(fn: () => Promise<T>): Promise<T> {
  const proto = objectStorePrototype;
  const saved = Object.getOwnPropertyDescriptor(proto, 'getAllRecords');
  if (saved === undefined) return fn();
  delete proto.getAllRecords;
  try {
    return await fn();
  } finally {
    Object.defineProperty(proto, 'getAllRecords', saved!);
  }
}

const paths = [
  ['getAllRecords', <T>(fn: () => Promise<T>) => fn()],
  ['getAllKeys + getAll fallback', withoutGetAllRecords],
] as const;

describe.each(paths)('walk with %s', (_label, path) => {
  test.each([[1], [2], [7], [10], [11], [undefined]])(
    'batchSize %j visits every record exactly once in key order',
    (batchSize) =>
      path(async () => {
        const { primaryKeys, visits, result, step, after } = await markingWalk(
          batchSize === undefined ? {} : { batchSize },
        );
        expect(primaryKeys).toEqual(ids(1, 10));
        expect(visits.every(([key, pk]) => key === pk)).toBe(true);
        expect(seenOf(after)).toEqual(ids(1, 10).map((id) => [id, 1]));
        expect(result).toEqual({ visited: 10, updated: 10, deleted: 0 });
        expect(counts(step)).toEqual({ visited: 10, updated: 10, deleted: 0, written: 0 });
      }),
  );

  test.each([[1], [3], [10], [11]])('direction prev with batchSize %i visits in reverse key order', (batchSize) =>
    path(async () => {
      const { primaryKeys, after } = await markingWalk({ direction: 'prev', batchSize });
      expect(primaryKeys).toEqual(ids(1, 10).reverse());
      expect(seenOf(after)).toEqual(ids(1, 10).map((id) => [id, 1]));
    }),
  );

  const ranges: [string, () => IDBKeyRange | number, number[]][] = [
    ['bound closed', () => IDBKeyRange.bound(3, 7), ids(3, 7)],
    ['bound open', () => IDBKeyRange.bound(3, 7, true, true), ids(4, 6)],
    ['bound lower open', () => IDBKeyRange.bound(3, 7, true, false), ids(4, 7)],
    ['lowerBound', () => IDBKeyRange.lowerBound(8), ids(8, 10)],
    ['lowerBound open', () => IDBKeyRange.lowerBound(8, true), ids(9, 10)],
    ['upperBound open', () => IDBKeyRange.upperBound(3, true), ids(1, 2)],
    ['upperBound closed', () => IDBKeyRange.upperBound(3), ids(1, 3)],
    ['only', () => IDBKeyRange.only(4), [4]],
    ['a plain key', () => 5, [5]],
    ['a plain key that is absent', () => 42, []],
    ['an empty bound', () => IDBKeyRange.bound(4.2, 4.8), []],
  ];

  test.each(ranges)('range %s, forward and backward, across batches', (_name, range, expected) =>
    path(async () => {
      for (const batchSize of [1, 2, 1000]) {
        const forward = await markingWalk({ range: range(), batchSize });
        expect(forward.primaryKeys).toEqual(expected);
        expect(seenOf(forward.after).filter(([, seen]) => seen !== undefined)).toEqual(expected.map((id) => [id, 1]));
        const backward = await markingWalk({ range: range(), batchSize, direction: 'prev' });
        expect(backward.primaryKeys).toEqual([...expected].reverse());
      }
    }),
  );

  test.each([[1], [4], [7], [20], [50]])(
    'index walk with batchSize %i visits each record once in index order',
    (batchSize) =>
      path(async () => {
        const records = rows(20);
        const byIndex = [...records].sort((a, b) => a.group - b.group || a.id - b.id).map((r) => [r.group, r.id]);
        const forward = await markingWalk({ index: 'byGroup', batchSize }, { records: { items: records } });
        expect(forward.visits).toEqual(byIndex);
        expect(seenOf(forward.after)).toEqual(ids(1, 20).map((id) => [id, 1]));
        expect(counts(forward.step)).toEqual({ visited: 20, updated: 20, deleted: 0, written: 0 });
        const backward = await markingWalk(
          { index: 'byGroup', batchSize, direction: 'prev' },
          { records: { items: records } },
        );
        expect(backward.visits).toEqual([...byIndex].reverse());
      }),
  );

  test('index walk over a range of index keys', () =>
    path(async () => {
      const records = { items: rows(20) };
      const only = await markingWalk({ index: 'byGroup', range: 1, batchSize: 2 }, { records });
      expect(only.visits).toEqual([1, 4, 7, 10, 13, 16, 19].map((id) => [1, id]));
      const from = await markingWalk(
        { index: 'byGroup', range: IDBKeyRange.lowerBound(1, true), batchSize: 3 },
        { records },
      );
      expect(from.visits).toEqual([2, 5, 8, 11, 14, 17, 20].map((id) => [2, id]));
    }));

  test('out-of-line keys: put keeps each key, in both directions', () =>
    path(async () => {
      const seed: Seed = {
        layout: { items: {} },
        records: {
          items: [
            ['b', { group: 2 }],
            ['a', { group: 1 }],
            ['c', { group: 3 }],
            [[1, 'x'], { group: 4 }],
          ],
        },
        outOfLine: true,
      };
      for (const direction of ['next', 'prev'] as const) {
        const { primaryKeys, after, step } = await markingWalk({ batchSize: 2, direction }, seed);
        const order: IDBValidKey[] = ['a', 'b', 'c', [1, 'x']];
        expect(primaryKeys).toEqual(direction === 'next' ? order : [...order].reverse());
        expect(after.stores.items!.records).toEqual([
          ['a', { group: 1, seen: 1 }],
          ['b', { group: 2, seen: 1 }],
          ['c', { group: 3, seen: 1 }],
          [[1, 'x'], { group: 4, seen: 1 }],
        ]);
        expect(counts(step)).toEqual({ visited: 4, updated: 4, deleted: 0, written: 0 });
      }
    }));

  test('remove deletes records and unchanged skips them, across batches', () =>
    path(async () => {
      let result: WalkResult | undefined;
      const { after, step } = await runStep(async (ctx) => {
        result = await ctx
          .store<Row>('items')
          .walk((value) => (value.group === 0 ? remove : value.group === 1 ? unchanged : { ...value, seen: 1 }), {
            batchSize: 2,
          });
      });
      expect(after.stores.items!.records.map(([key, value]) => [key, (value as Row).seen])).toEqual([
        [1, undefined],
        [2, 1],
        [4, undefined],
        [5, 1],
        [7, undefined],
        [8, 1],
        [10, undefined],
      ]);
      expect(result).toEqual({ visited: 10, updated: 3, deleted: 3 });
      expect(counts(step)).toEqual({ visited: 10, updated: 3, deleted: 3, written: 0 });
    }));
});

describe('walk implementations', () => {
  /** Several walks in one upgrade; returns what they saw and the database after. */
  async function scenario() {
    const seen = { all: [], prev: [], range: [], index: [], indexPrev: [] } as Record<
      'all' | 'prev' | 'range' | 'index' | 'indexPrev',
      [IDBValidKey, IDBValidKey][]
    >;
    const log =
      (name: keyof typeof seen) =>
      (value: Row, { key, primaryKey }: RecordInfo) => {
        seen[name].push([key, primaryKey]);
        return value.id % 5 === 0 ? remove : { ...value, seen: (value.seen ?? 0) + 1 };
      };
    const { after, step } = await runStep(
      async (ctx) => {
        const items = ctx.store<Row>('items');
        await items.walk(log('all'), { batchSize: 3 });
        await items.walk(log('prev'), { batchSize: 4, direction: 'prev' });
        await items.walk(log('range'), { batchSize: 2, range: ctx.IDBKeyRange.bound(3, 12, true, false) });
        await items.walk(log('index'), { batchSize: 5, index: 'byGroup' });
        await items.walk(log('indexPrev'), {
          batchSize: 5,
          index: 'byGroup',
          direction: 'prev',
          range: ctx.IDBKeyRange.upperBound(1),
        });
      },
      { records: { items: rows(23) } },
    );
    return { seen, after, counts: counts(step) };
  }

  test('getAllRecords and the getAllKeys + getAll fallback give identical results', async () => {
    const native = await scenario();
    const fallback = await withoutGetAllRecords(scenario);
    expect(fallback).toEqual(native);
    expect(native.seen.all.map(([, pk]) => pk)).toEqual(ids(1, 23));
    expect(native.seen.prev.map(([, pk]) => pk)).toEqual(
      ids(1, 23)
        .filter((id) => id % 5 !== 0)
        .reverse(),
    );
  });

  /** Pages of the walk's batchSize (4) read by each request kind: dumps and pre-upgrade snapshots use other sizes. */
  async function pagesRead(seed: Seed = {}) {
    const proto = objectStorePrototype as unknown as Record<
      'getAllRecords' | 'getAllKeys' | 'getAll',
      (...args: unknown[]) => unknown
    >;
    const pages = (spy: { mock: { calls: unknown[][] } } | undefined, count = (args: unknown[]) => args[1]) =>
      spy?.mock.calls.filter((args) => count(args) === 4).length ?? 0;
    try {
      const records = typeof proto.getAllRecords === 'function' ? vi.spyOn(proto, 'getAllRecords') : undefined;
      const keys = vi.spyOn(proto, 'getAllKeys');
      const values = vi.spyOn(proto, 'getAll');
      const { after } = await runStep(
        async (ctx) => void (await ctx.store<Row>('items').walk((v) => ({ ...v, seen: 1 }), { batchSize: 4 })),
        seed,
      );
      const recordsCount = (args: unknown[]) => (args[0] as { count?: number } | undefined)?.count;
      return {
        pages: { getAllRecords: pages(records, recordsCount), getAllKeys: pages(keys), getAll: pages(values) },
        after,
      };
    } finally {
      vi.restoreAllMocks();
    }
  }

  // 10 records in batches of 4: pages of 4, 4 and 2.
  test('in-line number keys are read with getAll alone, the keys taken from the values', async () => {
    expect((await pagesRead()).pages).toEqual({ getAllRecords: 0, getAllKeys: 0, getAll: 3 });
    expect((await withoutGetAllRecords(() => pagesRead())).pages).toEqual({
      getAllRecords: 0,
      getAllKeys: 0,
      getAll: 3,
    });
  });

  test('out-of-line keys are read with getAllRecords, or getAllKeys + getAll without it', async () => {
    const seed: Seed = {
      layout: { items: {} },
      records: { items: ids(1, 10).map((id) => [id, { group: id % 3 }]) },
      outOfLine: true,
    };
    const native = await pagesRead(seed);
    // WebKit has no getAllRecords: there both runs take the fallback.
    if (typeof objectStorePrototype.getAllRecords === 'function')
      expect(native.pages).toEqual({ getAllRecords: 3, getAllKeys: 0, getAll: 0 });
    const fallback = await withoutGetAllRecords(() => pagesRead(seed));
    expect(fallback.pages).toEqual({ getAllRecords: 0, getAllKeys: 3, getAll: 3 });
    expect(fallback.after).toEqual(native.after);
  });

  test("in-line keys that are not numbers or strings come from getAllKeys: the engine's own key objects", async () => {
    const base = Date.UTC(2026, 0, 1);
    const seed: Seed = {
      layout: { items: { keyPath: 'id' } },
      records: { items: ids(1, 10).map((n) => ({ id: n % 2 ? new Date(base + n) : [n, 'x'], group: n % 3 })) },
    };
    const keys: IDBValidKey[] = [];
    const { after } = await runStep(
      async (ctx) =>
        void (await ctx.store<{ id: IDBValidKey }>('items').walk(
          (value, { primaryKey }) => {
            keys.push(primaryKey);
            // A key handed to the visitor is not the value's own object (mutating one cannot change the other).
            expect(primaryKey).not.toBe(value.id);
            expect(primaryKey).toEqual(value.id);
            return { ...value, seen: 1 };
          },
          { batchSize: 4 },
        )),
      seed,
    );
    // Dates sort before arrays.
    const dates = ids(1, 10)
      .filter((n) => n % 2)
      .map((n) => new Date(base + n));
    const arrays = ids(1, 10)
      .filter((n) => n % 2 === 0)
      .map((n) => [n, 'x']);
    expect(keys).toEqual([...dates, ...arrays]);
    expect(after.stores.items!.records.every(([, value]) => (value as { seen?: number }).seen === 1)).toBe(true);
    expect((await pagesRead(seed)).pages.getAllKeys).toBe(3);
  });
});

describe('walk failures', () => {
  const at = { name: 'UpgradeError', store: 'items' };
  const position = { version: 2, step: 'walk', stepIndex: 0 };
  const undefinedResult: Run = async (ctx) => {
    await ctx
      .store<Row>('items')
      .walk((value) => (value.id === 3 ? (undefined as unknown as Row) : { ...value, seen: 1 }), { batchSize: 2 });
  };
  const keyChange: Run = async (ctx) => {
    await ctx.store<Row>('items').walk((value) => (value.id === 2 ? { ...value, id: 102 } : value));
  };

  test.each(paths)('a visitor returning undefined fails with invalid_step_result and the key (%s)', (_label, path) =>
    path(async () => {
      const error = await failStep(undefinedResult);
      expect(error).toMatchObject({ ...at, code: 'invalid_step_result', key: 3 });
    }),
  );

  test.each([
    ['a different key', (v: Row) => ({ ...v, id: v.id + 100 })],
    ['no key', ({ id: _id, ...rest }: Row) => rest as Row],
    ['an invalid key', (v: Row) => ({ ...v, id: { not: 'a key' } as unknown as number })],
  ])('a visitor giving the record %s fails with key_changed', async (_label, change) => {
    const error = await failStep(async (ctx) => {
      await ctx.store<Row>('items').walk((value) => (value.id === 2 ? change(value) : value));
    });
    expect(error).toMatchObject({ ...at, code: 'key_changed', key: 2 });
  });

  // Was a bug: UpgradeErrors that step-store.ts builds itself (invalid_step_result, key_changed, bad walk options) are passed
  // to guard.fail() as UpgradeErrors, which toUpgradeError returns as is, so they never get version/step/stepIndex.
  test.each([
    ['invalid_step_result', undefinedResult],
    ['key_changed', keyChange],
    [
      'step_failed (batchSize)',
      (async (ctx) => void (await ctx.store('items').walk((v) => v, { batchSize: 0 }))) as Run,
    ],
  ])('a %s error names the version and step', async (_label, run) => {
    const error = await failStep(run);
    expect(error).toMatchObject(position);
  });

  test('a visitor that throws fails with step_failed, the key and the error as cause', async () => {
    const boom = new RangeError('bad record');
    const error = await failStep(async (ctx) => {
      await ctx.store<Row>('items').walk(
        (value) => {
          if (value.id === 7) throw boom;
          return value;
        },
        { batchSize: 3 },
      );
    });
    expect(error).toMatchObject({ ...at, ...position, code: 'step_failed', key: 7 });
    expect(error.cause).toBe(boom);
  });

  test('an async visitor that rejects fails the same way', async () => {
    const boom = new Error('async bad');
    const error = await failStep(async (ctx) => {
      await ctx.store<Row>('items').walk(async (value) => {
        if (value.id === 4) throw boom;
        return { ...value, seen: 1 };
      });
    });
    expect(error).toMatchObject({ ...at, ...position, code: 'step_failed', key: 4 });
    expect(error.cause).toBe(boom);
  });

  test.each([[0], [-1], [1.5], [Number.NaN]])('batchSize %s is refused', async (batchSize) => {
    const error = await failStep(async (ctx) => void (await ctx.store('items').walk((v) => v, { batchSize })));
    expect(error).toMatchObject({ ...at, code: 'step_failed' });
    expect(error.message).toContain('batchSize');
  });

  test('an unknown direction is refused', async () => {
    const error = await failStep(
      async (ctx) => void (await ctx.store('items').walk((v) => v, { direction: 'up' as 'next' })),
    );
    expect(error).toMatchObject({ ...at, code: 'step_failed' });
    expect(error.message).toContain('direction');
  });

  test('an index that does not exist fails the upgrade', async () => {
    const error = await failStep(async (ctx) => void (await ctx.store('items').walk((v) => v, { index: 'nope' })));
    expect(error).toMatchObject({ ...at, ...position, code: 'request_failed' });
    expect((error.cause as Error).name).toBe('NotFoundError');
  });
});

describe('walk visitors', () => {
  test('an async visitor (returning a resolved promise) works', async () => {
    let result: WalkResult | undefined;
    const { after, step } = await runStep(async (ctx) => {
      result = await ctx
        .store<Row>('items')
        .walk(async (value) => (value.id > 5 ? { ...value, seen: 1 } : unchanged), { batchSize: 3 });
    });
    expect(seenOf(after)).toEqual(ids(1, 10).map((id) => [id, id > 5 ? 1 : undefined]));
    expect(result).toEqual({ visited: 10, updated: 5, deleted: 0 });
    expect(counts(step)).toEqual({ visited: 10, updated: 5, deleted: 0, written: 0 });
  });

  test('a visitor may change the record in place and return it', async () => {
    const { after } = await runStep(async (ctx) => {
      await ctx.store<Row>('items').walk((value) => {
        value.seen = value.id * 2;
        return value;
      });
    });
    expect(seenOf(after)).toEqual(ids(1, 10).map((id) => [id, id * 2]));
  });

  // Was a bug: index walks re-read the live index after each batch's writes, so a record whose index key moves ahead of the
  // cursor is visited again (contradicting "called once per record"); without the cap below it would loop forever.
  test('an index walk that moves records forward in the index still visits each once', async () => {
    const visits: number[] = [];
    await runStep(async (ctx) => {
      await ctx.store<Row>('items').walk(
        (value) => {
          visits.push(value.id);
          if (visits.length > 100) throw new Error('walk does not terminate');
          return { ...value, group: value.group + 10 };
        },
        { index: 'byGroup', batchSize: 2 },
      );
    });
    expect(visits.slice().sort((a, b) => a - b)).toEqual(ids(1, 10));
  });

  test('counts of several walks in one step add up in the report', async () => {
    const { step } = await runStep(async (ctx) => {
      const items = ctx.store<Row>('items');
      await items.walk((v) => ({ ...v, seen: 1 }), { range: ctx.IDBKeyRange.upperBound(4) });
      await items.walk((v) => (v.id === 10 ? remove : unchanged));
    });
    expect(counts(step)).toEqual({ visited: 14, updated: 4, deleted: 1, written: 0 });
  });
});

describe('StepContext.store', () => {
  test('refuses a store the step did not list, even when the step catches the error', async () => {
    let caught: unknown;
    const error = await failStep(
      async (ctx) => {
        try {
          ctx.store('other');
        } catch (e) {
          caught = e;
        }
        await ctx.store<Row>('items').put({ id: 1, group: 9 });
      },
      { layout: { ...inline, other: {} }, stores: ['items'] },
    );
    expect(error).toMatchObject({
      name: 'UpgradeError',
      code: 'undeclared_store',
      version: 2,
      step: 'walk',
      stepIndex: 0,
      store: 'other',
    });
    expect(caught).toBe(error);
  });

  test('gives the context of the running upgrade', async () => {
    let seen: unknown;
    await runStep((ctx) => {
      const items = ctx.store('items');
      seen = {
        version: ctx.version,
        oldVersion: ctx.oldVersion,
        newVersion: ctx.newVersion,
        dryRun: ctx.dryRun,
        name: items.name,
        keyPath: items.keyPath,
        same: ctx.store('items') === items,
        mode: ctx.transaction.mode,
      };
    });
    expect(seen).toEqual({
      version: 2,
      oldVersion: 1,
      newVersion: 2,
      dryRun: false,
      name: 'items',
      keyPath: 'id',
      same: true,
      mode: 'versionchange',
    });
  });

  test('request() awaits a raw request on the upgrade transaction', async () => {
    let names: unknown;
    const { after } = await runStep(async (ctx) => {
      names = await ctx.request(ctx.transaction.objectStore('items').index('byGroup').getAllKeys(0));
      await ctx.request(ctx.transaction.objectStore('items').delete(3));
    });
    expect(names).toEqual([3, 6, 9]);
    expect(after.stores.items!.records.map(([k]) => k)).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 10]);
  });
});

describe('StepStore reads and writes', () => {
  const layout: DatabaseLayout = { a: { keyPath: 'id' }, b: {}, c: { keyPath: 'id', autoIncrement: true } };
  const records = { a: ids(1, 5).map((id) => ({ id, v: `a${id}` })), b: [], c: [{ v: 'c1' }, { v: 'c2' }] };

  test('get, getAll, count, put, add, delete and clear', async () => {
    const log: Record<string, unknown> = {};
    const { step, after } = await runStep(
      async (ctx) => {
        const a = ctx.store('a');
        const b = ctx.store('b');
        const c = ctx.store('c');
        log.keyPaths = [a.keyPath, b.keyPath, c.keyPath];
        log.count = [
          await a.count(),
          await a.count(ctx.IDBKeyRange.bound(2, 4)),
          await a.count(3),
          await a.count(null),
          await c.count(),
        ];
        log.get = [await a.get(2), await a.get(99), await a.get(ctx.IDBKeyRange.lowerBound(4))];
        log.getAll = [
          (await a.getAll()).map((r) => r.id),
          (await a.getAll(ctx.IDBKeyRange.bound(2, 4, true))).map((r) => r.id),
          (await a.getAll(null, 2)).map((r) => r.id),
          await a.getAll(5),
        ];
        log.put = [await a.put({ id: 2, v: 'changed' }), await b.put('text', 'k1'), await b.put({ x: 1 }, [1, 2])];
        log.add = [await a.add({ id: 6, v: 'a6' }), await b.add('more', 'k2'), await c.add({ v: 'c3' })];
        log.deleted = [await a.delete(1), await a.delete(ctx.IDBKeyRange.bound(4, 5))];
        await c.clear();
        log.afterWrites = [await a.count(), await b.count(), await c.count()];
      },
      { layout, records, stores: ['a', 'b', 'c'] },
    );
    expect(log).toEqual({
      keyPaths: ['id', null, 'id'],
      count: [5, 3, 1, 5, 2],
      get: [{ id: 2, v: 'a2' }, undefined, { id: 4, v: 'a4' }],
      getAll: [[1, 2, 3, 4, 5], [3, 4], [1, 2], [{ id: 5, v: 'a5' }]],
      put: [2, 'k1', [1, 2]],
      add: [6, 'k2', 3],
      deleted: [undefined, undefined],
      afterWrites: [3, 3, 0],
    });
    expect(after.stores.a!.records).toEqual([
      [2, { id: 2, v: 'changed' }],
      [3, { id: 3, v: 'a3' }],
      [6, { id: 6, v: 'a6' }],
    ]);
    expect(after.stores.b!.records).toEqual([
      ['k1', 'text'],
      ['k2', 'more'],
      [[1, 2], { x: 1 }],
    ]);
    expect(after.stores.c!.records).toEqual([]);
    expect(counts(step)).toEqual({ visited: 0, updated: 0, deleted: 0, written: 6 });
  });

  test.each([
    ['uncaught', false],
    ['caught by the step', true],
  ])(
    'add of an existing key fails with constraint_violation and the key (%s); nothing changes',
    async (_label, catchIt) => {
      let caught: unknown;
      const error = await failStep(
        async (ctx) => {
          const a = ctx.store('a');
          await a.put({ id: 2, v: 'first change' });
          const adding = a.add({ id: 3, v: 'duplicate' });
          if (!catchIt) return void (await adding);
          try {
            await adding;
          } catch (e) {
            caught = e;
          }
        },
        { layout, records, stores: ['a', 'b', 'c'] },
      );
      expect(error).toMatchObject({
        name: 'UpgradeError',
        code: 'constraint_violation',
        version: 2,
        step: 'walk',
        store: 'a',
        key: 3,
      });
      expect((error.cause as Error).name).toBe('ConstraintError');
      if (catchIt) expect(caught).toBe(error);
    },
  );

  test('put with an explicit key on an in-line store fails with request_failed; nothing changes', async () => {
    const error = await failStep(async (ctx) => void (await ctx.store('a').put({ id: 1 }, 1)), {
      layout,
      records,
      stores: ['a'],
    });
    expect(error).toMatchObject({ code: 'request_failed', store: 'a', key: 1 });
    expect((error.cause as Error).name).toBe('DataError');
  });
});
