import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import {
  convertField,
  defaultValue,
  definePlan,
  dropField,
  openDatabase,
  type Progress,
  remove,
  renameField,
  type Step,
  unchanged,
  updateRecords,
  type UpgradeReport,
  type VersionDefinition,
} from '../src/index.js';
import { dump, fakeEnvironment, realIndexedDB, seedDatabase } from './helpers.js';

// Consecutive record-level steps on a store run as one pass, within a version and across the pending versions of one
// open. The property: a plan run fused gives exactly what the same plan gives with every step run on its own.

const FIELDS = ['a', 'b', 'c', 'n'] as const;
type Field = (typeof FIELDS)[number];

/** A random record-level helper, described as data so that fast-check can print and shrink it. */
type HelperSpec =
  | { kind: 'rename'; from: Field; to: Field; overwrite: boolean }
  | { kind: 'drop'; field: Field }
  | { kind: 'default'; field: Field; value: number }
  | { kind: 'double'; field: Field }
  | { kind: 'remove-if'; field: Field; above: number; async: boolean }
  | { kind: 'touch-if'; field: Field; async: boolean };

/** A version: its helpers, and what may split a pass (an index change, a custom step, a validator). */
interface VersionSpec {
  readonly helpers: readonly HelperSpec[];
  readonly index: boolean;
  readonly custom: boolean;
  readonly validator: boolean;
}

const field = fc.constantFrom(...FIELDS);
const helper: fc.Arbitrary<HelperSpec> = fc.oneof(
  fc.record({ kind: fc.constant('rename' as const), from: field, to: field, overwrite: fc.boolean() }),
  fc.record({ kind: fc.constant('drop' as const), field }),
  fc.record({ kind: fc.constant('default' as const), field, value: fc.integer({ min: -3, max: 3 }) }),
  fc.record({ kind: fc.constant('double' as const), field }),
  fc.record({
    kind: fc.constant('remove-if' as const),
    field,
    above: fc.integer({ min: 0, max: 8 }),
    async: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('touch-if' as const), field, async: fc.boolean() }),
);
const version: fc.Arbitrary<VersionSpec> = fc.record({
  helpers: fc.array(helper, { maxLength: 3 }),
  index: fc.boolean(),
  custom: fc.boolean(),
  validator: fc.boolean(),
});
const record = fc.record(
  {
    a: fc.integer({ min: 0, max: 9 }),
    b: fc.integer({ min: 0, max: 9 }),
    c: fc.string({ maxLength: 2 }),
    n: fc.integer({ min: 0, max: 9 }),
  },
  { requiredKeys: [] },
);
const records = fc.uniqueArray(fc.record({ id: fc.nat({ max: 60 }), value: record }), {
  selector: (r) => r.id,
  maxLength: 25,
});

/** The visitor as it is, or answering with a promise: a pass takes a synchronous answer without awaiting it. */
function answered<T>(spec: { async: boolean }, visitor: (n: Record<string, unknown>) => T) {
  return spec.async ? (n: Record<string, unknown>) => Promise.resolve(visitor(n)) : visitor;
}

function step(spec: HelperSpec, position: number): Step {
  const name = { name: `${spec.kind} ${position}` };
  switch (spec.kind) {
    case 'rename':
      return renameField('notes', spec.from, spec.to, { ...name, overwrite: spec.overwrite });
    case 'drop':
      return dropField('notes', spec.field, name);
    case 'default':
      return defaultValue('notes', spec.field, spec.value, name);
    case 'double':
      return convertField('notes', spec.field, (v: unknown) => (typeof v === 'number' ? v * 2 : 'nan'), name);
    case 'remove-if':
      return updateRecords(
        'notes',
        answered(spec, (n) =>
          typeof n[spec.field] === 'number' && (n[spec.field] as number) > spec.above ? remove : n,
        ),
        name,
      );
    case 'touch-if':
      // Rewrites only records that have the field, in place; leaves the others alone.
      return updateRecords(
        'notes',
        answered(spec, (n) => {
          if (!(spec.field in n)) return unchanged;
          n.touched = ((n.touched as number | undefined) ?? 0) + 1;
          return n;
        }),
        name,
      );
  }
}

/** A custom step, not record-level: it reads the store as it stands and writes one record. */
const census: Step = {
  name: 'census',
  stores: ['notes', 'meta'],
  run: async (ctx) => {
    const count = await ctx.store('notes').count();
    await ctx.store('meta').put({ count }, 'count');
  },
};

/** The plan of `specs`; `fused: false` strips the record-level declarations, so every step runs on its own. */
function planOf(specs: readonly VersionSpec[], fused: boolean) {
  const versions: VersionDefinition[] = [{ version: 1, stores: { notes: { keyPath: 'id' }, meta: {} } }];
  specs.forEach((spec, i) => {
    const indexes = specs.slice(0, i + 1).filter((s) => s.index).length % 2 === 1 ? { byA: 'a' } : {};
    const steps = spec.helpers.map((h, position) => {
      const built = step(h, position);
      if (fused) return built;
      const { records: _records, ...alone } = built;
      return alone;
    });
    versions.push({
      version: i + 2,
      stores: { notes: { keyPath: 'id', indexes }, meta: {} },
      steps: spec.custom ? [...steps, census] : steps,
      ...(spec.validator
        ? { validators: { notes: z.looseObject({ id: z.number(), a: z.number().max(9).optional() }) } }
        : {}),
    });
  });
  return definePlan({ versions });
}

