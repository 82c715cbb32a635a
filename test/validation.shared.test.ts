import { describe, expect, test, vi } from 'vitest';
import { z } from 'zod';
import {
  copyStore,
  defaultValue,
  definePlan,
  openDatabase,
  rebuildStore,
  renameField,
  unchanged,
  updateRecords,
  UpgradeError,
  type DatabaseLayout,
  type Plan,
  type StandardSchemaV1,
  type Step,
  type VersionDefinition,
} from '../src/index.js';
import { dump, fakeEnvironment, openAndClose, plan, seedDatabase, upgradeMustFail } from './helpers.js';

const notes: DatabaseLayout = { notes: { keyPath: 'id' } };

/** What v2 of most plans here requires of a note. */
const Note = z.object({ id: z.number(), title: z.string().min(1) });

/** v1 → v2 with `steps` and `validators` at v2. */
const validated = (
  steps: Step[],
  validators: VersionDefinition['validators'] = { notes: Note },
  stores: DatabaseLayout = notes,
): Plan => plan({ version: 1, stores }, { version: 2, stores, steps, validators });

/** A step writing `records` with put. */
const putting = (...records: unknown[]): Step => ({
  name: 'put',
  stores: ['notes'],
  run: async (ctx) => {
    for (const record of records) await ctx.store('notes').put(record);
  },
});

async function upgrade(p: Plan, records: Record<string, unknown[]>) {
  const { factory, options } = fakeEnvironment();
  await seedDatabase('db', p, 1, records, options);
  const report = await openAndClose('db', p, options);
  return { report: report!, after: await dump(factory, 'db') };
}

/** The upgrade must fail with an UpgradeError and leave the database exactly as seeded. */
const rejected = (p: Plan, records: Record<string, unknown[]>): Promise<UpgradeError> => upgradeMustFail(p, records);

/** A hand-written asynchronous Standard Schema validator: records need `ok: true`. */
function asyncValidator(seen: unknown[] = []): StandardSchemaV1 {
  return {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: async (value) => {
        seen.push(structuredClone(value));
        await Promise.resolve();
        return (value as { ok?: unknown }).ok === true
          ? { value }
          : { issues: [{ message: 'ok must be true', path: [{ key: 'ok' }] }, { message: 'second issue' }] };
      },
    },
  };
}

describe('validators check records that walks write', () => {
  test('valid records pass and are written', async () => {
    const p = validated([renameField('notes', 'name', 'title')]);
    const { after, report } = await upgrade(p, {
      notes: [
        { id: 1, name: 'a' },
        { id: 2, name: 'b' },
      ],
    });
    expect(after.stores.notes?.records).toEqual([
      [1, { id: 1, title: 'a' }],
      [2, { id: 2, title: 'b' }],
    ]);
    expect(report.versions[0]?.steps[0]?.updated).toBe(2);
  });

  test('a failing record aborts with validation_failed, its key, store, version and issues; nothing changes', async () => {
    const p = validated([renameField('notes', 'name', 'title')]);
    const error = await rejected(p, {
      notes: [
        { id: 1, name: 'a' },
        { id: 2, name: 42 },
        { id: 3, name: 'c' },
      ],
    });
    expect(error).toMatchObject({
      name: 'UpgradeError',
      code: 'validation_failed',
      version: 2,
      step: 'renameField(notes: name -> title)',
      stepIndex: 0,
      store: 'notes',
      key: 2,
    });
    expect(error.issues).toHaveLength(1);
    expect(error.issues?.[0]).toEqual({ message: expect.any(String), path: ['title'] });
    expect(error.issues?.[0]?.message.length).toBeGreaterThan(0);
    expect(error.message).toContain('at title');
    expect(Array.isArray(error.cause)).toBe(true);
  });

  test('reports every issue of the record with nested paths', async () => {
    const Nested = z.object({ id: z.number(), title: z.string(), meta: z.object({ tags: z.array(z.string()) }) });
    const p = validated(
      [updateRecords('notes', (n: object) => ({ ...n, meta: { tags: ['ok', 7] } }), { name: 'tag' })],
      { notes: Nested },
    );
    const error = await rejected(p, { notes: [{ id: 5 }] });
    expect(error).toMatchObject({ code: 'validation_failed', key: 5, store: 'notes', step: 'tag' });
    expect(error.issues?.map((issue) => issue.path)).toEqual([['title'], ['meta', 'tags', 1]]);
  });

  test('records a walk leaves unchanged or removes are not validated', async () => {
    const validate = vi.fn((value: unknown) => ({ value }));
    const spy: StandardSchemaV1 = { '~standard': { version: 1, vendor: 'spy', validate } };
    const p = validated(
      [
        updateRecords('notes', (n: { id: number }) => (n.id === 2 ? { ...n, title: 'two' } : unchanged), {
          name: 'two',
        }),
      ],
      {
        notes: spy,
      },
    );
    const { after } = await upgrade(p, { notes: [{ id: 1 }, { id: 2 }, { id: 3 }] });
    expect(validate).toHaveBeenCalledTimes(1);
    expect(validate).toHaveBeenCalledWith({ id: 2, title: 'two' });
    expect(after.stores.notes?.records.map(([key]) => key)).toEqual([1, 2, 3]);
  });

  test('invalid records that no step writes do not fail the upgrade', async () => {
    const p = validated([defaultValue('notes', 'title', 'untitled')]);
    const { after } = await upgrade(p, { notes: [{ id: 1, title: '' }, { id: 2 }, { id: 'three', title: 'x' }] });
    expect(after.stores.notes?.records).toEqual([
      [1, { id: 1, title: '' }],
      [2, { id: 2, title: 'untitled' }],
      ['three', { id: 'three', title: 'x' }],
    ]);
  });
});

