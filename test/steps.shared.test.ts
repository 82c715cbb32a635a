import { describe, expect, test, vi } from 'vitest';
import {
  convertField,
  copyStore,
  defaultValue,
  dropField,
  openDatabase,
  rebuildStore,
  remove,
  renameField,
  renameStore,
  unchanged,
  updateRecords,
  type UpgradeError,
  type DatabaseLayout,
  type Plan,
  type Step,
  type StepReport,
  type UpgradeProgress,
  type UpgradeReport,
} from '../src/index.js';
import {
  dump,
  fakeEnvironment,
  openAndClose,
  plan,
  request,
  seedDatabase,
  upgradeMustFail,
  type DatabaseDump,
} from './helpers.js';

const items: DatabaseLayout = { items: { keyPath: 'id' } };

/** A two-version plan: `before` at v1, `after` with `steps` at v2. */
const twoVersions = (before: DatabaseLayout, after: DatabaseLayout, steps: Step[]): Plan =>
  plan({ version: 1, stores: before }, { version: 2, stores: after, steps });

/** Seeds v1 with `records`, upgrades to v2 and returns the report and both dumps. */
async function upgrade(
  p: Plan,
  records: Record<string, unknown[]>,
  extra: { onProgress?: (p: UpgradeProgress) => void } = {},
) {
  const { factory, options } = fakeEnvironment();
  await seedDatabase('db', p, 1, records, options);
  const before = await dump(factory, 'db');
  const report = (await openAndClose('db', p, { ...options, ...extra })) as UpgradeReport;
  const after = await dump(factory, 'db');
  expect(after.version).toBe(p.latest);
  return { report, before, after, factory };
}

/** Seeds v1, expects the upgrade to v2 to reject with an UpgradeError, and checks the database did not change. */
const failedUpgrade = (p: Plan, records: Record<string, unknown[]>): Promise<UpgradeError> =>
  upgradeMustFail(p, records);

/** The only step report of the v2 upgrade. */
function stepOf(report: UpgradeReport, index = 0): StepReport {
  expect(report.versions).toHaveLength(1);
  return report.versions[0]!.steps[index]!;
}

const counts = (step: StepReport) => ({
  visited: step.visited,
  updated: step.updated,
  deleted: step.deleted,
  written: step.written,
});

const recordsOf = (d: DatabaseDump, store: string) => d.stores[store]?.records;

/** Primary keys an index lists for `query`, read from the upgraded database. */
async function indexLookup(
  factory: IDBFactory,
  store: string,
  index: string,
  query: IDBValidKey,
): Promise<IDBValidKey[]> {
  const db = await request(factory.open('db'));
  try {
    return await request(db.transaction(store).objectStore(store).index(index).getAllKeys(query));
  } finally {
    db.close();
  }
}

