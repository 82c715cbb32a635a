/// <reference types="vite/client" />
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  convertField,
  definePlan,
  renameField,
  renameStore,
  type Plan,
  type StandardSchemaV1,
  type Step,
  type VersionDefinition,
} from '../src/index.js';
import { assertSchemaHistory, SchemaHistoryError } from '../src/testing/index.js';
import {
  checkSchemaHistory,
  describePlan,
  formatHistoryDifferences,
  historyFileName,
  runSchemaHistoryCommand,
  schemaHistory,
  schemaHistoryFiles,
  stepFingerprint,
  type HistoryFiles,
  type SchemaHistoryCommandIo,
} from '../src/tooling/index.js';
import { builtCopy, root } from './built-package.js';
import { committedPlan, committedVersions } from './fixtures/schema-history/committed-plan.js';

const code = (body: string): Step['run'] => new Function('ctx', body) as Step['run'];
const step = (name: string, stores: string[], body = ''): Step => ({ name, stores, run: code(body) });
const vendor = (name: string): StandardSchemaV1 => ({
  '~standard': { version: 1, vendor: name, validate: (value) => ({ value }) },
});

describe('stepFingerprint', () => {
  test('is FNV-1a 64 of the name, stores, structure and source text (vectors computed independently)', () => {
    expect(stepFingerprint({ name: 'x', stores: ['a'], run: code('return 1') })).toBe('fnv1a64:09242416dadaf25f');
    const rebuild: Step = {
      name: 'ünïcode ✓',
      stores: ['a', 'b'],
      run: code('return 1'),
      structure: {
        kind: 'rebuild-store',
        store: 'a',
        transform: new Function('value', 'return { ...value, uuid: String(value.id) }') as never,
      },
    };
    expect(stepFingerprint(rebuild)).toBe('fnv1a64:55265fa2b8c8e350');
  });

  test('changes with each part, formatting of the code included, and only with them', () => {
    const base = stepFingerprint(step('s', ['a'], 'return 1'));
    expect(stepFingerprint(step('s', ['a'], 'return 1'))).toBe(base);
    const variants = [
      step('t', ['a'], 'return 1'),
      step('s', ['a', 'b'], 'return 1'),
      step('s', ['a'], 'return 2'),
      step('s', ['a'], 'return  1'),
      step('s', ['a'], 'return 1 // why'),
      { ...step('s', ['a'], 'return 1'), structure: { kind: 'rename-store', from: 'x', to: 'a' } } satisfies Step,
      {
        ...step('s', ['a'], 'return 1'),
        structure: { kind: 'rebuild-store', store: 'a', transform: undefined },
      } satisfies Step,
    ];
    const fingerprints = variants.map(stepFingerprint);
    expect(new Set([base, ...fingerprints]).size).toBe(variants.length + 1);
    // A rebuild's transform counts too.
    const rebuildWith = (body: string): Step => ({
      ...step('s', ['a']),
      structure: { kind: 'rebuild-store', store: 'a', transform: new Function('value', body) as never },
    });
    expect(stepFingerprint(rebuildWith('return value'))).not.toBe(stepFingerprint(rebuildWith('return { ...value }')));
    // Helpers built from the same arguments give the same step.
    expect(stepFingerprint(renameField('n', 'a', 'b'))).toBe(stepFingerprint(renameField('n', 'a', 'b')));
  });
});