describe('validators check records that put and add write', () => {
  test('an invalid put aborts with the key derived from the key path', async () => {
    const error = await rejected(validated([putting({ id: 1, title: 'fine' }, { id: 9, title: '' })]), {
      notes: [{ id: 1, title: 'old' }],
    });
    expect(error).toMatchObject({ code: 'validation_failed', version: 2, step: 'put', store: 'notes', key: 9 });
    expect(error.issues?.[0]?.path).toEqual(['title']);
  });

  test('an invalid add aborts too', async () => {
    const adding: Step = {
      name: 'add',
      stores: ['notes'],
      run: async (ctx) => void (await ctx.store('notes').add({ id: 4, title: 7 })),
    };
    const error = await rejected(validated([adding]), { notes: [] });
    expect(error).toMatchObject({ code: 'validation_failed', step: 'add', key: 4 });
  });

  test('an out-of-line put reports the explicit key', async () => {
    const stores: DatabaseLayout = { notes: {} };
    const step: Step = {
      name: 'put',
      stores: ['notes'],
      run: async (ctx) => void (await ctx.store('notes').put({ title: '' }, 'k')),
    };
    const error = await rejected(validated([step], { notes: z.object({ title: z.string().min(1) }) }, stores), {
      notes: [],
    });
    expect(error).toMatchObject({ code: 'validation_failed', store: 'notes', key: 'k' });
  });

  test('a step catching the validation error does not save the upgrade', async () => {
    let caught: unknown;
    const step: Step = {
      name: 'careless',
      stores: ['notes'],
      run: async (ctx) => {
        try {
          await ctx.store('notes').put({ id: 2, title: '' });
        } catch (e) {
          caught = e;
        }
      },
    };
    const error = await rejected(validated([step]), { notes: [{ id: 1, title: 'a' }] });
    expect(error.code).toBe('validation_failed');
    expect(caught).toBe(error);
  });

  test('records written by copyStore and rebuildStore are validated against the target store', async () => {
    const stores: DatabaseLayout = { notes: { keyPath: 'id' } };
    const copying = plan(
      { version: 1, stores },
      {
        version: 2,
        stores: { ...stores, copies: { keyPath: 'id' } },
        steps: [copyStore('notes', 'copies')],
        validators: { copies: Note },
      },
    );
    expect(
      await rejected(copying, {
        notes: [
          { id: 1, title: 'a' },
          { id: 2, title: '' },
        ],
      }),
    ).toMatchObject({
      code: 'validation_failed',
      store: 'copies',
      key: 2,
    });
    const rebuilding = plan(
      { version: 1, stores },
      { version: 2, stores: { notes: {} }, steps: [rebuildStore('notes')], validators: { notes: Note } },
    );
    expect(await rejected(rebuilding, { notes: [{ id: 1, title: 'a' }, { id: 2 }] })).toMatchObject({
      code: 'validation_failed',
      store: 'notes',
      key: 2,
    });
  });
});

