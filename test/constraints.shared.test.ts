import { describe, expect, test } from 'vitest';
import {
  copyStore,
  definePlan,
  dryRun,
  rebuildStore,
  restoreSnapshot,
  snapshotDatabase,
  updateRecords,
  type UpgradeError,
  type DatabaseLayout,
  type Plan,
  type Step,
} from '../src/index.js';
import { dump, fakeEnvironment, plan, seedDatabase, upgradeMustFail } from './helpers.js';

// Constraint failures name what collided: the store, the unique index, its key path, the shared index key and the
// records holding it, or the primary key an add found taken. The database is always left exactly as it was.

const plain: DatabaseLayout = { notes: { keyPath: 'id' } };
const uniqueSlug: DatabaseLayout = { notes: { keyPath: 'id', indexes: { bySlug: { keyPath: 'slug', unique: true } } } };
const notes = (...slugs: unknown[]) => slugs.map((slug, i) => ({ id: i + 1, slug }));

/** The engine's own error stays the cause. */
function expectCause(error: UpgradeError): void {
  expect((error.cause as Error | undefined)?.name).toBe('ConstraintError');
}

describe('a unique index built over existing records', () => {
  test('names the store, index, key path, duplicated key and the two records', async () => {
    const p = plan({ version: 1, stores: plain }, { version: 2, stores: uniqueSlug });
    const error = await upgradeMustFail(p, { notes: notes('a', 'b', 'c', 'b') });
    expect(error).toMatchObject({
      name: 'UpgradeError',
      code: 'constraint_violation',
      version: 2,
      store: 'notes',
      index: 'bySlug',
      keyPath: 'slug',
      indexKey: 'b',
      primaryKeys: [2, 4],
      key: 4,
    });
    expect(error.message).toBe(
      'Unique index "notes.bySlug" (keyPath "slug") would hold the key "b" twice: records 2 and 4 (version 2, store "notes", key 4)',
    );
    expectCause(error);
  });

  test('in a later pending version, over the records as the earlier versions left them', async () => {
    const p = definePlan({
      versions: [
        { version: 1, stores: plain },
        {
          version: 2,
          stores: plain,
          steps: [updateRecords('notes', (n: { id: number }) => ({ ...n, slug: n.id % 3 }), { name: 'slugs' })],
        },
        { version: 3, stores: uniqueSlug },
      ],
    });
    // Installed at version 1 there is no duplicate: version 2 makes 1 and 4 share slug 1.
    const error = await upgradeMustFail(p, { notes: notes('w', 'x', 'y', 'z') });
    expect(error).toMatchObject({ version: 3, index: 'bySlug', indexKey: 1, primaryKeys: [1, 4] });
  });

  test('an index recreated as unique, a compound key path and a multiEntry index', async () => {
    const nonUnique: DatabaseLayout = { notes: { keyPath: 'id', indexes: { bySlug: 'slug' } } };
    const recreated = await upgradeMustFail(
      plan({ version: 1, stores: nonUnique }, { version: 2, stores: uniqueSlug }),
      {
        notes: notes('a', 'a'),
      },
    );
    expect(recreated).toMatchObject({ index: 'bySlug', indexKey: 'a', primaryKeys: [1, 2] });

    const compound: DatabaseLayout = {
      notes: { keyPath: 'id', indexes: { byPair: { keyPath: ['a', 'b'], unique: true } } },
    };
    const pairs = [
      { id: 1, a: 1, b: 2 },
      { id: 2, a: 1, b: 3 },
      { id: 3, a: 1, b: 2 },
    ];
    const pair = await upgradeMustFail(plan({ version: 1, stores: plain }, { version: 2, stores: compound }), {
      notes: pairs,
    });
    expect(pair).toMatchObject({ index: 'byPair', keyPath: ['a', 'b'], indexKey: [1, 2], primaryKeys: [1, 3] });

    const tags: DatabaseLayout = {
      notes: { keyPath: 'id', indexes: { byTag: { keyPath: 'tags', unique: true, multiEntry: true } } },
    };
    // A record repeating its own tag is fine (entries are distinct per record); two records sharing one are not.
    const tagged = [
      { id: 1, tags: ['x', 'x'] },
      { id: 2, tags: ['y', 'z'] },
      { id: 3, tags: ['q', 'z'] },
    ];
    const multi = await upgradeMustFail(plan({ version: 1, stores: plain }, { version: 2, stores: tags }), {
      notes: tagged,
    });
    expect(multi).toMatchObject({ index: 'byTag', indexKey: 'z', primaryKeys: [2, 3] });
  });

  test('records without a valid index key are not in the index, and do not collide', async () => {
    const { factory, options } = fakeEnvironment();
    const p = plan({ version: 1, stores: plain }, { version: 2, stores: uniqueSlug });
    await seedDatabase(
      'db',
      p,
      1,
      { notes: [{ id: 1 }, { id: 2 }, { id: 3, slug: null }, { id: 4, slug: null }] },
      options,
    );
    const report = await dryRun('db', p, options);
    expect(report.versions[0]?.indexesCreated).toEqual(['notes.bySlug']);
    expect((await dump(factory, 'db')).version).toBe(1);
  });

  test('a dry run names the duplicate the same way', async () => {
    const { factory, options } = fakeEnvironment();
    const p = plan({ version: 1, stores: plain }, { version: 2, stores: uniqueSlug });
    await seedDatabase('db', p, 1, { notes: notes('a', 'a') }, options);
    const before = await dump(factory, 'db');
    const error = await dryRun('db', p, options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'constraint_violation', index: 'bySlug', indexKey: 'a', primaryKeys: [1, 2] });
    expect(await dump(factory, 'db')).toEqual(before);
  });

  test('a restore through a newer plan names the duplicate too, and restores nothing', async () => {
    const { factory, storage, options } = fakeEnvironment();
    const p1 = plan({ version: 1, stores: plain });
    const p2 = plan({ version: 1, stores: plain }, { version: 2, stores: uniqueSlug });
    await seedDatabase('db', p1, 1, { notes: notes('a', 'b', 'a') }, options);
    const snapshot = await snapshotDatabase('db', { ...options, storage });
    const error = await rejection(
      restoreSnapshot('copy', snapshot.id, { ...options, storage, plan: p2, allowOtherDatabase: true }),
    );
    expect(error).toMatchObject({ name: 'SnapshotError', code: 'restore_failed' });
    expect((error as Error).message).toBe(
      'Restoring "copy" failed and was rolled back: Unique index "notes.bySlug" (keyPath "slug") would hold the key "a" twice: records 1 and 3 (version 2, store "notes", key 3)',
    );
    const cause = (error as { cause: UpgradeError }).cause;
    expect(cause).toMatchObject({ code: 'constraint_violation', index: 'bySlug', indexKey: 'a', primaryKeys: [1, 3] });
    expectCause(cause);
    expect(await dump(factory, 'copy')).toEqual({ version: 0, stores: {} });
  });
});

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('a step writing into a unique index or onto a taken key', () => {
  const v2 = (steps: Step[], stores: DatabaseLayout = uniqueSlug): Plan =>
    plan({ version: 1, stores: uniqueSlug }, { version: 2, stores, steps });

  test('a walk giving two records the same slug names both records and the step', async () => {
    const error = await upgradeMustFail(
      v2([
        updateRecords('notes', (n: { id: number }) => ({ ...n, slug: n.id >= 2 ? 'same' : 'one' }), { name: 'slug' }),
      ]),
      { notes: notes('a', 'b', 'c') },
    );
    expect(error).toMatchObject({
      code: 'constraint_violation',
      version: 2,
      step: 'slug',
      stepIndex: 0,
      store: 'notes',
      index: 'bySlug',
      keyPath: 'slug',
      indexKey: 'same',
      primaryKeys: [2, 3],
      key: 3,
    });
    expectCause(error);
  });

  test('a put colliding with an existing record, caught by the step: the step sees the explained error', async () => {
    let caught: unknown;
    const step: Step = {
      name: 'put',
      stores: ['notes'],
      run: async (ctx) => {
        try {
          await ctx.store('notes').put({ id: 9, slug: 'b' });
        } catch (e) {
          caught = e;
        }
      },
    };
    const error = await upgradeMustFail(v2([step]), { notes: notes('a', 'b') });
    expect(error).toMatchObject({ step: 'put', index: 'bySlug', indexKey: 'b', primaryKeys: [2, 9], key: 9 });
    expect(caught).toBe(error);
  });

  test('an add onto a taken primary key names the key, no index', async () => {
    const step: Step = {
      name: 'add',
      stores: ['notes'],
      run: async (ctx) => void (await ctx.store('notes').add({ id: 2, slug: 'new' })),
    };
    const error = await upgradeMustFail(v2([step]), { notes: notes('a', 'b') });
    expect(error).toMatchObject({
      code: 'constraint_violation',
      step: 'add',
      store: 'notes',
      key: 2,
      index: undefined,
    });
    expect(error.message).toMatch(/^A record with this primary key is already in "notes": add never overwrites/);
    expectCause(error);
  });

  test('rebuildStore giving two records the same new key names that key', async () => {
    const rekeyed: DatabaseLayout = { notes: { keyPath: 'slug' } };
    const error = await upgradeMustFail(
      plan({ version: 1, stores: plain }, { version: 2, stores: rekeyed, steps: [rebuildStore('notes')] }),
      { notes: notes('a', 'b', 'a') },
    );
    expect(error).toMatchObject({
      code: 'constraint_violation',
      step: 'rebuildStore(notes)',
      store: 'notes',
      key: 'a',
    });
  });

  test('copyStore adds that break a unique index of the target name the index and both records', async () => {
    const p = plan(
      { version: 1, stores: plain },
      {
        version: 2,
        stores: { ...plain, copies: uniqueSlug.notes! },
        steps: [copyStore('notes', 'copies')],
      },
    );
    const error = await upgradeMustFail(p, { notes: notes('a', 'b', 'a') });
    expect(error).toMatchObject({
      step: 'copyStore(notes -> copies)',
      store: 'copies',
      index: 'bySlug',
      indexKey: 'a',
      primaryKeys: [1, 3],
      key: 3,
    });
  });
});
