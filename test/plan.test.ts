import { describe, expect, test } from 'vitest';
import {
  definePlan,
  isIdbEvolveError,
  openDatabase,
  OptionsError,
  PlanError,
  rebuildStore,
  renameStore,
  type PlanDefinition,
  type StandardSchemaV1,
  type Step,
  type VersionDefinition,
} from '../src/index.js';
import { fakeEnvironment } from './helpers.js';

/** Runs `define`, which must throw a PlanError; returns it after checking what every PlanError has. */
function planError(define: () => unknown): PlanError {
  let thrown: unknown;
  try {
    define();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(PlanError);
  const error = thrown as PlanError;
  expect(error.name).toBe('PlanError');
  expect(isIdbEvolveError(error)).toBe(true);
  return error;
}

/** definePlan over versions; casts let tests pass values the types forbid. */
const define = (...versions: unknown[]) => definePlan({ versions: versions as VersionDefinition[] });

/** A step that uses `stores` and does nothing. */
const noop = (name: string, stores: string[] = ['notes']): Step => ({ name, stores, run: () => {} });

const notes = { notes: { keyPath: 'id' } };
const v1 = { version: 1, stores: notes };

describe('definePlan rejects versions', () => {
  test('an empty version list', () => {
    const error = planError(() => definePlan({ versions: [] }));
    expect(error.code).toBe('invalid_plan');
    expect(error.version).toBeUndefined();
  });

  test('a definition without a versions array', () => {
    expect(planError(() => definePlan({} as PlanDefinition)).code).toBe('invalid_plan');
    expect(planError(() => definePlan(null as unknown as PlanDefinition)).code).toBe('invalid_plan');
  });

  test.each([
    ['a fraction', 1.5],
    ['zero', 0],
    ['a negative number', -2],
    ['Infinity', Infinity],
    ['an unsafe integer', 2 ** 53],
  ])('%s as version', (_label, version) => {
    const error = planError(() => define({ version, stores: notes }));
    expect(error.code).toBe('invalid_version');
    expect(error.version).toBe(version);
  });

  test('NaN as version', () => {
    const error = planError(() => define(v1, { version: NaN, stores: notes }));
    expect(error.code).toBe('invalid_version');
    expect(Number.isNaN(error.version)).toBe(true);
  });

  test.each([
    ['a string', '2'],
    ['undefined', undefined],
    ['null', null],
  ])('%s as version (no version in the context)', (_label, version) => {
    const error = planError(() => define(v1, { version, stores: notes }));
    expect(error.code).toBe('invalid_version');
    expect(error.version).toBeUndefined();
  });

  test('a version declared twice', () => {
    const error = planError(() => define(v1, { version: 2, stores: notes }, { version: 2, stores: notes }));
    expect(error.code).toBe('duplicate_version');
    expect(error.version).toBe(2);
  });

  test('versions out of order', () => {
    const error = planError(() => define(v1, { version: 3, stores: notes }, { version: 2, stores: notes }));
    expect(error.code).toBe('version_order');
    expect(error.version).toBe(2);
  });
});

describe('definePlan rejects layouts', () => {
  test.each([['a..b'], ['1x'], ['a-b'], ['.a'], ['a.'], ['a b'], [[]], [['ok', 'bad path']], [[1]], [42]])(
    'store key path %j',
    (keyPath) => {
      const error = planError(() => define(v1, { version: 2, stores: { notes: { keyPath: 'id' }, bad: { keyPath } } }));
      expect(error.code).toBe('invalid_key_path');
      expect(error.version).toBe(2);
      expect(error.store).toBe('bad');
    },
  );

  test.each([[''], ['a'], ['a.b.c'], ['$x_1'], ['été'], [['a', 'b.c']], [null], [undefined]])(
    'accepts store key path %j',
    (keyPath) => {
      const plan = define({ version: 1, stores: { s: keyPath === undefined ? {} : { keyPath } } });
      expect(plan.get(1)?.layout.s?.keyPath).toEqual(keyPath ?? null);
    },
  );

  test.each([[''], [['a', 'b']]])('autoIncrement with key path %j', (keyPath) => {
    const error = planError(() => define({ version: 1, stores: { s: { keyPath, autoIncrement: true } } }));
    expect(error.code).toBe('invalid_key_path');
    expect(error.version).toBe(1);
    expect(error.store).toBe('s');
  });

  test('accepts autoIncrement with an out-of-line or single key path', () => {
    const plan = define({
      version: 1,
      stores: { a: { autoIncrement: true }, b: { keyPath: 'x.y', autoIncrement: true } },
    });
    expect(plan.get(1)?.layout).toEqual({
      a: { keyPath: null, autoIncrement: true, indexes: {} },
      b: { keyPath: 'x.y', autoIncrement: true, indexes: {} },
    });
  });

  test.each([[''], ['a..b'], ['1x'], ['a-b'], [[]], [['ok', 'bad path']], [{ keyPath: 'a-b' }], [{ keyPath: '' }]])(
    'index key path %j',
    (declaration) => {
      const error = planError(() =>
        define({ version: 1, stores: { s: { keyPath: 'id', indexes: { byX: declaration } } } }),
      );
      expect(error.code).toBe('invalid_key_path');
      expect(error.version).toBe(1);
      expect(error.store).toBe('s');
      expect(error.message).toContain('byX');
    },
  );

  test('an index declaration that is neither a key path nor an object', () => {
    const error = planError(() => define({ version: 1, stores: { s: { indexes: { byX: 7 } } } }));
    expect(error.code).toBe('invalid_index');
    expect(error.store).toBe('s');
  });

  test('multiEntry with an array index key path', () => {
    const error = planError(() =>
      define({
        version: 1,
        stores: { s: { keyPath: 'id', indexes: { byAB: { keyPath: ['a', 'b'], multiEntry: true } } } },
      }),
    );
    expect(error.code).toBe('invalid_index');
    expect(error.version).toBe(1);
    expect(error.store).toBe('s');
  });

  test('a store that is not an object', () => {
    const error = planError(() => define({ version: 1, stores: { s: 'id' } }));
    expect(error.code).toBe('invalid_store');
    expect(error.store).toBe('s');
  });
});

describe('definePlan rejects steps', () => {
  test('in the first version', () => {
    const error = planError(() => define({ version: 1, stores: notes, steps: [noop('early')] }));
    expect(error.code).toBe('invalid_step');
    expect(error.version).toBe(1);
  });

  test.each([
    ['no name', { stores: ['notes'], run: () => {} }, undefined],
    ['an empty name', { name: '', stores: ['notes'], run: () => {} }, undefined],
    ['no run', { name: 's', stores: ['notes'] }, 's'],
    ['a run that is not a function', { name: 's', stores: ['notes'], run: 'go' }, 's'],
    ['no stores', { name: 's', run: () => {} }, 's'],
    ['stores that are not strings', { name: 's', stores: ['notes', 3], run: () => {} }, 's'],
    ['stores as a string', { name: 's', stores: 'notes', run: () => {} }, 's'],
  ])('with %s', (_label, step, name) => {
    const error = planError(() => define(v1, { version: 2, stores: notes, steps: [noop('first'), step] }));
    expect(error.code).toBe('invalid_step');
    expect(error.version).toBe(2);
    expect(error.stepIndex).toBe(1);
    expect(error.step).toBe(name);
  });

  test('that are not objects', () => {
    const error = planError(() => define(v1, { version: 2, stores: notes, steps: [null] }));
    expect(error.code).toBe('invalid_step');
    expect(error.stepIndex).toBe(0);
  });

  test('sharing a name within a version', () => {
    const error = planError(() =>
      define(v1, { version: 2, stores: notes, steps: [noop('same'), noop('other'), noop('same')] }),
    );
    expect(error.code).toBe('invalid_step');
    expect(error.version).toBe(2);
    expect(error.step).toBe('same');
    expect(error.stepIndex).toBe(2);
  });

  test('accepts the same step name in different versions', () => {
    const plan = define(
      v1,
      { version: 2, stores: notes, steps: [noop('same')] },
      { version: 3, stores: notes, steps: [noop('same')] },
    );
    expect(plan.get(3)?.steps.map((s) => s.name)).toEqual(['same']);
  });

  test('naming a store absent at that version', () => {
    const error = planError(() =>
      define(v1, { version: 2, stores: notes, steps: [noop('ok'), noop('uses ghost', ['notes', 'ghost'])] }),
    );
    expect(error.code).toBe('unknown_store');
    expect(error.version).toBe(2);
    expect(error.step).toBe('uses ghost');
    expect(error.stepIndex).toBe(1);
    expect(error.store).toBe('ghost');
  });

  test('naming a store created only in a later version', () => {
    const error = planError(() =>
      define(
        v1,
        { version: 2, stores: notes, steps: [noop('early', ['tags'])] },
        { version: 3, stores: { ...notes, tags: {} } },
      ),
    );
    expect(error.code).toBe('unknown_store');
    expect(error.version).toBe(2);
    expect(error.store).toBe('tags');
  });

  test('accepts a store that this version deletes (present only in the previous version)', () => {
    const plan = define(
      { version: 1, stores: { ...notes, old: {} } },
      { version: 2, stores: notes, steps: [noop('read old', ['old', 'notes'])] },
    );
    expect(plan.get(2)?.layout).not.toHaveProperty('old');
    expect(plan.get(2)?.steps[0]?.stores).toEqual(['old', 'notes']);
  });

  test('a seed naming a store the latest version lacks', () => {
    const error = planError(() => definePlan({ versions: [v1], seed: noop('seed', ['ghost']) }));
    expect(error.code).toBe('unknown_store');
    expect(error.store).toBe('ghost');
    expect(error.step).toBe('seed');
  });
});

describe('definePlan checks structure steps', () => {
  const two = { version: 1, stores: { a: { keyPath: 'id' }, b: { keyPath: 'id' } } };

  test('renameStore from a store that does not exist', () => {
    const error = planError(() => define(v1, { version: 2, stores: { c: {} }, steps: [renameStore('missing', 'c')] }));
    expect(error.code).toBe('unknown_store');
    expect(error.version).toBe(2);
    expect(error.step).toBe('renameStore(missing -> c)');
    expect(error.stepIndex).toBe(0);
    expect(error.store).toBe('missing');
  });

  test('renameStore to a name that already exists', () => {
    const error = planError(() =>
      define(two, { version: 2, stores: { b: { keyPath: 'id' } }, steps: [renameStore('a', 'b')] }),
    );
    expect(error.code).toBe('unknown_store');
    expect(error.store).toBe('b');
    expect(error.step).toBe('renameStore(a -> b)');
  });

  test('renameStore to a name the version does not declare', () => {
    const error = planError(() =>
      define(two, { version: 2, stores: { b: { keyPath: 'id' } }, steps: [renameStore('a', 'c', { name: 'move' })] }),
    );
    expect(error.code).toBe('unknown_store');
    expect(error.store).toBe('c');
    expect(error.step).toBe('move');
  });

  test('accepts chained renames and a name freed by a rename', () => {
    const plan = define(two, {
      version: 2,
      stores: { b: { keyPath: 'id' }, c: { keyPath: 'id' } },
      steps: [renameStore('b', 'c'), renameStore('a', 'b')],
    });
    expect(Object.keys(plan.get(2)!.layout).sort()).toEqual(['b', 'c']);
  });

  test('rebuildStore of a store absent before the version', () => {
    const error = planError(() =>
      define(v1, { version: 2, stores: { ...notes, fresh: {} }, steps: [rebuildStore('fresh')] }),
    );
    expect(error.code).toBe('unknown_store');
    expect(error.store).toBe('fresh');
    expect(error.step).toBe('rebuildStore(fresh)');
  });

  test('rebuildStore of a store absent after the version', () => {
    const error = planError(() =>
      define(two, { version: 2, stores: { b: { keyPath: 'id' } }, steps: [rebuildStore('a')] }),
    );
    expect(error.code).toBe('unknown_store');
    expect(error.store).toBe('a');
  });

  test('a keyPath change without rebuildStore', () => {
    const error = planError(() => define(v1, { version: 2, stores: { notes: { keyPath: 'uuid' } } }));
    expect(error.code).toBe('key_path_changed');
    expect(error.version).toBe(2);
    expect(error.store).toBe('notes');
  });

  test('an inline to out-of-line change without rebuildStore', () => {
    const error = planError(() => define(v1, { version: 2, stores: { notes: {} } }));
    expect(error.code).toBe('key_path_changed');
    expect(error.store).toBe('notes');
  });

  test('an autoIncrement change without rebuildStore', () => {
    const error = planError(() =>
      define(v1, { version: 2, stores: { notes: { keyPath: 'id', autoIncrement: true } } }),
    );
    expect(error.code).toBe('key_path_changed');
    expect(error.store).toBe('notes');
  });

  test('a keyPath change of a renamed store without rebuildStore', () => {
    const error = planError(() =>
      define(v1, { version: 2, stores: { memos: { keyPath: 'uuid' } }, steps: [renameStore('notes', 'memos')] }),
    );
    expect(error.code).toBe('key_path_changed');
    expect(error.store).toBe('memos');
  });

  test('accepts key changes with rebuildStore, and index changes without', () => {
    const plan = define(
      { version: 1, stores: { notes: { keyPath: 'id', indexes: { a: 'a' } } } },
      { version: 2, stores: { notes: { keyPath: 'id', indexes: { a: { keyPath: 'b', unique: true } } } } },
      { version: 3, stores: { notes: { keyPath: 'uuid', autoIncrement: true } }, steps: [rebuildStore('notes')] },
    );
    expect(plan.get(3)?.layout.notes).toEqual({ keyPath: 'uuid', autoIncrement: true, indexes: {} });
    expect(plan.get(3)?.steps[0]?.structure).toEqual({ kind: 'rebuild-store', store: 'notes', transform: undefined });
  });
});

describe('definePlan checks validators', () => {
  const schema: StandardSchemaV1 = { '~standard': { version: 1, vendor: 'test', validate: (value) => ({ value }) } };

  test('for a store the version does not declare', () => {
    const error = planError(() =>
      define(v1, { version: 2, stores: notes, validators: { notes: schema, ghost: schema } }),
    );
    expect(error.code).toBe('unknown_store');
    expect(error.version).toBe(2);
    expect(error.store).toBe('ghost');
  });

  test.each([
    ['a plain object', {}],
    ['a function', () => true],
    ['null', null],
    ['Standard Schema version 2', { '~standard': { version: 2, vendor: 'x', validate: () => ({ value: 1 }) } }],
    ['no validate function', { '~standard': { version: 1, vendor: 'x' } }],
  ])('that are not Standard Schema: %s', (_label, validator) => {
    const error = planError(() => define(v1, { version: 2, stores: notes, validators: { notes: validator } }));
    expect(error.code).toBe('invalid_validator');
    expect(error.version).toBe(2);
    expect(error.store).toBe('notes');
  });

  test('accepts a Standard Schema validator and keeps it by store', () => {
    const plan = define(v1, { version: 2, stores: notes, validators: { notes: schema } });
    expect(plan.get(2)?.validators.notes).toBe(schema);
    expect(plan.get(1)?.validators).toEqual({});
  });
});

describe('openDatabase target version', () => {
  test('rejects version 5, which the plan does not declare, before touching the database', async () => {
    const { factory, options } = fakeEnvironment();
    const plan = define(v1, { version: 2, stores: notes });
    const error = await openDatabase('db', plan, { ...options, version: 5 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PlanError);
    expect(error).toMatchObject({ name: 'PlanError', code: 'invalid_target_version', version: 5 });
    expect(await factory.databases()).toEqual([]);
  });

  // Not a version number at all: refused with the other options, before the plan is consulted.
  test.each([[0], [1.5], [Number.NaN]])(
    'rejects version %j as an OptionsError before touching the database',
    async (version) => {
      const { factory, options } = fakeEnvironment();
      const plan = define(v1, { version: 2, stores: notes });
      const error = await openDatabase('db', plan, { ...options, version }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(OptionsError);
      expect(error).toMatchObject({ name: 'OptionsError', code: 'invalid_options', option: 'version' });
      expect(await factory.databases()).toEqual([]);
    },
  );
});

describe('a valid plan', () => {
  const declared: VersionDefinition[] = [
    { version: 1, stores: { notes: { keyPath: ['a', 'b'], indexes: { byTitle: 'title' } } } },
    {
      version: 4,
      description: 'tags',
      stores: {
        notes: { keyPath: ['a', 'b'], indexes: { byTitle: 'title', byTag: { keyPath: 'tags', multiEntry: true } } },
        tags: {},
      },
      steps: [noop('touch')],
    },
  ];

  test('keeps versions, latest and get()', () => {
    const plan = definePlan({ versions: declared });
    expect(plan.latest).toBe(4);
    expect(plan.versions.map((v) => v.version)).toEqual([1, 4]);
    expect(plan.get(4)).toBe(plan.versions[1]);
    expect(plan.get(1)?.description).toBeUndefined();
    expect(plan.get(4)?.description).toBe('tags');
    expect(plan.get(2)).toBeUndefined();
    expect(plan.get(4)?.steps.map((s) => s.name)).toEqual(['touch']);
    expect(plan.seed).toBeUndefined();
  });

  test('normalizes layouts with every default filled in', () => {
    const plan = definePlan({ versions: declared });
    expect(plan.get(4)?.layout).toEqual({
      notes: {
        keyPath: ['a', 'b'],
        autoIncrement: false,
        indexes: {
          byTitle: { keyPath: 'title', unique: false, multiEntry: false },
          byTag: { keyPath: 'tags', unique: false, multiEntry: true },
        },
      },
      tags: { keyPath: null, autoIncrement: false, indexes: {} },
    });
  });

  test('is frozen all the way down', () => {
    const plan = definePlan({ versions: declared });
    const v4 = plan.get(4)!;
    for (const part of [
      plan,
      plan.versions,
      v4,
      v4.layout,
      v4.layout.notes,
      v4.layout.notes!.indexes,
      v4.layout.notes!.indexes.byTag,
      v4.layout.notes!.keyPath,
      v4.steps,
      v4.validators,
    ]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    expect(() => {
      (plan as { latest: number }).latest = 9;
    }).toThrow(TypeError);
  });

  test('does not follow later changes to the declaration', () => {
    const keyPath = ['a', 'b'];
    const stores = { notes: { keyPath } };
    const plan = define({ version: 1, stores });
    keyPath.push('c');
    (stores as Record<string, unknown>).extra = {};
    expect(plan.get(1)?.layout).toEqual({ notes: { keyPath: ['a', 'b'], autoIncrement: false, indexes: {} } });
  });
});