describe('renameField', () => {
  test('renames a top-level field; records without it are not rewritten nor counted', async () => {
    const p = twoVersions(items, items, [renameField('items', 'name', 'title')]);
    const { report, after } = await upgrade(p, {
      items: [{ id: 1, name: 'a' }, { id: 2 }, { id: 3, name: undefined, n: 3 }],
    });
    expect(recordsOf(after, 'items')).toEqual([
      [1, { id: 1, title: 'a' }],
      [2, { id: 2 }],
      [3, { id: 3, title: undefined, n: 3 }],
    ]);
    expect(Object.keys(after.stores.items!.records[2]![1] as object)).toEqual(['id', 'n', 'title']);
    expect(stepOf(report).name).toBe('renameField(items: name -> title)');
    expect(counts(stepOf(report))).toEqual({ visited: 3, updated: 2, deleted: 0, written: 0 });
  });

  test('renames a nested dotted path, leaving records without the parent or the field alone', async () => {
    const p = twoVersions(items, items, [renameField('items', 'meta.old', 'meta.new')]);
    const { report, after } = await upgrade(p, {
      items: [{ id: 1, meta: { old: 'x', keep: true } }, { id: 2, meta: {} }, { id: 3 }, { id: 4, meta: 'text' }],
    });
    expect(recordsOf(after, 'items')).toEqual([
      [1, { id: 1, meta: { new: 'x', keep: true } }],
      [2, { id: 2, meta: {} }],
      [3, { id: 3 }],
      [4, { id: 4, meta: 'text' }],
    ]);
    expect(counts(stepOf(report))).toEqual({ visited: 4, updated: 1, deleted: 0, written: 0 });
  });

  test('moves a field into another nested object', async () => {
    const p = twoVersions(items, items, [renameField('items', 'a.x', 'b.y', { name: 'move x' })]);
    const { report, after } = await upgrade(p, { items: [{ id: 1, a: { x: 1 }, b: {} }] });
    expect(recordsOf(after, 'items')).toEqual([[1, { id: 1, a: {}, b: { y: 1 } }]]);
    expect(stepOf(report).name).toBe('move x');
  });

  test('fails with the key of a record that already has the target field; nothing changes', async () => {
    const p = twoVersions(items, items, [renameField('items', 'name', 'title')]);
    const error = await failedUpgrade(p, {
      items: [
        { id: 1, name: 'a' },
        { id: 2, name: 'b', title: 'kept' },
        { id: 3, name: 'c' },
      ],
    });
    expect(error).toMatchObject({
      name: 'UpgradeError',
      code: 'step_failed',
      version: 2,
      step: 'renameField(items: name -> title)',
      stepIndex: 0,
      store: 'items',
      key: 2,
    });
    expect(error.cause).toBeInstanceOf(Error);
    expect((error.cause as Error).message).toContain('overwrite');
  });

  test('fails when the target parent object is missing', async () => {
    const p = twoVersions(items, items, [renameField('items', 'name', 'meta.name')]);
    const error = await failedUpgrade(p, {
      items: [
        { id: 1, name: 'a', meta: {} },
        { id: 2, name: 'b' },
      ],
    });
    expect(error).toMatchObject({ code: 'step_failed', store: 'items', key: 2 });
  });

  test('overwrite: true replaces the existing target value', async () => {
    const p = twoVersions(items, items, [renameField('items', 'name', 'title', { overwrite: true })]);
    const { report, after } = await upgrade(p, {
      items: [
        { id: 1, name: 'new', title: 'old' },
        { id: 2, title: 'alone' },
      ],
    });
    expect(recordsOf(after, 'items')).toEqual([
      [1, { id: 1, title: 'new' }],
      [2, { id: 2, title: 'alone' }],
    ]);
    expect(counts(stepOf(report))).toEqual({ visited: 2, updated: 1, deleted: 0, written: 0 });
  });
});

describe('dropField', () => {
  test('deletes top-level and nested fields where present, rewriting only those records', async () => {
    const p = twoVersions(items, items, [dropField('items', 'tmp'), dropField('items', 'meta.secret')]);
    const { report, after } = await upgrade(p, {
      items: [
        { id: 1, tmp: 1, meta: { secret: 's', x: 1 } },
        { id: 2, tmp: undefined },
        { id: 3, meta: {} },
        { id: 4 },
      ],
    });
    expect(recordsOf(after, 'items')).toEqual([
      [1, { id: 1, meta: { x: 1 } }],
      [2, { id: 2 }],
      [3, { id: 3, meta: {} }],
      [4, { id: 4 }],
    ]);
    expect(stepOf(report, 0).name).toBe('dropField(items: tmp)');
    expect(counts(stepOf(report, 0))).toEqual({ visited: 4, updated: 2, deleted: 0, written: 0 });
    expect(stepOf(report, 1).name).toBe('dropField(items: meta.secret)');
    expect(counts(stepOf(report, 1))).toEqual({ visited: 4, updated: 1, deleted: 0, written: 0 });
  });
});

