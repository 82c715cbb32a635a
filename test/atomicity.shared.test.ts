import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { definePlan, openDatabase, UpgradeError, type Plan, type Step } from '../src/index.js';
import { dump, fakeEnvironment, openAndClose, seedDatabase } from './helpers.js';

interface Note {
  id: number;
  title: string;
  body?: string | null;
  tags: string[];
  score: number;
}

const noteArb: fc.Arbitrary<Omit<Note, 'id'>> = fc.record({
  title: fc.string({ maxLength: 12 }),
  body: fc.option(fc.string({ maxLength: 20 }), { nil: null }),
  tags: fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 3 }),
  score: fc.integer({ min: -1000, max: 1000 }),
});

const notesArb = fc.array(noteArb, { maxLength: 40 }).map((notes) => notes.map((n, i) => ({ id: i + 1, ...n })));

type Failure = 'throw' | 'reject-after-await' | 'constraint' | 'validation' | 'data-clone';

/**
 * A four-version chain whose steps touch every record. `failAt` injects a failure into one version's step when it
 * reaches the k-th record (k past the end means the failure never triggers, so the run must succeed).
 */
function chain(failAt?: { version: number; record: number; kind: Failure }): Plan {
  const fails = (version: number, visited: number): Failure | undefined =>
    failAt !== undefined && failAt.version === version && failAt.record === visited ? failAt.kind : undefined;
  const step = (version: number, name: string, change: (note: Record<string, unknown>) => void): Step => ({
    name,
    stores: ['notes', 'audit'].filter((s) => version >= 3 || s === 'notes'),
    run: async (ctx) => {
      let visited = 0;
      await ctx.store('notes').walk(
        async (note: Record<string, unknown>) => {
          const kind = fails(version, visited++);
          if (kind === 'throw') throw new Error('injected');
          if (kind === 'reject-after-await') {
            await ctx.store('notes').count();
            throw new Error('injected after await');
          }
          if (kind === 'constraint') {
            // A second record with the same unique `slug` as the first one.
            return { ...note, slug: 'taken' };
          }
          if (kind === 'validation') return { ...note, score: 'not a number' };
          if (kind === 'data-clone') return { ...note, fn: () => 1 };
          change(note);
          if (version === 4 && visited === 1) note.slug = 'taken';
          return note;
        },
        { batchSize: 3 },
      );
    },
  });
  return definePlan({
    versions: [
      { version: 1, stores: { notes: { keyPath: 'id', indexes: { byTitle: 'title' } } } },
      {
        version: 2,
        stores: {
          notes: { keyPath: 'id', indexes: { byTitle: 'title', byTag: { keyPath: 'tags', multiEntry: true } } },
        },
        steps: [
          step(2, 'rename body', (n) => {
            n.text = n.body;
            delete n.body;
          }),
        ],
      },
      {
        version: 3,
        stores: {
          notes: { keyPath: 'id', indexes: { byTag: { keyPath: 'tags', multiEntry: true } } },
          audit: { autoIncrement: true },
        },
        steps: [
          step(3, 'double score', (n) => {
            n.score = (n.score as number) * 2;
          }),
        ],
        validators: { notes: z.object({ id: z.number(), score: z.number() }) },
      },
      {
        version: 4,
        stores: {
          notes: {
            keyPath: 'id',
            indexes: { byTag: { keyPath: 'tags', multiEntry: true }, bySlug: { keyPath: 'slug', unique: true } },
          },
          audit: { autoIncrement: true },
        },
        steps: [
          step(4, 'add slug', (n) => {
            n.slug = `note-${n.id as number}`;
          }),
        ],
        validators: { notes: z.object({ id: z.number(), score: z.number() }) },
      },
    ],
  });
}

const expectedCode: Record<Failure, string> = {
  throw: 'step_failed',
  'reject-after-await': 'step_failed',
  constraint: 'constraint_violation',
  validation: 'validation_failed',
  'data-clone': 'request_failed',
};

