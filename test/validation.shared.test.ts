import { describe, expect, test, vi } from 'vitest';
import { z } from 'zod';
import {
  convertField,
  copyStore,
  defaultValue,
  definePlan,
  dropField,
  dryRun,
  openDatabase,
  rebuildStore,
  remove,
  renameField,
  unchanged,
  updateRecords,
  UpgradeError,
  type DatabaseLayout,
  type Plan,
  type Progress,
  type StandardSchemaV1,
  type Step,
  type VersionDefinition,
} from '../src/index.js';
import {
  dump,
  expectPhasesEndAtTotal,
  fakeEnvironment,
  openAndClose,
  plan,
  seedDatabase,
  upgradeMustFail,
} from './helpers.js';

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

describe('validators hold for every record at the end of their version', () => {
  test("the README's headline example: rename then convert passes, the state between the two steps is not checked", async () => {
    const stores: DatabaseLayout = { notes: { keyPath: 'id' } };
    const V2 = z.object({ id: z.number(), text: z.string(), createdAt: z.date() });
    const p = validated(
      [
        renameField('notes', 'body', 'text'),
        convertField('notes', 'createdAt', (iso: string) => new Date(iso)),
        dropField('notes', 'legacy'),
      ],
      { notes: V2 },
      stores,
    );
    const { after, report } = await upgrade(p, {
      notes: [
        { id: 1, body: 'a', createdAt: '2024-01-01T00:00:00.000Z', legacy: true },
        { id: 2, body: 'b', createdAt: '2024-02-01T00:00:00.000Z' },
      ],
    });
    expect(after.stores.notes?.records).toEqual([
      [1, { id: 1, text: 'a', createdAt: new Date('2024-01-01T00:00:00.000Z') }],
      [2, { id: 2, text: 'b', createdAt: new Date('2024-02-01T00:00:00.000Z') }],
    ]);
    // Checked once each, by the last step's walk: no read pass of its own.
    expect(report.versions[0]?.validated).toEqual({ notes: 2 });
  });

  test('the same plan fails only for a record that is wrong at the end, with version, store, key and issues', async () => {
    const V2 = z.object({ id: z.number(), text: z.string(), createdAt: z.date() });
    const p = validated(
      [renameField('notes', 'body', 'text'), convertField('notes', 'createdAt', (iso: string) => new Date(iso))],
      { notes: V2 },
    );
    const error = await rejected(p, {
      notes: [
        { id: 1, body: 'a', createdAt: '2024-01-01T00:00:00.000Z' },
        { id: 2, body: 42, createdAt: '2024-01-01T00:00:00.000Z' },
        { id: 3, body: 'c', createdAt: '2024-01-01T00:00:00.000Z' },
      ],
    });
    expect(error).toMatchObject({
      name: 'UpgradeError',
      code: 'validation_failed',
      version: 2,
      step: undefined,
      stepIndex: undefined,
      store: 'notes',
      key: 2,
    });
    expect(error.issues).toEqual([{ message: expect.stringMatching(/./), path: ['text'] }]);
    expect(error.message).toMatch(/^Record does not satisfy version 2's validator at the end of the version at text: /);
    // The issues are data in `issues`; `cause` is for an underlying error, and there is none.
    expect(error.cause).toBeUndefined();
    expect('cause' in error).toBe(false);
  });

  test('a store no step touches is read and checked: a field the app forgot to drop fails the upgrade', async () => {
    const Strict = z.strictObject({ id: z.number(), title: z.string() });
    const p = validated([], { notes: Strict });
    const error = await rejected(p, {
      notes: [
        { id: 1, title: 'a' },
        { id: 2, title: 'b', legacy: true },
      ],
    });
    expect(error).toMatchObject({ code: 'validation_failed', version: 2, store: 'notes', key: 2 });
    expect(error.issues?.[0]?.message).toMatch(/legacy/);
  });

  test('the read pass reports progress as phase validate, ending at its total', async () => {
    const events: Progress[] = [];
    const { factory, options } = fakeEnvironment();
    const p = validated([]);
    const records = Array.from({ length: 2500 }, (_, i) => ({ id: i, title: `t${i}` }));
    await seedDatabase('db', p, 1, { notes: records }, options);
    const report = await openAndClose('db', p, { ...options, onProgress: (e) => events.push(e) });
    const validate = events.filter((e) => e.phase === 'validate');
    expect(validate.map((e) => e.done)).toEqual([0, 1000, 2000, 2500]);
    expect(validate.every((e) => e.store === 'notes' && e.version === 2 && e.unit === 'records')).toBe(true);
    expectPhasesEndAtTotal(events);
    expect(report?.versions[0]?.validated).toEqual({ notes: 2500 });
    expect((await dump(factory, 'db')).version).toBe(2);
  });

  test('records a whole-store walk leaves unchanged are checked by that walk, once; removed ones are not', async () => {
    const validate = vi.fn((value: unknown) => ({ value }));
    const spy: StandardSchemaV1 = { '~standard': { version: 1, vendor: 'spy', validate } };
    const events: Progress[] = [];
    const p = validated(
      [
        updateRecords(
          'notes',
          (n: { id: number }) => (n.id === 2 ? { ...n, title: 'two' } : n.id === 3 ? remove : unchanged),
          { name: 'two' },
        ),
      ],
      { notes: spy },
    );
    const { factory, options } = fakeEnvironment();
    await seedDatabase('db', p, 1, { notes: [{ id: 1 }, { id: 2 }, { id: 3 }] }, options);
    await openAndClose('db', p, { ...options, onProgress: (e) => events.push(e) });
    expect(validate.mock.calls.map(([value]) => value)).toEqual([{ id: 1 }, { id: 2, title: 'two' }]);
    expect(events.some((e) => e.phase === 'validate')).toBe(false);
    expect((await dump(factory, 'db')).stores.notes?.records.map(([key]) => key)).toEqual([1, 2]);
  });

  test('a walk that is not the last step on the store, or not over all of it, leaves the check to the read pass', async () => {
    const seen: unknown[] = [];
    const spy: StandardSchemaV1 = {
      '~standard': {
        version: 1,
        vendor: 'spy',
        validate: (value) => {
          seen.push(value);
          return { value };
        },
      },
    };
    const stores: DatabaseLayout = { notes: { keyPath: 'id', indexes: { byTitle: 'title' } } };
    const p = validated(
      [
        updateRecords('notes', (n: object) => ({ ...n, a: 1 }), { name: 'all' }),
        updateRecords('notes', (n: object) => ({ ...n, b: 1 }), { name: 'some', index: 'byTitle', range: 'x' }),
      ],
      { notes: spy },
      stores,
    );
    const { report } = await upgrade(p, {
      notes: [
        { id: 1, title: 'x' },
        { id: 2, title: 'y' },
        { id: 3, title: 'z' },
      ],
    });
    // Only the end state, once per record: the first walk's output is never checked.
    expect(seen).toEqual([
      { id: 1, title: 'x', a: 1, b: 1 },
      { id: 2, title: 'y', a: 1 },
      { id: 3, title: 'z', a: 1 },
    ]);
    expect(report.versions[0]?.validated).toEqual({ notes: 3 });
  });

  test('a put after the last walk, in the same step, is checked by the read pass', async () => {
    const step: Step = {
      name: 'walk then put',
      stores: ['notes'],
      run: async (ctx) => {
        const notes = ctx.store('notes');
        await notes.walk((n: object) => ({ ...n, title: 'fine' }));
        await notes.put({ id: 9, title: '' });
      },
    };
    const error = await rejected(validated([step]), { notes: [{ id: 1, title: 'old' }] });
    expect(error).toMatchObject({ code: 'validation_failed', version: 2, store: 'notes', key: 9, step: undefined });
  });

  test('writes made on the raw transaction are checked too', async () => {
    const step: Step = {
      name: 'raw',
      stores: ['notes'],
      run: async (ctx) => {
        await ctx.store('notes').walk((n: object) => ({ ...n, title: 'fine' }));
        await ctx.request(ctx.transaction.objectStore('notes').put({ id: 7, title: '' }));
      },
    };
    const error = await rejected(validated([step]), { notes: [{ id: 1, title: 'old' }] });
    expect(error).toMatchObject({ code: 'validation_failed', key: 7 });
  });

  test('an invalid put or add fails with the key (from the key path, or the explicit one)', async () => {
    const putError = await rejected(validated([putting({ id: 1, title: 'fine' }, { id: 9, title: '' })]), {
      notes: [{ id: 1, title: 'old' }],
    });
    expect(putError).toMatchObject({ code: 'validation_failed', version: 2, store: 'notes', key: 9 });
    expect(putError.issues?.[0]?.path).toEqual(['title']);
    const adding: Step = {
      name: 'add',
      stores: ['notes'],
      run: async (ctx) => void (await ctx.store('notes').add({ id: 4, title: 7 })),
    };
    expect(await rejected(validated([adding]), { notes: [] })).toMatchObject({ code: 'validation_failed', key: 4 });
    const outOfLine: Step = {
      name: 'put',
      stores: ['notes'],
      run: async (ctx) => void (await ctx.store('notes').put({ title: '' }, 'k')),
    };
    const error = await rejected(
      validated([outOfLine], { notes: z.object({ title: z.string().min(1) }) }, { notes: {} }),
      { notes: [] },
    );
    expect(error).toMatchObject({ code: 'validation_failed', store: 'notes', key: 'k' });
  });

  test('a record written invalid and fixed by a later step of the same version passes', async () => {
    const p = validated([
      putting({ id: 5, title: '' }),
      defaultValue('notes', 'title', 'x'),
      updateRecords(
        'notes',
        (n: { id: number; title: string }) => (n.title === '' ? { ...n, title: 'fixed' } : unchanged),
        { name: 'fix' },
      ),
    ]);
    const { after } = await upgrade(p, { notes: [{ id: 1, title: 'a' }] });
    expect(after.stores.notes?.records).toEqual([
      [1, { id: 1, title: 'a' }],
      [5, { id: 5, title: 'fixed' }],
    ]);
  });

  test('records written by copyStore and rebuildStore are checked in the target store', async () => {
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
    ).toMatchObject({ code: 'validation_failed', store: 'copies', key: 2 });
    const rebuilding = plan(
      { version: 1, stores },
      { version: 2, stores: { notes: {} }, steps: [rebuildStore('notes')], validators: { notes: Note } },
    );
    expect(await rejected(rebuilding, { notes: [{ id: 1, title: 'a' }, { id: 2 }] })).toMatchObject({
      code: 'validation_failed',
      store: 'notes',
      key: 2,
    });
    const { report } = await upgrade(rebuilding, { notes: [{ id: 1, title: 'a' }] });
    expect(report.versions[0]?.validated).toEqual({ notes: 1 });
  });

  test('a step catching the validation error does not save the upgrade', async () => {
    let caught: unknown;
    const step: Step = {
      name: 'careless',
      stores: ['notes'],
      run: async (ctx) => {
        try {
          await ctx.store('notes').walk((n: object) => ({ ...n, title: '' }));
        } catch (e) {
          caught = e;
        }
      },
    };
    const error = await rejected(validated([step]), { notes: [{ id: 1, title: 'a' }] });
    expect(error.code).toBe('validation_failed');
    expect(caught).toBe(error);
  });

  test('a dry run reports a validation failure exactly as the real run, and changes nothing', async () => {
    const p = validated([], { notes: z.strictObject({ id: z.number(), title: z.string() }) });
    const { factory, options } = fakeEnvironment();
    await seedDatabase('db', p, 1, { notes: [{ id: 1, title: 'a', legacy: 1 }] }, options);
    const before = await dump(factory, 'db');
    const dry = await dryRun('db', p, options).then(
      () => undefined,
      (e: unknown) => e,
    );
    const real = await openDatabase('db', p, options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(dry).toBeInstanceOf(UpgradeError);
    expect(dry).toMatchObject({ code: 'validation_failed', version: 2, store: 'notes', key: 1 });
    expect((dry as UpgradeError).message).toBe((real as UpgradeError).message);
    expect((dry as UpgradeError).issues).toEqual((real as UpgradeError).issues);
    expect(await dump(factory, 'db')).toEqual(before);
  });
});

describe("validate: 'written' narrows the check to records the version wrote", () => {
  const Strict = z.strictObject({ id: z.number(), title: z.string() });
  const narrowed = (steps: Step[]): Plan =>
    plan(
      { version: 1, stores: notes },
      { version: 2, stores: notes, steps, validators: { notes: Strict }, validate: 'written' },
    );

  test('untouched invalid records pass, without a read pass', async () => {
    const events: Progress[] = [];
    const { factory, options } = fakeEnvironment();
    const p = narrowed([putting({ id: 3, title: 'c' })]);
    await seedDatabase('db', p, 1, { notes: [{ id: 1, title: 'a', legacy: true }] }, options);
    const report = await openAndClose('db', p, { ...options, onProgress: (e) => events.push(e) });
    expect(report?.versions[0]?.validated).toEqual({ notes: 1 });
    expect(events.some((e) => e.phase === 'validate')).toBe(false);
    expect((await dump(factory, 'db')).stores.notes?.records).toHaveLength(2);
  });

  test('a written record that is invalid at the end fails, whichever step wrote it', async () => {
    const error = await rejected(narrowed([putting({ id: 3, title: 'c', legacy: 1 })]), {
      notes: [{ id: 1, title: 'a' }],
    });
    expect(error).toMatchObject({ code: 'validation_failed', version: 2, store: 'notes', key: 3 });
    // A final whole-store walk checks what it writes and what earlier steps wrote, not the rest.
    const walkAfter = narrowed([
      putting({ id: 3, title: 'c', legacy: 1 }),
      updateRecords('notes', (n: { id: number }) => (n.id === 2 ? { ...n, title: 'b' } : unchanged), { name: 'b' }),
    ]);
    expect(await rejected(walkAfter, { notes: [{ id: 1, title: 'a', legacy: 1 }, { id: 2 }] })).toMatchObject({
      code: 'validation_failed',
      key: 3,
    });
    const { report } = await upgrade(
      narrowed([
        updateRecords('notes', (n: { id: number }) => (n.id === 2 ? { id: 2, title: 'b' } : unchanged), { name: 'b' }),
      ]),
      { notes: [{ id: 1, title: 'a', legacy: 1 }, { id: 2 }] },
    );
    expect(report.versions[0]?.validated).toEqual({ notes: 1 });
  });

  test('an unknown scope is a PlanError', () => {
    expect(() => plan({ version: 1, stores: notes }, { version: 2, stores: notes, validate: 'some' as 'all' })).toThrow(
      expect.objectContaining({ name: 'PlanError', code: 'invalid_validator', version: 2 }),
    );
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
    // The walk is not the version's last step on the store: the read pass at the end checks every record once.
    expect(seen).toEqual([1, 2, 3, 9].map((id) => ({ id, ok: true })));
    expect(report.versions[0]?.steps.map((s) => [s.updated, s.written])).toEqual([
      [3, 0],
      [0, 1],
    ]);
    expect(report.versions[0]?.validated).toEqual({ notes: 4 });
  });

  test('an invalid record aborts with the issues (path segments as keys); nothing changes', async () => {
    const p = validated(
      [updateRecords('notes', (n: { id: number }) => ({ ...n, ok: n.id !== 2 }), { name: 'check' })],
      {
        notes: asyncValidator(),
      },
    );
    const error = await rejected(p, { notes: [{ id: 1 }, { id: 2 }, { id: 3 }] });
    expect(error).toMatchObject({ code: 'validation_failed', version: 2, step: undefined, store: 'notes', key: 2 });
    expect(error.issues).toEqual([{ message: 'ok must be true', path: ['ok'] }, { message: 'second issue' }]);
    expect(error.message).toContain('ok must be true');
  });

  test('an invalid put aborts too', async () => {
    const error = await rejected(
      validated([putting({ id: 1, ok: true }, { id: 2, ok: false })], { notes: asyncValidator() }),
      { notes: [] },
    );
    expect(error).toMatchObject({ code: 'validation_failed', key: 2 });
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

  test('a version 3 validator does not apply to the state at the end of version 2 in a 1 → 3 upgrade', async () => {
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
    expect(error).toMatchObject({ code: 'validation_failed', version: 3, key: 1 });
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
    expect(error).toMatchObject({ code: 'validation_failed', version: 1, key: 1 });
    expect(await factory.databases()).toEqual([]);
  });
});