describe('convertField', () => {
  const seeded = {
    items: [
      { id: 1, price: '10' },
      { id: 2, price: null },
      { id: 3, price: undefined },
      { id: 4 },
      { id: 5, price: '2.5' },
    ],
  };

  test('converts present values; null, undefined and missing pass through by default', async () => {
    const records: unknown[] = [];
    const convert = vi.fn((value: string, record: unknown) => {
      records.push(structuredClone(record));
      return Number(value);
    });
    const p = twoVersions(items, items, [convertField('items', 'price', convert)]);
    const { report, after } = await upgrade(p, seeded);
    expect(convert.mock.calls.map(([value]) => value)).toEqual(['10', '2.5']);
    expect(records).toEqual([
      { id: 1, price: '10' },
      { id: 5, price: '2.5' },
    ]);
    expect(recordsOf(after, 'items')).toEqual([
      [1, { id: 1, price: 10 }],
      [2, { id: 2, price: null }],
      [3, { id: 3, price: undefined }],
      [4, { id: 4 }],
      [5, { id: 5, price: 2.5 }],
    ]);
    expect(stepOf(report).name).toBe('convertField(items: price)');
    expect(counts(stepOf(report))).toEqual({ visited: 5, updated: 2, deleted: 0, written: 0 });
  });

  test('convertNullish also converts null and undefined, but not missing fields', async () => {
    const convert = vi.fn((value: string | null | undefined) => (value == null ? 0 : Number(value)));
    const p = twoVersions(items, items, [convertField('items', 'price', convert, { convertNullish: true })]);
    const { report, after } = await upgrade(p, seeded);
    expect(convert.mock.calls.map(([value]) => value)).toEqual(['10', null, undefined, '2.5']);
    expect(recordsOf(after, 'items')).toEqual([
      [1, { id: 1, price: 10 }],
      [2, { id: 2, price: 0 }],
      [3, { id: 3, price: 0 }],
      [4, { id: 4 }],
      [5, { id: 5, price: 2.5 }],
    ]);
    expect(counts(stepOf(report))).toEqual({ visited: 5, updated: 4, deleted: 0, written: 0 });
  });

  test('convertMissing also converts missing fields, but not null or undefined values', async () => {
    const convert = vi.fn((value: string | undefined) => (value === undefined ? -1 : Number(value)));
    const p = twoVersions(items, items, [convertField('items', 'price', convert, { convertMissing: true })]);
    const { report, after } = await upgrade(p, seeded);
    expect(convert.mock.calls.map(([value]) => value)).toEqual(['10', undefined, '2.5']);
    expect(recordsOf(after, 'items')).toEqual([
      [1, { id: 1, price: 10 }],
      [2, { id: 2, price: null }],
      [3, { id: 3, price: undefined }],
      [4, { id: 4, price: -1 }],
      [5, { id: 5, price: 2.5 }],
    ]);
    expect(counts(stepOf(report))).toEqual({ visited: 5, updated: 3, deleted: 0, written: 0 });
  });

  test('converts a nested field', async () => {
    const p = twoVersions(items, items, [convertField('items', 'when.at', (iso: string) => new Date(iso))]);
    const { after } = await upgrade(p, { items: [{ id: 1, when: { at: '2024-01-02T00:00:00.000Z' } }, { id: 2 }] });
    expect(recordsOf(after, 'items')).toEqual([
      [1, { id: 1, when: { at: new Date('2024-01-02T00:00:00.000Z') } }],
      [2, { id: 2 }],
    ]);
  });

  test('a converter that throws fails the upgrade with the key and the thrown error as cause', async () => {
    const boom = new TypeError('not a price');
    const p = twoVersions(items, items, [
      convertField('items', 'price', (value: string) => {
        if (value === 'bad') throw boom;
        return Number(value);
      }),
    ]);
    const error = await failedUpgrade(p, {
      items: [
        { id: 1, price: '1' },
        { id: 2, price: 'bad' },
        { id: 3, price: '3' },
      ],
    });
    expect(error).toMatchObject({
      code: 'step_failed',
      version: 2,
      step: 'convertField(items: price)',
      store: 'items',
      key: 2,
    });
    expect(error.cause).toBe(boom);
    expect(error.message).toContain('not a price');
  });
});