describe('atomicity', () => {
  test('any failure at any version and record leaves the database exactly as it was', async () => {
    await fc.assert(
      fc.asyncProperty(
        notesArb.filter((n) => n.length >= 2),
        fc.integer({ min: 2, max: 4 }),
        fc.nat({ max: 39 }),
        fc.constantFrom<Failure>('throw', 'reject-after-await', 'constraint', 'validation', 'data-clone'),
        fc.integer({ min: 1, max: 3 }),
        async (notes, version, rawRecord, kind, installed) => {
          fc.pre(version > installed);
          // Validators only exist from version 3; constraint failures need the unique index of version 4.
          fc.pre(kind !== 'validation' || version >= 3);
          fc.pre(kind !== 'constraint' || version === 4);
          const record = kind === 'constraint' ? Math.max(1, rawRecord % notes.length) : rawRecord % notes.length;
          const { factory, options } = fakeEnvironment();
          const good = chain();
          await seedDatabase('db', good, 1, { notes }, options);
          if (installed > 1) await openAndClose('db', good, { ...options, version: installed });
          const before = await dump(factory, 'db');
          const error = await openDatabase('db', chain({ version, record, kind }), options).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(UpgradeError);
          const upgradeError = error as UpgradeError;
          expect(upgradeError.code).toBe(expectedCode[kind]);
          expect(upgradeError.version).toBe(version);
          expect(upgradeError.store).toBe('notes');
          if (kind !== 'constraint') {
            // A validator checks the version's end state, after every step: no step is to blame.
            if (kind === 'validation') expect(upgradeError.step).toBeUndefined();
            else expect(upgradeError.step).toBeDefined();
            expect(upgradeError.key).toBe(notes[record]!.id);
          }
          expect(await dump(factory, 'db')).toEqual(before);
        },
      ),
      { numRuns: 60 },
    );
  });

  test('1 -> 2 -> 3 -> 4 in separate opens gives the same data as 1 -> 4 in one', async () => {
    await fc.assert(
      fc.asyncProperty(notesArb, async (notes) => {
        const a = fakeEnvironment();
        const b = fakeEnvironment();
        const p = chain();
        await seedDatabase('db', p, 1, { notes }, a.options);
        await seedDatabase('db', p, 1, { notes }, b.options);
        for (const version of [2, 3, 4]) await openAndClose('db', p, { ...a.options, version });
        await openAndClose('db', p, b.options);
        const stepwise = await dump(a.factory, 'db');
        expect(stepwise.version).toBe(4);
        expect(await dump(b.factory, 'db')).toEqual(stepwise);
        const first = stepwise.stores.notes!.records[0]?.[1] as Record<string, unknown> | undefined;
        if (first !== undefined) {
          expect(first).toHaveProperty('slug', 'taken');
          expect(first).not.toHaveProperty('body');
        }
      }),
      { numRuns: 25 },
    );
  });

  test('a fresh database that fails to be created does not exist afterwards', async () => {
    const { factory, options } = fakeEnvironment();
    const p = definePlan({
      versions: [{ version: 1, stores: { notes: { keyPath: 'id' } } }],
      seed: {
        name: 'seed',
        stores: ['notes'],
        run: async (ctx) => {
          await ctx.store('notes').put({ id: 1 });
          throw new Error('seed broke');
        },
      },
    });
    await expect(openDatabase('db', p, options)).rejects.toMatchObject({
      name: 'UpgradeError',
      code: 'step_failed',
      step: 'seed',
    });
    expect((await factory.databases()).map((d) => d.name)).not.toContain('db');
  });
});

describe('steps that wait outside IndexedDB', () => {
  const base = { version: 1, stores: { notes: { keyPath: 'id' } } } as const;
  const withStep = (run: Step['run']): Plan =>
    definePlan({ versions: [base, { ...base, version: 2, steps: [{ name: 'waits', stores: ['notes'], run }] }] });
  const seeded = async () => {
    const env = fakeEnvironment();
    await seedDatabase(
      'db',
      withStep(() => {}),
      1,
      {
        notes: [
          { id: 1, n: 1 },
          { id: 2, n: 2 },
        ],
      },
      env.options,
    );
    return { ...env, before: await dump(env.factory, 'db') };
  };

  test.each([
    [
      'a timer, then a write',
      async (ctx: Parameters<Step['run']>[0]) => {
        await ctx.store('notes').put({ id: 1, n: 10 });
        await new Promise((resolve) => setTimeout(resolve, 20));
        await ctx.store('notes').put({ id: 2, n: 20 });
      },
    ],
    [
      'a timer, then nothing',
      async (ctx: Parameters<Step['run']>[0]) => {
        await ctx.store('notes').put({ id: 1, n: 10 });
        await new Promise((resolve) => setTimeout(resolve, 20));
      },
    ],
    [
      'a timer, then a throw',
      async (ctx: Parameters<Step['run']>[0]) => {
        await ctx.store('notes').put({ id: 1, n: 10 });
        await new Promise((resolve) => setTimeout(resolve, 20));
        throw new Error('late failure');
      },
    ],
    [
      'a never-settling promise',
      async (ctx: Parameters<Step['run']>[0]) => {
        await ctx.store('notes').put({ id: 1, n: 10 });
        await new Promise(() => {});
      },
    ],
  ])('%s: the upgrade is aborted with transaction_inactive and nothing is half-committed', async (_, run) => {
    const { factory, options, before } = await seeded();
    await expect(openDatabase('db', withStep(run), options)).rejects.toMatchObject({
      name: 'UpgradeError',
      code: 'transaction_inactive',
      version: 2,
      step: 'waits',
    });
    expect(await dump(factory, 'db')).toEqual(before);
  });

  test('awaiting resolved promises and raw requests through ctx.request is fine', async () => {
    const { factory, options } = await seeded();
    const p = withStep(async (ctx) => {
      for (let i = 0; i < 50; i++) await Promise.resolve(i);
      const raw = ctx.transaction.objectStore('notes');
      const value = await ctx.request(raw.get(1));
      await ctx.request(raw.put({ ...value, n: 100 }));
      await ctx.store('notes').put({ id: 3, n: await ctx.store('notes').count() });
    });
    await openAndClose('db', p, options);
    expect((await dump(factory, 'db')).stores.notes!.records).toEqual([
      [1, { id: 1, n: 100 }],
      [2, { id: 2, n: 2 }],
      [3, { id: 3, n: 2 }],
    ]);
  });
});