describe('schemaHistory and schemaHistoryFiles', () => {
  test('record layout (sorted), steps with structure and fingerprint, and validator vendors', () => {
    const plan = definePlan({
      versions: [
        {
          version: 1,
          stores: {
            old: { autoIncrement: true },
            b: { keyPath: ['x', 'y'], indexes: { z: 'z', a: { keyPath: 'tags', multiEntry: true } } },
          },
        },
        {
          version: 2,
          stores: {
            b: { keyPath: ['x', 'y'] },
            a: { autoIncrement: true, indexes: { u: { keyPath: 'u', unique: true } } },
          },
          steps: [renameStore('old', 'a'), step('fill', ['a', 'b'])],
          validators: { b: vendor('valibot'), a: vendor('zod') },
        },
      ],
    });
    const [first, second] = schemaHistory(plan);
    expect(JSON.stringify(first)).toBe(
      JSON.stringify({
        format: 'idb-evolve-schema-history',
        formatVersion: 1,
        version: 1,
        layout: {
          b: {
            keyPath: ['x', 'y'],
            autoIncrement: false,
            indexes: {
              a: { keyPath: 'tags', unique: false, multiEntry: true },
              z: { keyPath: 'z', unique: false, multiEntry: false },
            },
          },
          old: { keyPath: null, autoIncrement: true, indexes: {} },
        },
        steps: [],
        validators: {},
      }),
    );
    expect(second).toEqual({
      format: 'idb-evolve-schema-history',
      formatVersion: 1,
      version: 2,
      layout: {
        a: { keyPath: null, autoIncrement: true, indexes: { u: { keyPath: 'u', unique: true, multiEntry: false } } },
        b: { keyPath: ['x', 'y'], autoIncrement: false, indexes: {} },
      },
      steps: [
        {
          name: 'renameStore(old -> a)',
          stores: ['a'],
          structure: { kind: 'rename-store', from: 'old', to: 'a' },
          fingerprint: stepFingerprint(plan.versions[1]!.steps[0]!),
        },
        { name: 'fill', stores: ['a', 'b'], fingerprint: 'fnv1a64:d9c00407d2957973' },
      ],
      validators: { a: { vendor: 'zod' }, b: { vendor: 'valibot' } },
    });
    expect(Object.keys(second!.layout)).toEqual(['a', 'b']);
    expect(Object.keys(second!.validators)).toEqual(['a', 'b']);
  });

  test('write one file per version, named by version, as indented JSON', () => {
    const files = schemaHistoryFiles(
      definePlan({
        versions: [
          { version: 1, stores: { s: {} } },
          { version: 12, stores: {} },
        ],
      }),
    );
    expect(Object.keys(files)).toEqual(['v0001.json', 'v0012.json']);
    expect(files['v0012.json']).toBe(
      '{\n  "format": "idb-evolve-schema-history",\n  "formatVersion": 1,\n  "version": 12,\n  "layout": {},\n  "steps": [],\n  "validators": {}\n}\n',
    );
    expect(historyFileName(3)).toBe('v0003.json');
    expect(historyFileName(12345)).toBe('v12345.json');
  });
});

/** The committed-plan versions with `change` applied to version `version`. */
function edited(
  version: number,
  change: (definition: VersionDefinition) => VersionDefinition,
  versions = committedVersions,
): Plan {
  return definePlan({ versions: versions.map((v) => (v.version === version ? change(v) : v)) });
}

const recorded: HistoryFiles = schemaHistoryFiles(committedPlan);