/** Opens `plan` over `data` at version 1; the outcome (report or error code), the database after, step events. */
async function outcome(plan: ReturnType<typeof planOf>, data: { id: number; value: object }[]) {
  const { factory, options } = fakeEnvironment();
  await seedDatabase('db', plan, 1, { notes: data.map(({ id, value }) => ({ ...value, id })) }, options);
  const events: Progress[] = [];
  const result = await openDatabase('db', plan, { ...options, onProgress: (e) => events.push(e) }).then(
    ({ db, upgrade }) => {
      db.close();
      return { report: upgrade?.report as UpgradeReport, code: null };
    },
    (error: { code?: string }) => ({ report: null, code: error.code ?? 'unknown' }),
  );
  return { ...result, after: await dump(factory, 'db'), events };
}

const counts = (report: UpgradeReport | null) =>
  report?.versions.map((v) => v.steps.map((s) => [s.name, s.visited, s.updated, s.deleted, s.written]));

describe('fused passes', () => {
  test('a fused run equals the unfused run: data, success or failure, per-step counts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(version, { minLength: 1, maxLength: 4 }), records, async (specs, data) => {
        const fused = await outcome(planOf(specs, true), data);
        const alone = await outcome(planOf(specs, false), data);
        expect(fused.after).toEqual(alone.after);
        expect(fused.code === null).toBe(alone.code === null);
        expect(counts(fused.report)).toEqual(counts(alone.report));
      }),
      { numRuns: realIndexedDB ? 25 : 150 },
    );
    // Seconds of work (two upgrades per run): bounded by the run count, not by the default per-test timeout.
  }, 120_000);

  test('record steps of three pending versions, validators included, run as one pass over the store', async () => {
    const specs: VersionSpec[] = [
      {
        helpers: [
          { kind: 'rename', from: 'a', to: 'b', overwrite: true },
          { kind: 'double', field: 'n' },
          { kind: 'drop', field: 'c' },
        ],
        index: false,
        custom: false,
        validator: true,
      },
      { helpers: [{ kind: 'default', field: 'c', value: 1 }], index: false, custom: false, validator: false },
      { helpers: [{ kind: 'double', field: 'n' }], index: false, custom: false, validator: true },
    ];
    const data = Array.from({ length: 30 }, (_, id) => ({ id, value: { a: id % 5, n: id } }));
    const fused = await outcome(planOf(specs, true), data);
    const alone = await outcome(planOf(specs, false), data);
    expect(fused.code).toBeNull();
    expect(fused.after).toEqual(alone.after);
    // One pass: every step reports progress over the same 30 records, and no read pass validates separately.
    const steps = fused.events.filter((e) => e.phase === 'step');
    expect(new Set(steps.map((e) => `${e.version}/${e.step}`)).size).toBe(5);
    expect(fused.events.some((e) => e.phase === 'validate')).toBe(false);
    expect(alone.events.some((e) => e.phase === 'step')).toBe(true);
    expect(fused.report?.versions.map((v) => v.validated)).toEqual([{ notes: 30 }, {}, { notes: 30 }]);
  });

  test('errors name the version, step and key of the visitor that failed', async () => {
    const failing = definePlan({
      versions: [
        { version: 1, stores: { notes: { keyPath: 'id' } } },
        { version: 2, stores: { notes: { keyPath: 'id' } }, steps: [defaultValue('notes', 'x', 1)] },
        {
          version: 3,
          stores: { notes: { keyPath: 'id' } },
          steps: [
            updateRecords(
              'notes',
              (n: { id: number }) => {
                if (n.id === 4) throw new Error('bad record');
                return n;
              },
              { name: 'check' },
            ),
          ],
        },
      ],
    });
    const { factory, options } = fakeEnvironment();
    await seedDatabase('db', failing, 1, { notes: Array.from({ length: 8 }, (_, id) => ({ id })) }, options);
    const before = await dump(factory, 'db');
    await expect(openDatabase('db', failing, options)).rejects.toMatchObject({
      code: 'step_failed',
      version: 3,
      step: 'check',
      stepIndex: 0,
      store: 'notes',
      key: 4,
    });
    expect(await dump(factory, 'db')).toEqual(before);
  });
});

test('a custom step declaring itself record-level is checked when the plan is defined', () => {
  const visitor = (n: object) => n;
  const bad = (records: object, stores: string[]) => () =>
    definePlan({
      versions: [
        { version: 1, stores: { notes: { keyPath: 'id' } } },
        {
          version: 2,
          stores: { notes: { keyPath: 'id' } },
          steps: [{ name: 'x', stores, run: () => {}, records } as Step],
        },
      ],
    });
  expect(bad({ store: 'notes', visitor }, ['notes'])).not.toThrow();
  expect(bad({ store: 'other', visitor }, ['notes'])).toThrow(
    expect.objectContaining({ code: 'invalid_step', step: 'x' }),
  );
  expect(bad({ store: 'notes' }, ['notes'])).toThrow(/needs a `visitor`/);
});

test('a helper step whose run was wrapped is not fused: the wrapper runs', async () => {
  const calls: number[] = [];
  const helper = defaultValue('notes', 'x', 1);
  const wrapped: Step = {
    ...helper,
    run: async (ctx) => {
      calls.push(await ctx.store('notes').count());
      await helper.run(ctx);
    },
  };
  const p = definePlan({
    versions: [
      { version: 1, stores: { notes: { keyPath: 'id' } } },
      { version: 2, stores: { notes: { keyPath: 'id' } }, steps: [defaultValue('notes', 'y', 2), wrapped] },
    ],
  });
  const { factory, options } = fakeEnvironment();
  await seedDatabase('db', p, 1, { notes: [{ id: 1 }, { id: 2 }] }, options);
  const { db } = await openDatabase('db', p, options);
  db.close();
  expect(calls).toEqual([2]);
  expect((await dump(factory, 'db')).stores.notes?.records).toEqual([
    [1, { id: 1, y: 2, x: 1 }],
    [2, { id: 2, y: 2, x: 1 }],
  ]);
});