describe('defaultValue', () => {
  const seeded = {
    items: [{ id: 1 }, { id: 2, tag: 'x' }, { id: 3, tag: undefined }, { id: 4, tag: null }, { id: 5, tag: 0 }],
  };

  test('sets a value where the field is missing or undefined; existing values (null, 0) are kept', async () => {
    const p = twoVersions(items, items, [defaultValue('items', 'tag', 'none')]);
    const { report, after } = await upgrade(p, seeded);
    expect(recordsOf(after, 'items')).toEqual([
      [1, { id: 1, tag: 'none' }],
      [2, { id: 2, tag: 'x' }],
      [3, { id: 3, tag: 'none' }],
      [4, { id: 4, tag: null }],
      [5, { id: 5, tag: 0 }],
    ]);
    expect(stepOf(report).name).toBe('defaultValue(items: tag)');
    expect(counts(stepOf(report))).toEqual({ visited: 5, updated: 2, deleted: 0, written: 0 });
  });

  test('computes the value from the record with the function form', async () => {
    const p = twoVersions(items, items, [defaultValue('items', 'tag', (record: { id: number }) => `t${record.id}`)]);
    const { after } = await upgrade(p, seeded);
    expect(recordsOf(after, 'items')?.map(([, value]) => (value as { tag: unknown }).tag)).toEqual([
      't1',
      'x',
      't3',
      null,
      0,
    ]);
  });

  test('sets a nested field', async () => {
    const p = twoVersions(items, items, [defaultValue('items', 'settings.theme', 'dark')]);
    const { after } = await upgrade(p, {
      items: [
        { id: 1, settings: {} },
        { id: 2, settings: { theme: 'light' } },
      ],
    });
    expect(recordsOf(after, 'items')).toEqual([
      [1, { id: 1, settings: { theme: 'dark' } }],
      [2, { id: 2, settings: { theme: 'light' } }],
    ]);
  });
});

describe('renameStore', () => {
  const before: DatabaseLayout = { old: { keyPath: 'id', indexes: { byA: 'a' } }, other: {} };
  const rows = [
    { id: 1, a: 'x', b: 10 },
    { id: 2, a: 'y', b: 20 },
    { id: 3, a: 'x', b: 30 },
  ];

  test('keeps records and indexes under the new name', async () => {
    const p = twoVersions(before, { renamed: { keyPath: 'id', indexes: { byA: 'a' } }, other: {} }, [
      renameStore('old', 'renamed'),
    ]);
    const { report, before: was, after, factory } = await upgrade(p, { old: rows });
    expect(Object.keys(after.stores).sort()).toEqual(['other', 'renamed']);
    expect(after.stores.renamed).toEqual(was.stores.old);
    expect(await indexLookup(factory, 'renamed', 'byA', 'x')).toEqual([1, 3]);
    expect(report.versions[0]).toMatchObject({
      storesRenamed: [['old', 'renamed']],
      storesCreated: [],
      storesDeleted: [],
      indexesCreated: [],
      indexesDeleted: [],
    });
    expect(stepOf(report).name).toBe('renameStore(old -> renamed)');
    expect(counts(stepOf(report))).toEqual({ visited: 0, updated: 0, deleted: 0, written: 0 });
  });

  test('applies index changes declared alongside the rename', async () => {
    const p = twoVersions(
      before,
      {
        renamed: {
          keyPath: 'id',
          indexes: { byA: { keyPath: 'a', unique: false, multiEntry: false }, byB: { keyPath: 'b', unique: true } },
        },
        other: {},
      },
      [renameStore('old', 'renamed')],
    );
    const { report, after, factory } = await upgrade(p, { old: rows });
    expect(after.stores.renamed?.indexes).toEqual({
      byA: { keyPath: 'a', unique: false, multiEntry: false },
      byB: { keyPath: 'b', unique: true, multiEntry: false },
    });
    expect(recordsOf(after, 'renamed')).toEqual(rows.map((r) => [r.id, r]));
    expect(await indexLookup(factory, 'renamed', 'byB', 20)).toEqual([2]);
    expect(report.versions[0]?.indexesCreated).toEqual(['renamed.byB']);
  });

  test('a later step of the same version uses the store under its new name', async () => {
    const p = twoVersions(before, { renamed: { keyPath: 'id', indexes: { byA: 'a' } }, other: {} }, [
      renameStore('old', 'renamed'),
      dropField('renamed', 'b'),
    ]);
    const { after, report } = await upgrade(p, { old: rows });
    expect(recordsOf(after, 'renamed')).toEqual(rows.map(({ id, a }) => [id, { id, a }]));
    expect(counts(stepOf(report, 1))).toEqual({ visited: 3, updated: 3, deleted: 0, written: 0 });
  });
});

