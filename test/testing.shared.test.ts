import fc from 'fast-check';
import { describe, expect, expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import {
  convertField,
  definePlan,
  memorySnapshotStorage,
  OpenError,
  snapshotPolicy,
  PlanError,
  renameField,
  UpgradeError,
  type Step,
} from '../src/index.js';
import {
  checkMigration,
  createDatabaseAt,
  deleteDatabase,
  FixtureError,
  migrate,
  migrateFixtures,
  MigrationCheckError,
  readAll,
  type DatabaseContents,
  type MigrationOutcome,
} from '../src/testing/index.js';
import { fakeEnvironment } from './helpers.js';

const welcome: Step = {
  name: 'welcome',
  stores: ['notes'],
  run: async (ctx) => {
    await ctx.store('notes').put({ id: 0, title: 'Welcome' });
  },
};

/** notes (in-line keys) and settings (out-of-line); v2 renames name to title, checked by zod; v3 upper-cases it. */
const plan = definePlan({
  versions: [
    { version: 1, stores: { notes: { keyPath: 'id' }, settings: {} } },
    {
      version: 2,
      stores: { notes: { keyPath: 'id', indexes: { byTitle: 'title' } }, settings: {} },
      steps: [renameField('notes', 'name', 'title')],
      validators: { notes: z.object({ id: z.number(), title: z.string() }) },
    },
    {
      version: 3,
      stores: { notes: { keyPath: 'id', indexes: { byTitle: 'title' } }, settings: {} },
      steps: [convertField('notes', 'title', (title: string) => title.toUpperCase())],
    },
  ],
  seed: welcome,
});

const notesV1 = { keyPath: 'id', autoIncrement: false, indexes: {} };
const notesV2 = {
  keyPath: 'id',
  autoIncrement: false,
  indexes: { byTitle: { keyPath: 'title', unique: false, multiEntry: false } },
};
const settings = { keyPath: null, autoIncrement: false, indexes: {} };

/**
 * An isolated IndexedDB (fake-indexeddb in Node, the engine's own in browser mode, see helpers.ts) that records
 * the name of every database opened through it.
 */
function recordingEnvironment() {
  const { factory, options } = fakeEnvironment();
  const opened: string[] = [];
  const indexedDB = new Proxy(factory, {
    get(target, property) {
      if (property === 'open') {
        return (name: string, version?: number) => {
          opened.push(name);
          return target.open(name, version);
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { factory, opened, options: { indexedDB, IDBKeyRange: options.IDBKeyRange } };
}

async function databaseNames(factory: IDBFactory): Promise<string[]> {
  return (await factory.databases()).map((d) => d.name!);
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('createDatabaseAt and readAll', () => {
  test('create the layout of the requested version with the fixtures, and read every store back in key order', async () => {
    const { factory, options } = recordingEnvironment();
    const database = await createDatabaseAt(
      plan,
      1,
      {
        notes: [
          { id: 2, name: 'b' },
          { id: 1, name: 'a' },
        ],
        settings: [
          ['theme', 'dark'],
          [['compound', 1], { on: true }],
        ],
      },
      options,
    );
    expect(database.name).toMatch(/^idb-evolve-test-/);
    expect(await readAll(database)).toEqual({
      version: 1,
      stores: {
        notes: {
          layout: notesV1,
          records: [
            [1, { id: 1, name: 'a' }],
            [2, { id: 2, name: 'b' }],
          ],
        },
        settings: {
          layout: settings,
          records: [
            ['theme', 'dark'],
            [['compound', 1], { on: true }],
          ],
        },
      },
    } satisfies DatabaseContents);
    await deleteDatabase(database);
    expect(await databaseNames(factory)).toEqual([]);
  });

  test("do not run the plan's seed unless asked", async () => {
    const { options } = recordingEnvironment();
    const bare = await createDatabaseAt(plan, 3, {}, options);
    expect((await readAll(bare)).stores.notes?.records).toEqual([]);
    const seeded = await createDatabaseAt(plan, 3, { notes: [{ id: 1, title: 'A' }] }, { ...options, seed: true });
    expect((await readAll(seeded)).stores.notes?.records).toEqual([
      [0, { id: 0, title: 'Welcome' }],
      [1, { id: 1, title: 'A' }],
    ]);
  });

  test('give each database a new name, and replace an existing database when a name is given', async () => {
    const { options } = recordingEnvironment();
    const a = await createDatabaseAt(plan, 1, {}, options);
    const b = await createDatabaseAt(plan, 1, {}, options);
    expect(a.name).not.toBe(b.name);
    await createDatabaseAt(plan, 3, { notes: [{ id: 1, title: 'old' }] }, { ...options, name: 'mine' });
    const replaced = await createDatabaseAt(plan, 1, { notes: [{ id: 9, name: 'new' }] }, { ...options, name: 'mine' });
    expect(replaced.name).toBe('mine');
    expect(await readAll(replaced)).toMatchObject({
      version: 1,
      stores: { notes: { records: [[9, { id: 9, name: 'new' }]] } },
    });
  });

  test('readAll reads a missing database as version 0 without creating it', async () => {
    const { factory, options } = recordingEnvironment();
    expect(await readAll({ name: 'nothing', indexedDB: options.indexedDB })).toEqual({ version: 0, stores: {} });
    expect(await databaseNames(factory)).toEqual([]);
  });

  test('version 0 creates nothing', async () => {
    const { factory, options } = recordingEnvironment();
    const database = await createDatabaseAt(plan, 0, {}, options);
    expect(await databaseNames(factory)).toEqual([]);
    expect(await readAll(database)).toEqual({ version: 0, stores: {} });
  });
});

describe('fixture errors', () => {
  const cases: [string, number, Record<string, unknown[]>, Partial<FixtureError>, RegExp][] = [
    [
      'a store the version lacks',
      1,
      { tags: [] },
      { code: 'unknown_fixture_store', store: 'tags', version: 1 },
      /^Fixtures for store "tags", which version 1 does not have \(it has: "notes", "settings"\) \(version 1, store "tags"\)$/,
    ],
    [
      'an out-of-line entry that is not a pair',
      1,
      { settings: [['a', 1], { theme: 'dark' }] },
      { code: 'invalid_fixture', store: 'settings', index: 1 },
      /^Store "settings" has out-of-line keys: give its fixtures as \[key, value\] pairs \(fixture 1 is \{"theme":"dark"\}\) \(version 1, store "settings"\)$/,
    ],
    [
      'two fixtures with one key',
      1,
      { notes: [{ id: 1 }, { id: 2 }, { id: 1, name: 'again' }] },
      { code: 'write_failed', store: 'notes', index: 2, key: 1 },
      /^Could not add fixture 2 of store "notes" \(key 1\): ConstraintError: /,
    ],
    [
      'a value that cannot be cloned',
      1,
      { notes: [{ id: 1, fn: () => 1 }] },
      { code: 'write_failed', store: 'notes', index: 0, key: 1 },
      /^Could not add fixture 0 of store "notes" \(key 1\): DataCloneError: /,
    ],
    [
      'a record without its in-line key',
      1,
      { notes: [{ id: 1 }, { name: 'no id' }] },
      { code: 'write_failed', store: 'notes', index: 1 },
      /^Could not add fixture 1 of store "notes": DataError: /,
    ],
  ];

  test.each(cases)(
    '%s: FixtureError, and no database is left behind',
    async (_, version, fixtures, fields, message) => {
      const { factory, options } = recordingEnvironment();
      const error = await caught(createDatabaseAt(plan, version, fixtures, options));
      expect(error).toBeInstanceOf(FixtureError);
      expect(error).toMatchObject({ name: 'FixtureError', ...fields });
      expect((error as Error).message).toMatch(message);
      expect(await databaseNames(factory)).toEqual([]);
    },
  );

  test('with validate, fixtures are checked against the validators of their version first', async () => {
    const { factory, options } = recordingEnvironment();
    // Valid for version 1 (no validator), so written without `validate`.
    await createDatabaseAt(plan, 2, { notes: [{ id: 1, title: 7 }] }, options);
    const error = await caught(
      createDatabaseAt(
        plan,
        2,
        {
          notes: [
            { id: 1, title: 'ok' },
            { id: 2, title: 7 },
          ],
        },
        { ...options, validate: true },
      ),
    );
    expect(error).toMatchObject({
      name: 'FixtureError',
      code: 'invalid_fixture',
      store: 'notes',
      index: 1,
      key: 2,
      issues: [{ path: ['title'], message: expect.stringContaining('string') }],
    });
    // The issues are in `issues`, not in `cause`.
    expect((error as FixtureError).cause).toBeUndefined();
    expect((error as Error).message).toMatch(/^Fixture 1 of store "notes" fails the validator of version 2 at title: /);
    expect(await databaseNames(factory)).toHaveLength(1);
  });

  test('a version the plan lacks is a PlanError', async () => {
    const { options } = recordingEnvironment();
    await expect(createDatabaseAt(plan, 4, {}, options)).rejects.toMatchObject({
      name: 'PlanError',
      code: 'invalid_target_version',
      version: 4,
    });
  });
});

describe('migrate', () => {
  test('upgrades with the plan and reports what it did', async () => {
    const { options } = recordingEnvironment();
    const database = await createDatabaseAt(
      plan,
      1,
      {
        notes: [
          { id: 1, name: 'a' },
          { id: 2, name: 'b' },
        ],
      },
      options,
    );
    const { report, error } = await migrate(database, 2);
    expect(error).toBeNull();
    expect(
      report?.versions.map((v) => [v.version, v.indexesCreated, v.steps.map((s) => [s.name, s.visited, s.updated])]),
    ).toEqual([[2, ['notes.byTitle'], [['renameField(notes: name -> title)', 2, 2]]]]);
    expect(await readAll(database)).toEqual({
      version: 2,
      stores: {
        notes: {
          layout: notesV2,
          records: [
            [1, { id: 1, title: 'a' }],
            [2, { id: 2, title: 'b' }],
          ],
        },
        settings: { layout: settings, records: [] },
      },
    });
    // Up to the latest version by default.
    expect((await migrate(database)).report?.newVersion).toBe(3);
    expect((await readAll(database)).stores.notes?.records).toEqual([
      [1, { id: 1, title: 'A' }],
      [2, { id: 2, title: 'B' }],
    ]);
    // Nothing pending.
    expect(await migrate(database)).toEqual({ report: null, error: null });
  });

  test('returns the typed error of a failed upgrade, and the database keeps its data', async () => {
    const { options } = recordingEnvironment();
    const database = await createDatabaseAt(
      plan,
      1,
      {
        notes: [
          { id: 1, name: 'a' },
          { id: 2, name: 42 },
        ],
      },
      options,
    );
    const before = await readAll(database);
    const { report, error } = await migrate(database, 3);
    expect(report).toBeNull();
    expect(error).toBeInstanceOf(UpgradeError);
    expect(error).toMatchObject({
      code: 'validation_failed',
      version: 2,
      step: undefined,
      store: 'notes',
      key: 2,
    });
    expect(await readAll(database)).toEqual(before);
  });

  test('returns OpenError for a downgrade, and throws PlanError for a version the plan lacks', async () => {
    const { options } = recordingEnvironment();
    const database = await createDatabaseAt(plan, 3, {}, options);
    const { error } = await migrate(database, 1);
    expect(error).toBeInstanceOf(OpenError);
    expect(error?.code).toBe('downgrade');
    await expect(migrate(database, 7)).rejects.toBeInstanceOf(PlanError);
  });

  test('can upgrade with another plan, such as the next release of the same one', async () => {
    const { options } = recordingEnvironment();
    const v1 = definePlan({ versions: [{ version: 1, stores: { notes: { keyPath: 'id' }, settings: {} } }] });
    const database = await createDatabaseAt(v1, 1, { notes: [{ id: 1, name: 'x' }] }, options);
    await expect(migrate(database, 3)).rejects.toMatchObject({ name: 'PlanError', code: 'invalid_target_version' });
    const { error } = await migrate(database, 3, { plan });
    expect(error).toBeNull();
    expect((await readAll(database)).stores.notes?.records).toEqual([[1, { id: 1, title: 'X' }]]);
  });

  test('takes no snapshot by default, and keeps a requested one in memory', async () => {
    const { options } = recordingEnvironment();
    // Node has no OPFS: a snapshot there would refuse the upgrade with a SnapshotError.
    const plain = await createDatabaseAt(plan, 1, { notes: [{ id: 1, name: 'a' }] }, options);
    expect(plain.snapshots).toBe(false);
    expect(await migrate(plain)).toMatchObject({ error: null });
    const off = await createDatabaseAt(plan, 1, { notes: [{ id: 1, name: 'a' }] }, { ...options, snapshots: false });
    expect(off.snapshots).toBe(false);
    expect(await migrate(off)).toMatchObject({ error: null });
    const storage = memorySnapshotStorage();
    const snapshots = snapshotPolicy({ storage });
    const database = await createDatabaseAt(plan, 1, { notes: [{ id: 1, name: 'a' }] }, { ...options, snapshots });
    expect(database.snapshots).toBe(snapshots);
    expect(await storage.list()).toEqual([]);
    expect(await migrate(database)).toMatchObject({ error: null });
    // A snapshot of the database at version 1, taken by the upgrade.
    expect(await storage.list()).toEqual([
      expect.stringMatching(new RegExp(`^${database.name}@1@\\d+@upgrade@\\w+\\.ndjson\\.gz$`)),
    ]);
  });
});

describe('migrateFixtures', () => {
  test('migrates fixtures in a fresh database, returns it before and after, and deletes it', async () => {
    const { factory, opened, options } = recordingEnvironment();
    const outcome = await migrateFixtures(plan, {
      ...options,
      from: 1,
      to: 3,
      fixtures: { notes: [{ id: 1, name: 'a' }], settings: [['k', 1]] },
    });
    expect(outcome.error).toBeNull();
    expect(outcome.report?.versions.map((v) => v.version)).toEqual([2, 3]);
    expect(outcome.before).toEqual({
      version: 1,
      stores: {
        notes: { layout: notesV1, records: [[1, { id: 1, name: 'a' }]] },
        settings: { layout: settings, records: [['k', 1]] },
      },
    });
    expect(outcome.after).toEqual({
      version: 3,
      stores: {
        notes: { layout: notesV2, records: [[1, { id: 1, title: 'A' }]] },
        settings: { layout: settings, records: [['k', 1]] },
      },
    });
    expect(new Set(opened).size).toBe(1);
    expect(await databaseNames(factory)).toEqual([]);
  });

  test('a failed upgrade is returned with the database as it was before', async () => {
    const { factory, options } = recordingEnvironment();
    const outcome = await migrateFixtures(plan, { ...options, from: 1, fixtures: { notes: [{ id: 5, name: null }] } });
    expect(outcome.error).toMatchObject({ name: 'UpgradeError', code: 'validation_failed', key: 5 });
    expect(outcome.report).toBeNull();
    expect(outcome.after).toEqual(outcome.before);
    expect(outcome.after.version).toBe(1);
    expect(await databaseNames(factory)).toEqual([]);
  });

  test('from version 0 is a fresh install: the seed runs', async () => {
    const { options } = recordingEnvironment();
    const outcome = await migrateFixtures(plan, { ...options, from: 0 });
    expect(outcome.before).toEqual({ version: 0, stores: {} });
    expect(outcome.report?.fresh).toBe(true);
    expect(outcome.after.stores.notes?.records).toEqual([[0, { id: 0, title: 'Welcome' }]]);
  });
});

const note = fc.record({ id: fc.nat({ max: 50 }), name: fc.string({ maxLength: 5 }) });
const notes = fc.record({ notes: fc.uniqueArray(note, { selector: (n) => n.id, maxLength: 6 }) });

// Each property runs up to a hundred migrations, each in its own database, plus shrinking.
describe('checkMigration', { timeout: 30_000 }, () => {
  test('runs every generated case in its own database, deletes each, and resolves when the property holds', async () => {
    const { factory, opened, options } = recordingEnvironment();
    const seen: number[] = [];
    const summary = await checkMigration(plan, {
      ...options,
      fc,
      from: 1,
      fixtures: notes,
      parameters: { numRuns: 25, seed: 7 },
      property: ({ after }, fixtures) => {
        expectTypeOf(fixtures.notes).toEqualTypeOf<{ id: number; name: string }[]>();
        seen.push(fixtures.notes.length);
        const expected = [...fixtures.notes]
          .sort((a, b) => a.id - b.id)
          .map((n) => [n.id, { id: n.id, title: n.name.toUpperCase() }]);
        expect(after.stores.notes?.records).toEqual(expected);
      },
    });
    expect(summary).toEqual({ numRuns: 25, seed: 7 });
    expect(seen).toHaveLength(25);
    // Per run: create, read before, upgrade, read after.
    expect(opened).toHaveLength(25 * 4);
    expect(new Set(opened).size).toBe(25);
    expect(await databaseNames(factory)).toEqual([]);
  });

  test('without a property, the property is that the upgrade succeeds; a failure shrinks to the smallest fixtures', async () => {
    const { factory, options } = recordingEnvironment();
    const mixed = fc.record({
      notes: fc.uniqueArray(
        fc.record({ id: fc.nat({ max: 50 }), name: fc.oneof(fc.string({ maxLength: 3 }), fc.integer()) }),
        {
          selector: (n) => n.id,
          maxLength: 6,
        },
      ),
    });
    const error = await caught(
      checkMigration(plan, { ...options, fc, from: 1, fixtures: mixed, parameters: { seed: 1 } }),
    );
    expect(error).toBeInstanceOf(MigrationCheckError);
    const failed = error as MigrationCheckError;
    expect(failed.fixtures).toEqual({ notes: [{ id: 0, name: 0 }] });
    expect(failed.error).toMatchObject({
      name: 'UpgradeError',
      code: 'validation_failed',
      version: 2,
      store: 'notes',
      key: 0,
    });
    expect(failed.failure).toBe(failed.error);
    expect(failed.cause).toBe(failed.error);
    expect(failed.outcome?.after).toEqual(failed.outcome?.before);
    expect(failed.outcome?.before.stores.notes?.records).toEqual([[0, { id: 0, name: 0 }]]);
    expect(failed.seed).toBe(1);
    expect(failed.path).toMatch(/^\d+(:\d+)*$/);
    const lines = failed.message.split('\n');
    expect(lines[0]).toMatch(/^Migration from version 1 to 3 failed after \d+ runs? and \d+ shrinks?$/);
    expect(lines[1]).toMatch(
      /^ {2}failure: UpgradeError \[validation_failed\]: Record does not satisfy version 2's validator at the end of the version at title: .* \(version 2, store "notes", key 0\)$/,
    );
    expect(lines[2]).toBe('  fixtures: {"notes":[{"id":0,"name":0}]}');
    expect(lines[3]).toBe(`  replay with parameters: { seed: 1, path: ${JSON.stringify(failed.path)} }`);
    expect(await databaseNames(factory)).toEqual([]);

    // The seed and path in the message replay the failing case directly.
    const replayed = await caught(
      checkMigration(plan, {
        ...options,
        fc,
        from: 1,
        fixtures: mixed,
        parameters: { seed: failed.seed, path: failed.path! },
      }),
    );
    expect((replayed as MigrationCheckError).fixtures).toEqual(failed.fixtures);
    expect((replayed as MigrationCheckError).numRuns).toBe(1);
  });

  test('a property that returns false or throws fails the check with what it said', async () => {
    const { options } = recordingEnvironment();
    const falseError = await caught(
      checkMigration(plan, {
        ...options,
        fc,
        from: 1,
        fixtures: notes,
        parameters: { seed: 11 },
        property: ({ after }) => (after.stores.notes?.records.length ?? 0) < 2,
      }),
    );
    expect(falseError).toMatchObject({
      name: 'MigrationCheckError',
      error: null,
      fixtures: {
        notes: [
          { id: 0, name: '' },
          { id: 1, name: '' },
        ],
      },
    });
    expect((falseError as MigrationCheckError).message.split('\n')[1]).toBe(
      '  failure: PropertyReturnedFalse: The property returned false',
    );

    const thrown = await caught(
      checkMigration(plan, {
        ...options,
        fc,
        from: 1,
        fixtures: notes,
        parameters: { seed: 12 },
        property: ({ after }) => {
          expect(after.stores.notes?.records.every(([, n]) => (n as { title: string }).title === '')).toBe(true);
        },
      }),
    );
    // The smallest note whose title cannot be empty: a one-character name, shrunk to the first printable one.
    expect((thrown as MigrationCheckError).fixtures).toEqual({ notes: [{ id: 0, name: ' ' }] });
    expect((thrown as MigrationCheckError).message.split('\n')[1]).toMatch(
      /^ {2}failure: AssertionError: expected false to be true/,
    );
  });

  test('with allowErrors the property also sees failed upgrades', async () => {
    const { options } = recordingEnvironment();
    const mixed = fc.record({
      notes: fc.uniqueArray(
        fc.record({ id: fc.nat({ max: 20 }), name: fc.oneof(fc.string({ maxLength: 3 }), fc.constant(null)) }),
        {
          selector: (n) => n.id,
          maxLength: 4,
        },
      ),
    });
    const outcomes: MigrationOutcome[] = [];
    await checkMigration(plan, {
      ...options,
      fc,
      from: 1,
      to: 2,
      fixtures: mixed,
      allowErrors: true,
      parameters: { numRuns: 40, seed: 3 },
      property: (outcome, fixtures) => {
        outcomes.push(outcome);
        const invalid = fixtures.notes.some((n) => n.name === null);
        expect(outcome.error?.code).toBe(invalid ? 'validation_failed' : undefined);
        if (invalid) expect(outcome.after).toEqual(outcome.before);
      },
    });
    expect(outcomes.some((o) => o.error !== null)).toBe(true);
    expect(outcomes.some((o) => o.error === null)).toBe(true);
  });

  test('fixtures the generator made invalid are reported as a FixtureError', async () => {
    const { options } = recordingEnvironment();
    const duplicates = fc.record({ notes: fc.array(note, { maxLength: 5 }) });
    const error = await caught(
      checkMigration(plan, { ...options, fc, from: 1, fixtures: duplicates, parameters: { seed: 5 } }),
    );
    const fixtures = (error as MigrationCheckError).fixtures as { notes: { id: number; name: string }[] };
    // Shrinking keeps two notes sharing an id (shrinking either id alone would make them distinct).
    expect(fixtures.notes).toHaveLength(2);
    expect(fixtures.notes[1]!.id).toBe(fixtures.notes[0]!.id);
    expect((error as MigrationCheckError).failure).toMatchObject({
      name: 'FixtureError',
      code: 'write_failed',
      store: 'notes',
      index: 1,
      key: fixtures.notes[0]!.id,
    });
    expect((error as MigrationCheckError).message).toContain(
      'failure: FixtureError [write_failed]: Could not add fixture 1 of store "notes"',
    );
    expect((error as MigrationCheckError).outcome).toBeNull();
    expect((error as MigrationCheckError).error).toBeNull();
  });

  test('validates generated fixtures against the validators of `from` by default', async () => {
    const { options } = recordingEnvironment();
    const untitled = fc.record({
      notes: fc.uniqueArray(fc.record({ id: fc.nat({ max: 9 }), title: fc.oneof(fc.string(), fc.integer()) }), {
        selector: (n) => n.id,
      }),
    });
    const error = await caught(
      checkMigration(plan, { ...options, fc, from: 2, fixtures: untitled, parameters: { seed: 9 } }),
    );
    expect((error as MigrationCheckError).failure).toMatchObject({
      name: 'FixtureError',
      code: 'invalid_fixture',
      store: 'notes',
      key: 0,
    });
    // Unchecked, the same records reach the v3 step, which cannot upper-case a number.
    const unchecked = await caught(
      checkMigration(plan, { ...options, fc, from: 2, fixtures: untitled, validate: false, parameters: { seed: 9 } }),
    );
    expect((unchecked as MigrationCheckError).failure).toMatchObject({
      name: 'UpgradeError',
      code: 'step_failed',
      version: 3,
      key: 0,
    });
    expect((unchecked as MigrationCheckError).fixtures).toEqual({ notes: [{ id: 0, title: 0 }] });
  });
});