describe('checkSchemaHistory', () => {
  test('passes when released versions are unchanged; later versions are unrecorded and free', () => {
    expect(checkSchemaHistory(committedPlan, recorded)).toEqual({
      ok: true,
      differences: [],
      recorded: [1, 2, 3],
      unrecorded: [],
    });
    const { 'v0003.json': _, ...twoReleased } = recorded;
    const changedLatest = edited(3, (v) => ({ ...v, stores: { ...v.stores, extra: {} } }));
    expect(checkSchemaHistory(changedLatest, twoReleased)).toEqual({
      ok: true,
      differences: [],
      recorded: [1, 2],
      unrecorded: [3],
    });
    expect(checkSchemaHistory(committedPlan, {})).toEqual({
      ok: true,
      differences: [],
      recorded: [],
      unrecorded: [1, 2, 3],
    });
  });

  test('compares data, not text: reformatted files, paths as names and unrelated files are fine', () => {
    const reformatted = Object.fromEntries(
      Object.entries(recorded).map(([name, text]) => {
        const entry = JSON.parse(text) as Record<string, unknown>;
        const reversed = Object.fromEntries(Object.entries(entry).reverse());
        return [`../schema-history/${name}`, JSON.stringify(reversed)];
      }),
    );
    expect(checkSchemaHistory(committedPlan, { ...reformatted, 'README.md': '# history', 'v1.json.bak': '{' }).ok).toBe(
      true,
    );
  });

  test('reports layout changes of a released version, property by property', () => {
    const plan = edited(3, (v) => ({
      ...v,
      stores: {
        notes: { keyPath: 'uuid', indexes: { byTitle: { keyPath: 'title', unique: true }, byDay: 'day' } },
        labels: {},
      },
    }));
    const result = checkSchemaHistory(plan, recorded);
    expect(result.ok).toBe(false);
    expect(result.differences).toEqual([
      {
        code: 'layout_changed',
        version: 3,
        file: 'v0003.json',
        path: 'layout.labels',
        recorded: undefined,
        planned: { keyPath: null, autoIncrement: false, indexes: {} },
        message: 'store "labels" added',
      },
      {
        code: 'layout_changed',
        version: 3,
        file: 'v0003.json',
        path: 'layout.notes.indexes.byDay',
        recorded: undefined,
        planned: { keyPath: 'day', unique: false, multiEntry: false },
        message: 'index "notes.byDay" added',
      },
      {
        code: 'layout_changed',
        version: 3,
        file: 'v0003.json',
        path: 'layout.notes.indexes.byTitle.unique',
        recorded: false,
        planned: true,
        message: 'index "notes.byTitle" unique: recorded false, plan true',
      },
      {
        code: 'layout_changed',
        version: 3,
        file: 'v0003.json',
        path: 'layout.tags',
        recorded: { keyPath: null, autoIncrement: true, indexes: {} },
        planned: undefined,
        message: 'store "tags" removed',
      },
    ]);
  });

  test('reports step changes: code, stores, names, added and removed steps', () => {
    const messages = (plan: Plan) =>
      checkSchemaHistory(plan, recorded).differences.map((d) => [d.code, d.path, d.message]);
    const fill = committedVersions[1]!.steps![0]!;
    const newCode = step('fill tags', ['notes', 'tags'], 'return ctx.store("tags").put({ name: "every" })');
    expect(messages(edited(2, (v) => ({ ...v, steps: [newCode] })))).toEqual([
      [
        'steps_changed',
        'steps[0].fingerprint',
        `step 1 "fill tags": code changed: recorded fingerprint fnv1a64:0161a9b78174d515, plan ${stepFingerprint(newCode)}`,
      ],
    ]);
    expect(messages(edited(2, (v) => ({ ...v, steps: [{ ...fill, stores: ['tags', 'notes'] }] })))).toEqual([
      ['steps_changed', 'steps[0].fingerprint', expect.stringMatching(/^step 1 "fill tags": code changed: /)],
      [
        'steps_changed',
        'steps[0].stores',
        'step 1 "fill tags" stores: recorded ["notes","tags"], plan ["tags","notes"]',
      ],
    ]);
    expect(messages(edited(2, (v) => ({ ...v, steps: [{ ...fill, name: 'fill labels' }] })))).toEqual([
      ['steps_changed', 'steps[0].name', 'step 1: recorded "fill tags", plan "fill labels"'],
    ]);
    expect(messages(edited(2, (v) => ({ ...v, steps: [fill, step('more', ['tags'])] })))).toEqual([
      ['steps_changed', 'steps[1]', 'step 2 "more" added'],
    ]);
    expect(messages(edited(2, (v) => ({ ...v, steps: [] })))).toEqual([
      ['steps_changed', 'steps[0]', 'step 1 "fill tags" removed'],
    ]);
    const rebuild = committedVersions[2]!.steps![0]!;
    expect(
      messages(
        edited(3, (v) => ({
          ...v,
          steps: [{ ...rebuild, structure: { kind: 'rebuild-store', store: 'notes', transform: undefined } }],
        })),
      ),
    ).toEqual([
      [
        'steps_changed',
        'steps[0].fingerprint',
        expect.stringMatching(
          /^step 1 "rebuild notes": code changed: recorded fingerprint fnv1a64:3f4b3c825f46952e, plan fnv1a64:[0-9a-f]{16}$/,
        ),
      ],
    ]);
  });

  test('reports validators added, removed or from another vendor', () => {
    const plan = edited(2, (v) => ({ ...v, validators: { notes: vendor('valibot'), tags: vendor('arktype') } }));
    expect(
      checkSchemaHistory(plan, recorded).differences.map((d) => [d.code, d.path, d.recorded, d.planned, d.message]),
    ).toEqual([
      [
        'validators_changed',
        'validators.notes.vendor',
        'zod',
        'valibot',
        'validator of store "notes": recorded "zod", plan "valibot"',
      ],
      ['validators_changed', 'validators.tags', undefined, { vendor: 'arktype' }, 'validator of store "tags" added'],
    ]);
    expect(
      checkSchemaHistory(
        edited(2, (v) => ({ ...v, validators: {} })),
        recorded,
      ).differences.map((d) => d.message),
    ).toEqual(['validator of store "notes" removed']);
  });

  test('reports released versions removed from the plan, and new versions inserted before released ones', () => {
    const twoVersions = definePlan({ versions: committedVersions.slice(0, 2) });
    expect(checkSchemaHistory(twoVersions, recorded).differences).toEqual([
      {
        code: 'version_removed',
        version: 3,
        file: 'v0003.json',
        path: '',
        recorded: JSON.parse(recorded['v0003.json']!),
        planned: undefined,
        message: 'version 3 was released but is no longer in the plan',
      },
    ]);
    // Versions renumbered: a new version 3 slipped in, and what was released as 3 is now 4.
    const renumbered = definePlan({
      versions: [
        ...committedVersions.slice(0, 2),
        { version: 3, stores: committedVersions[1]!.stores },
        { ...committedVersions[2]!, version: 4 },
      ],
    });
    const { 'v0003.json': v3, ...rest } = recorded;
    const history = { ...rest, 'v0004.json': v3!.replace('"version": 3', '"version": 4') };
    expect(
      checkSchemaHistory(renumbered, history).differences.map((d) => [d.code, d.version, d.file, d.message]),
    ).toEqual([
      [
        'version_inserted',
        3,
        'v0003.json',
        'version 3 is new but comes before released version 4: add new versions after the last released one',
      ],
    ]);
  });

  test('reports files that are not valid history files', () => {
    const files = {
      ...recorded,
      'v0004.json': '{ nope',
      'v0005.json': '{"format":"something-else"}',
      'v0006.json': '{"format":"idb-evolve-schema-history","formatVersion":2}',
      'v0007.json': recorded['v0003.json']!,
      'v0008.json': '{"format":"idb-evolve-schema-history","formatVersion":1,"version":8,"layout":{}}',
      'v3.json': recorded['v0003.json']!,
    };
    expect(checkSchemaHistory(committedPlan, files).differences.map((d) => [d.code, d.version, d.message])).toEqual([
      ['invalid_file', 3, 'v3.json records version 3, like v0003.json'],
      ['invalid_file', 4, expect.stringMatching(/^v0004\.json is not valid JSON \(.+\)$/)],
      ['invalid_file', 5, 'v0005.json is not a schema history file (no "format": "idb-evolve-schema-history")'],
      ['invalid_file', 6, 'v0006.json was written in format version 2, which this release does not read (it reads 1)'],
      ['invalid_file', 7, 'v0007.json records version 3, but its name says 7'],
      ['invalid_file', 8, 'v0008.json lacks "layout", "steps" or "validators"'],
    ]);
  });

  test('formatHistoryDifferences groups the differences by version, with what to do', () => {
    const plan = definePlan({
      versions: [
        committedVersions[0]!,
        {
          ...committedVersions[1]!,
          stores: {
            ...committedVersions[1]!.stores,
            notes: { keyPath: 'id', indexes: { byTitle: { keyPath: 'title', unique: true } } },
          },
          validators: {},
        },
      ],
    });
    expect(formatHistoryDifferences(checkSchemaHistory(plan, recorded).differences)).toBe(
      [
        'Released versions changed since their schema history was written (3 differences):',
        'version 2 (v0002.json)',
        '  - index "notes.byTitle" unique: recorded false, plan true',
        '  - validator of store "notes" removed',
        'version 3 (v0003.json)',
        '  - version 3 was released but is no longer in the plan',
        'A released version must not change: users who already upgraded past it would not get the change, and users who',
        'upgrade later would get a different database. Put the change in a new version. If it is intended (only formatting',
        'changed a fingerprint, say), rewrite the history with `idb-evolve-history write --force`.',
      ].join('\n'),
    );
    expect(formatHistoryDifferences([])).toBe('');
  });
});