describe('copyStore', () => {
  const rows = [
    { id: 1, n: 'a' },
    { id: 2, n: 'b' },
    { id: 3, n: 'c' },
  ];

  test('copies every record through the transform; the source is kept', async () => {
    const p = twoVersions(items, { ...items, copies: { keyPath: 'id' } }, [
      copyStore('items', 'copies', (value: { id: number; n: string }, key) => ({
        ...value,
        n: value.n.toUpperCase(),
        from: key,
      })),
    ]);
    const { report, after, before } = await upgrade(p, { items: rows });
    expect(recordsOf(after, 'items')).toEqual(recordsOf(before, 'items'));
    expect(recordsOf(after, 'copies')).toEqual(rows.map((r) => [r.id, { id: r.id, n: r.n.toUpperCase(), from: r.id }]));
    expect(stepOf(report).name).toBe('copyStore(items -> copies)');
    expect(counts(stepOf(report))).toEqual({ visited: 3, updated: 0, deleted: 0, written: 3 });
    expect(report.versions[0]?.storesCreated).toEqual(['copies']);
  });

  test('copies as is without a transform, and skips records the transform removes', async () => {
    const p = twoVersions(items, { ...items, plain: { keyPath: 'id' }, some: { keyPath: 'id' } }, [
      copyStore('items', 'plain'),
      copyStore('items', 'some', (value: { id: number }) => (value.id === 2 ? remove : value), { name: 'some' }),
    ]);
    const { report, after } = await upgrade(p, { items: rows });
    expect(recordsOf(after, 'plain')).toEqual(rows.map((r) => [r.id, r]));
    expect(recordsOf(after, 'some')).toEqual([
      [1, rows[0]],
      [3, rows[2]],
    ]);
    expect(stepOf(report, 1).name).toBe('some');
    expect(counts(stepOf(report, 1))).toEqual({ visited: 3, updated: 0, deleted: 0, written: 2 });
  });

  test('an out-of-line target keeps the source primary keys', async () => {
    const p = twoVersions(items, { ...items, byKey: {} }, [
      copyStore('items', 'byKey', (value: { n: string }) => value.n),
    ]);
    const { after } = await upgrade(p, { items: rows });
    expect(after.stores.byKey?.keyPath).toBeNull();
    expect(recordsOf(after, 'byKey')).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
    ]);
  });

  test('copies out of a store this version deletes', async () => {
    const p = twoVersions(items, { things: { keyPath: 'id' } }, [copyStore('items', 'things')]);
    const { report, after } = await upgrade(p, { items: rows });
    expect(Object.keys(after.stores)).toEqual(['things']);
    expect(recordsOf(after, 'things')).toEqual(rows.map((r) => [r.id, r]));
    expect(report.versions[0]).toMatchObject({ storesCreated: ['things'], storesDeleted: ['items'] });
  });

  test('a copy that breaks a unique index of the target fails with constraint_violation; nothing changes', async () => {
    const p = twoVersions(
      items,
      { ...items, uniq: { keyPath: 'id', indexes: { byN: { keyPath: 'n', unique: true } } } },
      [copyStore('items', 'uniq', (value: { id: number }) => ({ ...value, n: 'same' }))],
    );
    const error = await failedUpgrade(p, { items: rows });
    expect(error).toMatchObject({
      code: 'constraint_violation',
      version: 2,
      step: 'copyStore(items -> uniq)',
      store: 'uniq',
      key: 2,
    });
  });
});