describe('validators never change what is written', () => {
  test('keys a zod object would strip are still stored', async () => {
    const p = validated([renameField('notes', 'name', 'title')]);
    const { after } = await upgrade(p, { notes: [{ id: 1, name: 'a', extra: { deep: true }, other: [1, 2] }] });
    expect(after.stores.notes?.records).toEqual([[1, { id: 1, title: 'a', extra: { deep: true }, other: [1, 2] }]]);
  });

  test('transforms and defaults in a schema do not apply to the stored record', async () => {
    const Transforming = z.object({
      id: z.number(),
      title: z.string().transform((s) => s.toUpperCase()),
      tag: z.string().default('none'),
    });
    const p = validated([putting({ id: 1, title: 'lower' })], { notes: Transforming });
    const { after } = await upgrade(p, { notes: [] });
    expect(after.stores.notes?.records).toEqual([[1, { id: 1, title: 'lower' }]]);
  });
});

describe('asynchronous Standard Schema validators', () => {
  test('valid records pass, through walks and puts', async () => {
    const seen: unknown[] = [];
    const stores: DatabaseLayout = { notes: { keyPath: 'id' } };
    const p = validated(
      [
        updateRecords('notes', (n: object) => ({ ...n, ok: true }), { name: 'ok all', batchSize: 2 }),
        putting({ id: 9, ok: true }),
      ],
      { notes: asyncValidator(seen) },
      stores,
    );
    const { after, report } = await upgrade(p, { notes: [{ id: 1 }, { id: 2 }, { id: 3 }] });
    expect(after.stores.notes?.records).toEqual([1, 2, 3, 9].map((id) => [id, { id, ok: true }]));
    expect(seen).toEqual([1, 2, 3, 9].map((id) => ({ id, ok: true })));
    expect(report.versions[0]?.steps.map((s) => [s.updated, s.written])).toEqual([
      [3, 0],
      [0, 1],
    ]);
  });

  test('an invalid record aborts with the issues (path segments as keys); nothing changes', async () => {
    const p = validated(
      [updateRecords('notes', (n: { id: number }) => ({ ...n, ok: n.id !== 2 }), { name: 'check' })],
      {
        notes: asyncValidator(),
      },
    );
    const error = await rejected(p, { notes: [{ id: 1 }, { id: 2 }, { id: 3 }] });
    expect(error).toMatchObject({ code: 'validation_failed', version: 2, step: 'check', store: 'notes', key: 2 });
    expect(error.issues).toEqual([{ message: 'ok must be true', path: ['ok'] }, { message: 'second issue' }]);
    expect(error.message).toContain('ok must be true');
  });

  test('an invalid put aborts too', async () => {
    const error = await rejected(
      validated([putting({ id: 1, ok: true }, { id: 2, ok: false })], { notes: asyncValidator() }),
      { notes: [] },
    );
    expect(error).toMatchObject({ code: 'validation_failed', step: 'put', key: 2 });
  });
});

describe('validators belong to their version', () => {
  const stores: DatabaseLayout = { notes: { keyPath: 'id' } };
  const NeedsTag = z.object({ id: z.number(), tag: z.string() });
  const chain = (v3Steps: Step[]) =>
    definePlan({
      versions: [
        { version: 1, stores },
        { version: 2, stores, steps: [putting({ id: 2 })] },
        { version: 3, stores, steps: v3Steps, validators: { notes: NeedsTag } },
      ],
    });

  test('a version 3 validator does not apply to version 2 writes in a 1 → 3 upgrade', async () => {
    const { after } = await upgrade(chain([defaultValue('notes', 'tag', 'none')]), { notes: [{ id: 1 }] });
    expect(after.version).toBe(3);
    expect(after.stores.notes?.records).toEqual([
      [1, { id: 1, tag: 'none' }],
      [2, { id: 2, tag: 'none' }],
    ]);
  });

  test('but it does apply to version 3 writes', async () => {
    const error = await rejected(
      chain([updateRecords('notes', (n: object) => ({ ...n, tag: 5 }), { name: 'bad tag' })]),
      { notes: [{ id: 1 }] },
    );
    expect(error).toMatchObject({ code: 'validation_failed', version: 3, step: 'bad tag', key: 1 });
  });

  test('the latest version validates what the seed writes on a fresh install', async () => {
    const { factory, options } = fakeEnvironment();
    const p = definePlan({
      versions: [{ version: 1, stores, validators: { notes: Note } }],
      seed: {
        name: 'seed',
        stores: ['notes'],
        run: async (ctx) => void (await ctx.store('notes').put({ id: 1, title: '' })),
      },
    });
    const error = await openDatabase('db', p, options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UpgradeError);
    expect(error).toMatchObject({ code: 'validation_failed', version: 1, step: 'seed', key: 1 });
    expect(await factory.databases()).toEqual([]);
  });
});