describe('assertSchemaHistory with committed files read by import.meta.glob', () => {
  const committed = import.meta.glob<string>('./fixtures/schema-history/committed/*.json', {
    query: '?raw',
    import: 'default',
    eager: true,
  });

  test('passes for the plan the files were written from', () => {
    expect(Object.keys(committed)).toHaveLength(3);
    expect(() => assertSchemaHistory(committedPlan, committed)).not.toThrow();
  });

  test('throws a SchemaHistoryError with the readable diff when a released version changed', () => {
    const plan = edited(1, (v) => ({ ...v, stores: { notes: { keyPath: 'id', indexes: { byId: 'id' } } } }));
    let error: unknown;
    try {
      assertSchemaHistory(plan, committed);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(SchemaHistoryError);
    expect((error as SchemaHistoryError).differences.map((d) => d.path)).toEqual(['layout.notes.indexes.byId']);
    expect((error as Error).message.split('\n').slice(0, 3)).toEqual([
      'Released versions changed since their schema history was written (1 difference):',
      'version 1 (v0001.json)',
      '  - index "notes.byId" added',
    ]);
  });
});

/** The CLI's file access and output, in memory. */
function memoryIo(modules: Record<string, Record<string, unknown>>, dirs: Record<string, Record<string, string>> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: SchemaHistoryCommandIo = {
    importModule: async (specifier) => {
      const module = modules[specifier];
      if (module === undefined) throw new Error(`Cannot find module '${specifier}'`);
      return module;
    },
    listFiles: async (dir) => (dir in dirs ? Object.keys(dirs[dir]!) : undefined),
    readFile: async (dir, name) => dirs[dir]![name]!,
    writeFile: async (dir, name, text) => {
      (dirs[dir] ??= {})[name] = text;
    },
    deleteFile: async (dir, name) => {
      delete dirs[dir]![name];
    },
    out: (text) => out.push(text),
    err: (text) => err.push(text),
  };
  return { io, out, err, dirs };
}

describe('runSchemaHistoryCommand', () => {
  const modules = {
    'plan.js': { plan: committedPlan },
    'default.js': { default: committedPlan },
    'changed.js': { plan: edited(2, (v) => ({ ...v, validators: {} })) },
    'next.js': { plan: definePlan({ versions: [...committedVersions, { version: 4, stores: {} }] }) },
    'nothing.js': { versions: [] },
  };

  test.each([
    [[], 'missing command'],
    [['fix', 'plan.js', 'h'], 'unknown command "fix"'],
    [['check', 'plan.js'], '"check" takes a plan module and a directory'],
    [['write', 'plan.js', 'h', 'extra'], '"write" takes a plan module and a directory'],
    [['check', 'plan.js', 'h', '--force'], 'unknown option "--force" for "check"'],
    [['write', 'plan.js', 'h', '--dry'], 'unknown option "--dry" for "write"'],
    [['describe'], '"describe" takes a plan module'],
    [['describe', 'plan.js', 'h'], '"describe" takes a plan module'],
  ])('usage error for %j: exit 2 with the problem and the help', async (args, problem) => {
    const { io, out, err } = memoryIo(modules);
    expect(await runSchemaHistoryCommand(args, io)).toBe(2);
    expect(out).toEqual([]);
    expect(err).toHaveLength(1);
    expect(err[0]!.split('\n')[0]).toBe(`idb-evolve-history: ${problem}`);
    expect(err[0]).toContain(
      'Usage:\n  idb-evolve-history write <plan-module> <dir> [--force]\n  idb-evolve-history check <plan-module> <dir>',
    );
  });

  test('--help prints the help, which says Node 20 cannot import TypeScript', async () => {
    const { io, out, err } = memoryIo(modules);
    expect(await runSchemaHistoryCommand(['--help'], io)).toBe(0);
    expect(err).toEqual([]);
    expect(out[0]).toMatch(/^Usage:/);
    expect(out[0]).toContain('Node 20 cannot import TypeScript');
    expect(out[0]).toContain('Exit codes: 0 ok, 1 differences, 2 usage error.');
  });

  test('a plan module that cannot be imported or exports no plan is a usage error', async () => {
    const { io, err } = memoryIo(modules);
    expect(await runSchemaHistoryCommand(['check', 'plan.ts', 'h'], io)).toBe(2);
    expect(err.pop()).toBe(
      'idb-evolve-history: could not import the plan module "plan.ts": Cannot find module \'plan.ts\'\nNode 20 cannot import TypeScript: compile the plan module to JavaScript first.',
    );
    expect(await runSchemaHistoryCommand(['check', 'nothing.js', 'h'], io)).toBe(2);
    expect(err.pop()).toBe(
      'idb-evolve-history: "nothing.js" exports no plan: export the result of definePlan as "plan" or as the default export',
    );
  });

  test('describe prints the plan as Markdown', async () => {
    const { io, out, err } = memoryIo(modules);
    expect(await runSchemaHistoryCommand(['describe', 'default.js'], io)).toBe(0);
    expect(err).toEqual([]);
    expect(out).toEqual([describePlan(committedPlan)]);
    expect(out[0]).toMatch(/^# Database plan\n/);
  });

  test('check needs the directory to exist', async () => {
    const { io, err } = memoryIo(modules);
    expect(await runSchemaHistoryCommand(['check', 'plan.js', 'history'], io)).toBe(2);
    expect(err).toEqual([
      'idb-evolve-history: there is no schema history directory "history": create it with "idb-evolve-history write"',
    ]);
  });

  test('write records every version; check then passes, also with the plan as default export', async () => {
    const { io, out, dirs } = memoryIo(modules);
    expect(await runSchemaHistoryCommand(['write', 'plan.js', 'history'], io)).toBe(0);
    expect(out.pop()).toBe('Wrote v0001.json, v0002.json, v0003.json.');
    expect(dirs.history).toEqual(recorded);
    expect(await runSchemaHistoryCommand(['check', 'default.js', 'history'], io)).toBe(0);
    expect(out.pop()).toBe('Schema history matches the plan: 3 recorded versions.');
    expect(await runSchemaHistoryCommand(['write', 'plan.js', 'history'], io)).toBe(0);
    expect(out.pop()).toBe('Nothing to write; 3 files already up to date.');
  });

  test('write adds new versions and leaves reformatted files alone; check lists unrecorded versions', async () => {
    const reformatted = JSON.stringify(JSON.parse(recorded['v0001.json']!));
    const { io, out, dirs } = memoryIo(modules, { history: { ...recorded, 'v0001.json': reformatted } });
    expect(await runSchemaHistoryCommand(['check', 'next.js', 'history'], io)).toBe(0);
    expect(out.pop()).toBe(
      'Schema history matches the plan: 3 recorded versions; not recorded yet: 4 (run "write" when releasing).',
    );
    expect(await runSchemaHistoryCommand(['write', 'next.js', 'history'], io)).toBe(0);
    expect(out.pop()).toBe('Wrote v0004.json; 3 files already up to date.');
    expect(dirs.history!['v0001.json']).toBe(reformatted);
    expect(Object.keys(dirs.history!)).toEqual(['v0001.json', 'v0002.json', 'v0003.json', 'v0004.json']);
  });

  test('check exits 1 with the diff; write refuses; write --force makes the history match the plan', async () => {
    const { io, out, err, dirs } = memoryIo(modules, { history: { ...recorded, 'notes.txt': 'kept' } });
    expect(await runSchemaHistoryCommand(['check', 'changed.js', 'history'], io)).toBe(1);
    expect(err.pop()).toBe(
      formatHistoryDifferences(checkSchemaHistory(modules['changed.js'].plan, recorded).differences),
    );
    expect(await runSchemaHistoryCommand(['write', 'changed.js', 'history'], io)).toBe(1);
    expect(err.pop()).toMatch(/\n {2}- validator of store "notes" removed\n[\s\S]*\nNothing was written\.$/);
    expect(dirs.history!['v0002.json']).toBe(recorded['v0002.json']);

    // Version 3 dropped and version 2 changed: forced, the history follows the plan.
    const twoChanged = definePlan({ versions: [committedVersions[0]!, { ...committedVersions[1]!, validators: {} }] });
    const forced = memoryIo({ 'two.js': { plan: twoChanged } }, { history: { ...recorded, 'notes.txt': 'kept' } });
    expect(await runSchemaHistoryCommand(['write', 'two.js', 'history', '--force'], forced.io)).toBe(0);
    expect(forced.out.pop()).toBe('Wrote v0002.json; deleted v0003.json; 1 file already up to date.');
    expect(forced.dirs.history).toEqual({ ...schemaHistoryFiles(twoChanged), 'notes.txt': 'kept' });
    expect(await runSchemaHistoryCommand(['check', 'two.js', 'history'], forced.io)).toBe(0);
    expect(out).toEqual([]);
  });

  test('an error reading the directory is reported, exit 2', async () => {
    const { io, err } = memoryIo(modules, { history: recorded });
    const failing: SchemaHistoryCommandIo = {
      ...io,
      readFile: async () => Promise.reject(new Error('EACCES: permission denied')),
    };
    expect(await runSchemaHistoryCommand(['check', 'plan.js', 'history'], failing)).toBe(2);
    expect(err).toEqual(['idb-evolve-history: EACCES: permission denied']);
  });
});

/**
 * The real bin, spawned with Node on plain-JavaScript plans. Node 20 cannot import the TypeScript sources, so the
 * library is built (with the repository's vite.config.ts, so with its `cli` entry) into a temporary copy of
 * the layout the bin and the fixtures import from: dist/, bin/ and test/fixtures/schema-history/.
 */
// Each test spawns Node several times: slow on a loaded machine.
describe('the idb-evolve-history bin', { timeout: 30_000 }, () => {
  let copy: string;
  const fixtures = 'test/fixtures/schema-history';

  beforeAll(async () => {
    copy = await builtCopy('idb-evolve-history-', ['idb-evolve-history.mjs']);
    await mkdir(join(copy, fixtures), { recursive: true });
    for (const name of (await readdir(join(root, fixtures))).filter((n) => n.endsWith('.mjs'))) {
      await copyFile(join(root, fixtures, name), join(copy, fixtures, name));
    }
  }, 60_000);

  afterAll(async () => {
    if (copy !== undefined) await rm(copy, { recursive: true, force: true });
  });

  function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, ['bin/idb-evolve-history.mjs', ...args], {
      cwd: copy,
      encoding: 'utf8',
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  test('the build has the entries the bin and the fixtures import', async () => {
    expect((await readdir(join(copy, 'dist'))).filter((n) => n === 'index.js' || n === 'cli.js').sort()).toEqual([
      'cli.js',
      'index.js',
    ]);
  });

  test('usage errors exit 2', () => {
    const none = cli();
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^idb-evolve-history: missing command\n\nUsage:/);
    const ts = cli('check', `${fixtures}/plan.ts`, 'history');
    expect(ts.status).toBe(2);
    expect(ts.stderr).toContain('Node 20 cannot import TypeScript: compile the plan module to JavaScript first.');
    const notPlan = cli('check', `${fixtures}/not-a-plan.mjs`, 'history');
    expect(notPlan.status).toBe(2);
    expect(notPlan.stderr).toBe(
      `idb-evolve-history: "${fixtures}/not-a-plan.mjs" exports no plan: export the result of definePlan as "plan" or as the default export\n`,
    );
    expect(cli('check', `${fixtures}/plan.mjs`, 'missing').status).toBe(2);
  });

  test('write, check, a new release, and a changed released version', async () => {
    const write = cli('write', `${fixtures}/plan.mjs`, 'history');
    expect(write).toEqual({ status: 0, stdout: 'Wrote v0001.json, v0002.json, v0003.json.\n', stderr: '' });
    const v3 = JSON.parse(await readFile(join(copy, 'history/v0003.json'), 'utf8')) as Record<string, unknown>;
    expect(v3).toEqual({
      format: 'idb-evolve-schema-history',
      formatVersion: 1,
      version: 3,
      layout: {
        notes: {
          keyPath: 'id',
          autoIncrement: false,
          indexes: { byTitle: { keyPath: 'title', unique: false, multiEntry: false } },
        },
        tags: { keyPath: null, autoIncrement: false, indexes: {} },
      },
      steps: [
        {
          name: 'tag every note',
          stores: ['notes', 'tags'],
          fingerprint: expect.stringMatching(/^fnv1a64:[0-9a-f]{16}$/),
        },
      ],
      validators: {},
    });

    expect(cli('check', `${fixtures}/plan.mjs`, 'history')).toEqual({
      status: 0,
      stdout: 'Schema history matches the plan: 3 recorded versions.\n',
      stderr: '',
    });
    expect(cli('write', `${fixtures}/plan-next.mjs`, 'history')).toEqual({
      status: 0,
      stdout: 'Wrote v0004.json; 3 files already up to date.\n',
      stderr: '',
    });

    const changed = cli('check', `${fixtures}/plan-changed.mjs`, 'history');
    expect(changed.status).toBe(1);
    expect(changed.stdout).toBe('');
    expect(changed.stderr.split('\n').slice(0, 7)).toEqual([
      'Released versions changed since their schema history was written (4 differences):',
      'version 2 (v0002.json)',
      '  - index "notes.byTitle" unique: recorded false, plan true',
      'version 3 (v0003.json)',
      '  - index "notes.byTitle" unique: recorded false, plan true',
      expect.stringMatching(
        /^ {2}- step 1 "tag every note": code changed: recorded fingerprint fnv1a64:[0-9a-f]{16}, plan fnv1a64:[0-9a-f]{16}$/,
      ),
      'version 4 (v0004.json)',
    ]);

    expect(cli('write', `${fixtures}/plan-changed.mjs`, 'history').status).toBe(1);
    expect(cli('write', `${fixtures}/plan-changed.mjs`, 'history', '--force')).toEqual({
      status: 0,
      stdout: 'Wrote v0002.json, v0003.json; deleted v0004.json; 1 file already up to date.\n',
      stderr: '',
    });
    expect(cli('check', `${fixtures}/plan-changed.mjs`, 'history').status).toBe(0);
    expect((await readdir(join(copy, 'history'))).sort()).toEqual(['v0001.json', 'v0002.json', 'v0003.json']);
    await writeFile(join(copy, 'history/v0002.json'), '{}');
    expect(cli('check', `${fixtures}/plan-changed.mjs`, 'history').stderr).toContain(
      '  - v0002.json is not a schema history file',
    );
  });
});

describe('fingerprints of helper steps', () => {
  test('see the arguments and functions a helper closes over, which its run function does not show', () => {
    const name = { name: 'same name' };
    expect(stepFingerprint(renameField('notes', 'a', 'b', name))).not.toBe(
      stepFingerprint(renameField('notes', 'a', 'c', name)),
    );
    expect(stepFingerprint(convertField('notes', 'n', (v: number) => v * 2, name))).not.toBe(
      stepFingerprint(convertField('notes', 'n', (v: number) => v * 3, name)),
    );
    expect(stepFingerprint(convertField('notes', 'n', (v: number) => v * 2, name))).toBe(
      stepFingerprint(convertField('notes', 'n', (v: number) => v * 2, name)),
    );
  });
});