describe('rebuildStore', () => {
  const rows = [
    { id: 3, name: 'c' },
    { id: 1, name: 'a' },
    { id: 2, name: 'b' },
  ];

  test('re-keys a store from id to uuid through a transform that sets uuid; indexes are recreated', async () => {
    const before: DatabaseLayout = { items: { keyPath: 'id', indexes: { byName: 'name' } } };
    const after: DatabaseLayout = { items: { keyPath: 'uuid', indexes: { byName: 'name' } } };
    const p = twoVersions(before, after, [
      rebuildStore('items', (value: { id: number; name: string }) => ({ ...value, uuid: `u-${value.id}` })),
    ]);
    const { report, after: d, factory } = await upgrade(p, { items: rows });
    expect(Object.keys(d.stores)).toEqual(['items']);
    expect(d.stores.items).toMatchObject({
      keyPath: 'uuid',
      autoIncrement: false,
      indexes: { byName: { keyPath: 'name', unique: false, multiEntry: false } },
    });
    expect(recordsOf(d, 'items')).toEqual([
      ['u-1', { id: 1, name: 'a', uuid: 'u-1' }],
      ['u-2', { id: 2, name: 'b', uuid: 'u-2' }],
      ['u-3', { id: 3, name: 'c', uuid: 'u-3' }],
    ]);
    expect(await indexLookup(factory, 'items', 'byName', 'b')).toEqual(['u-2']);
    expect(report.versions[0]).toMatchObject({
      storesRebuilt: ['items'],
      storesCreated: [],
      storesDeleted: [],
      storesRenamed: [],
    });
    expect(stepOf(report).name).toBe('rebuildStore(items)');
    expect(counts(stepOf(report))).toEqual({ visited: 3, updated: 0, deleted: 0, written: 3 });
  });

  test('moves in-line keys out of line, keeping each primary key', async () => {
    const p = twoVersions(items, { items: {} }, [rebuildStore('items')]);
    const { after } = await upgrade(p, { items: rows });
    expect(after.stores.items?.keyPath).toBeNull();
    expect(recordsOf(after, 'items')).toEqual([
      [1, { id: 1, name: 'a' }],
      [2, { id: 2, name: 'b' }],
      [3, { id: 3, name: 'c' }],
    ]);
  });

  test('turns autoIncrement off, keeping generated keys', async () => {
    const p = twoVersions({ items: { keyPath: 'id', autoIncrement: true } }, items, [rebuildStore('items')]);
    const { after } = await upgrade(p, { items: [{ name: 'a' }, { name: 'b' }] });
    expect(after.stores.items).toMatchObject({ keyPath: 'id', autoIncrement: false });
    expect(recordsOf(after, 'items')).toEqual([
      [1, { id: 1, name: 'a' }],
      [2, { id: 2, name: 'b' }],
    ]);
  });

  test('turns autoIncrement on; the new key generator continues after the copied keys', async () => {
    const p = twoVersions(items, { items: { keyPath: 'id', autoIncrement: true } }, [rebuildStore('items')]);
    const { factory, options } = fakeEnvironment();
    await seedDatabase('db', p, 1, { items: rows }, options);
    const { db } = await openDatabase('db', p, options);
    const added = await request(db.transaction('items', 'readwrite').objectStore('items').add({ name: 'd' }));
    db.close();
    expect(added).toBe(4);
    const after = await dump(factory, 'db');
    expect(after.stores.items).toMatchObject({ keyPath: 'id', autoIncrement: true });
    expect(recordsOf(after, 'items')?.map(([key]) => key)).toEqual([1, 2, 3, 4]);
  });

  test('drops records the transform removes', async () => {
    const p = twoVersions(items, { items: {} }, [
      rebuildStore('items', (value: { id: number }) => (value.id === 2 ? remove : value)),
    ]);
    const { report, after } = await upgrade(p, { items: rows });
    expect(recordsOf(after, 'items')?.map(([key]) => key)).toEqual([1, 3]);
    expect(counts(stepOf(report))).toEqual({ visited: 3, updated: 0, deleted: 0, written: 2 });
  });

  // Was a bug: a failure inside rebuildStore reports the internal set-aside store name ("items\0idb-evolve-rebuild") as `store`.
  test('a transform that throws fails with the store and key of the record', async () => {
    const p = twoVersions(items, { items: { keyPath: 'uuid' } }, [
      rebuildStore('items', (value: { id: number }) => {
        if (value.id === 2) throw new Error('no uuid');
        return { ...value, uuid: String(value.id) };
      }),
    ]);
    const error = await failedUpgrade(p, { items: rows });
    expect(error).toMatchObject({ code: 'step_failed', version: 2, step: 'rebuildStore(items)', key: 2 });
    expect(error.store).toBe('items');
  });

  // Was a bug: rebuild progress events name the internal set-aside store ("items\0idb-evolve-rebuild") instead of "items".
  test('reports progress under the store name', async () => {
    const events: UpgradeProgress[] = [];
    const p = twoVersions(items, { items: {} }, [rebuildStore('items')]);
    await upgrade(p, { items: rows }, { onProgress: (event) => events.push(event) });
    const steps = events.filter((e) => e.phase === 'step');
    expect(steps).toEqual([
      { phase: 'step', version: 2, step: 'rebuildStore(items)', stepIndex: 0, store: 'items', done: 0, total: 3 },
      { phase: 'step', version: 2, step: 'rebuildStore(items)', stepIndex: 0, store: 'items', done: 3, total: 3 },
    ]);
  });

  // Was a bug: rebuild copies with put(), so two records given the same new key silently collapse into one (data loss).
  test('two records given the same new key fail the upgrade instead of overwriting each other', async () => {
    const p = twoVersions(items, { items: { keyPath: 'uuid' } }, [
      rebuildStore('items', (value: object) => ({ ...value, uuid: 'same' })),
    ]);
    const error = await failedUpgrade(p, { items: rows });
    expect(error).toMatchObject({ code: 'constraint_violation', version: 2, step: 'rebuildStore(items)' });
  });

  // Was a bug: every rebuildStore is applied before all steps of its version, so a step listed before it walks the new,
  // still empty store and its changes are silently lost.
  test('a step listed before rebuildStore in the same version still changes every record', async () => {
    const p = twoVersions(items, { items: {} }, [defaultValue('items', 'tag', 'none'), rebuildStore('items')]);
    const { report, after } = await upgrade(p, { items: rows });
    expect(counts(stepOf(report, 0))).toEqual({ visited: 3, updated: 3, deleted: 0, written: 0 });
    expect(recordsOf(after, 'items')).toEqual([
      [1, { id: 1, name: 'a', tag: 'none' }],
      [2, { id: 2, name: 'b', tag: 'none' }],
      [3, { id: 3, name: 'c', tag: 'none' }],
    ]);
  });

  test('a step listed after rebuildStore sees the rebuilt records', async () => {
    const p = twoVersions(items, { items: {} }, [rebuildStore('items'), defaultValue('items', 'tag', 'none')]);
    const { report, after } = await upgrade(p, { items: rows });
    expect(counts(stepOf(report, 1))).toEqual({ visited: 3, updated: 3, deleted: 0, written: 0 });
    expect(recordsOf(after, 'items')?.map(([key, value]) => [key, (value as { tag: string }).tag])).toEqual([
      [1, 'none'],
      [2, 'none'],
      [3, 'none'],
    ]);
  });
});

describe('updateRecords', () => {
  test('runs under its own name; returned records are written, `remove` deletes, `unchanged` skips', async () => {
    const visitor = (value: { id: number; n: number }) =>
      value.n < 0 ? remove : value.n === 0 ? unchanged : { ...value, n: value.n * 10 };
    const p = twoVersions(items, items, [updateRecords('items', visitor, { name: 'scale' })]);
    const { report, after } = await upgrade(p, {
      items: [
        { id: 1, n: 1 },
        { id: 2, n: -1 },
        { id: 3, n: 0 },
        { id: 4, n: 2 },
        { id: 5, n: -5 },
      ],
    });
    expect(recordsOf(after, 'items')).toEqual([
      [1, { id: 1, n: 10 }],
      [3, { id: 3, n: 0 }],
      [4, { id: 4, n: 20 }],
    ]);
    expect(stepOf(report)).toMatchObject({ name: 'scale', index: 0 });
    expect(counts(stepOf(report))).toEqual({ visited: 5, updated: 2, deleted: 2, written: 0 });
    expect(stepOf(report).ms).toBeGreaterThanOrEqual(0);
  });

  test('passes walk options through (index, range, batchSize)', async () => {
    const seen: number[] = [];
    const p = twoVersions(
      { items: { keyPath: 'id', indexes: { byN: 'n' } } },
      { items: { keyPath: 'id', indexes: { byN: 'n' } } },
      [
        updateRecords(
          'items',
          (value: { id: number; n: number }) => {
            seen.push(value.id);
            return { ...value, hit: true };
          },
          { name: 'some', index: 'byN', range: 5, batchSize: 1 },
        ),
      ],
    );
    const { report, after } = await upgrade(p, {
      items: [
        { id: 1, n: 5 },
        { id: 2, n: 4 },
        { id: 3, n: 5 },
      ],
    });
    expect(seen).toEqual([1, 3]);
    expect(recordsOf(after, 'items')).toEqual([
      [1, { id: 1, n: 5, hit: true }],
      [2, { id: 2, n: 4 }],
      [3, { id: 3, n: 5, hit: true }],
    ]);
    expect(counts(stepOf(report))).toEqual({ visited: 2, updated: 2, deleted: 0, written: 0 });
  });
});
