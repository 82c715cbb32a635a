import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { definePlan, rebuildStore, renameField, renameStore, type Step } from '../src/index.js';
import { describePlan } from '../src/tooling/index.js';

const noop = (name: string, stores: string[]): Step => ({ name, stores, run: () => {} });

/** Four versions touching every kind of change describePlan reports. */
const plan = definePlan({
  versions: [
    {
      version: 1,
      description: 'First release.',
      stores: {
        notes: { keyPath: 'id', indexes: { byTitle: 'title', byTag: { keyPath: 'tags', multiEntry: true } } },
        log: { autoIncrement: true },
        pairs: { keyPath: ['a', 'b'] },
      },
    },
    {
      version: 2,
      stores: {
        memos: { keyPath: 'id', indexes: { byTitle: { keyPath: 'title', unique: true }, byDay: ['day', 'hour'] } },
        pairs: { keyPath: ['a', 'b'] },
        tags: { keyPath: 'name', indexes: { byParent: 'parent' } },
      },
      steps: [
        renameStore('notes', 'memos'),
        renameField('memos', 'name', 'title'),
        noop('fill tags', ['memos', 'tags']),
      ],
      validators: { memos: z.object({ id: z.number() }) },
      down: { memos: (value) => value, tags: () => undefined },
    },
    {
      version: 3,
      description: 'Memos get UUID keys.\n\nSee issue 12.',
      stores: {
        memos: { keyPath: 'uuid', autoIncrement: false, indexes: { byTitle: { keyPath: 'title', unique: true } } },
        pairs: { keyPath: ['a', 'b'] },
        tags: { keyPath: 'name', indexes: { byParent: 'parent' } },
      },
      steps: [rebuildStore('memos', (memo) => ({ ...memo, uuid: String(memo.id) }))],
      down: {},
    },
    {
      version: 4,
      stores: {
        memos: { keyPath: 'uuid', indexes: { byTitle: { keyPath: 'title', unique: true } } },
        pairs: { keyPath: ['a', 'b'] },
        tags: { keyPath: 'name', indexes: { byParent: 'parent' } },
      },
    },
  ],
  seed: noop('welcome memo', ['memos']),
});

const expected = `# Database plan

Versions: 1, 2, 3, 4 (latest 4).

Seed, on fresh installs only: \`welcome memo\`.

## Version 1

First release.

Stores:

- \`log\`: out-of-line keys, autoIncrement
- \`notes\`: keyPath \`id\`
  - index \`byTag\` on \`tags\`, multiEntry
  - index \`byTitle\` on \`title\`
- \`pairs\`: keyPath [\`a\`, \`b\`]

Validators: none.

Down transforms: none declared.

## Version 2

Layout changes:

- renamed store \`notes\` to \`memos\`
- added store \`tags\`: keyPath \`name\`
  - index \`byParent\` on \`parent\`
- removed store \`log\`
- added index \`memos.byDay\` on [\`day\`, \`hour\`]
- removed index \`memos.byTag\`
- changed index \`memos.byTitle\`: on \`title\` → on \`title\`, unique

Steps, in order:

1. \`renameStore(notes -> memos)\`: renames store \`notes\` to \`memos\`
2. \`renameField(memos: name -> title)\`: uses store \`memos\`
3. \`fill tags\`: uses stores \`memos\`, \`tags\`

Validators: \`memos\` (zod).

Down transforms: \`memos\`, \`tags\`.

## Version 3

Memos get UUID keys.

See issue 12.

Layout changes:

- rebuilt store \`memos\`: keyPath \`id\` → keyPath \`uuid\`
- removed index \`memos.byDay\`

Steps, in order:

1. \`rebuildStore(memos)\`: rebuilds store \`memos\` through a transform

Validators: none.

Down transforms: declared, no store needs one.

## Version 4

Layout: unchanged.

Steps: none.

Validators: none.

Down transforms: none declared.
`;

describe('describePlan', () => {
  test('describes every version: layout, changes, renames, rebuilds, steps, validators and down transforms', () => {
    expect(describePlan(plan)).toBe(expected);
  });

  test('sorts stores and indexes, so declaration order does not change the output', () => {
    const reordered = definePlan({
      versions: [
        {
          version: 1,
          stores: { b: { keyPath: 'id', indexes: { z: 'z', a: 'a' } }, a: {} },
        },
        { version: 2, stores: { c: {}, a: {}, b: { keyPath: 'id', indexes: { a: 'a', z: 'z', m: 'm' } } } },
      ],
    });
    const sorted = definePlan({
      versions: [
        { version: 1, stores: { a: {}, b: { keyPath: 'id', indexes: { a: 'a', z: 'z' } } } },
        { version: 2, stores: { a: {}, b: { keyPath: 'id', indexes: { a: 'a', m: 'm', z: 'z' } }, c: {} } },
      ],
    });
    expect(describePlan(reordered)).toBe(describePlan(sorted));
    expect(describePlan(sorted)).toBe(`# Database plan

Versions: 1, 2 (latest 2).

## Version 1

Stores:

- \`a\`: out-of-line keys
- \`b\`: keyPath \`id\`
  - index \`a\` on \`a\`
  - index \`z\` on \`z\`

Validators: none.

Down transforms: none declared.

## Version 2

Layout changes:

- added store \`c\`: out-of-line keys
- added index \`b.m\` on \`m\`

Steps: none.

Validators: none.

Down transforms: none declared.
`);
  });

  test('handles an empty first version, odd names, whole-value key paths and a rebuild that keeps its key', () => {
    const odd = definePlan({
      versions: [
        { version: 1, stores: {}, description: '   ' },
        {
          version: 5,
          stores: {
            'we`ird': { keyPath: '' },
            items: { keyPath: 'id', indexes: { all: { keyPath: 'tags', unique: true, multiEntry: true } } },
          },
        },
        {
          version: 6,
          stores: {
            'we`ird': { keyPath: '' },
            items: { keyPath: 'id', indexes: { all: { keyPath: 'tags', unique: true, multiEntry: true } } },
          },
          steps: [rebuildStore('items'), { name: 'no stores', stores: [], run: () => {} }],
        },
      ],
    });
    expect(describePlan(odd)).toBe(`# Database plan

Versions: 1, 5, 6 (latest 6).

## Version 1

Stores: none.

Validators: none.

Down transforms: none declared.

## Version 5

Layout changes:

- added store \`items\`: keyPath \`id\`
  - index \`all\` on \`tags\`, unique, multiEntry
- added store \`\` we\`ird \`\`: keyPath the value itself

Steps: none.

Validators: none.

Down transforms: none declared.

## Version 6

Layout changes:

- rebuilt store \`items\`: key unchanged (keyPath \`id\`)

Steps, in order:

1. \`rebuildStore(items)\`: rebuilds store \`items\`
2. \`no stores\`: uses no stores

Validators: none.

Down transforms: none declared.
`);
  });
});

describe('alternatives and the validation scope', () => {
  test('are described with the version', () => {
    const stores = { notes: { keyPath: 'id' } };
    const text = describePlan(
      definePlan({
        versions: [
          { version: 1, stores },
          {
            version: 2,
            stores,
            validators: { notes: z.object({ id: z.number() }) },
            validate: 'written',
            alternatives: [
              {
                name: 'kept legacy',
                stores: { notes: { keyPath: 'id', indexes: { legacy: 'old' } } },
                steps: [noop('fix', ['notes'])],
              },
            ],
          },
        ],
      }),
    );
    expect(text).toContain('Validators: `notes` (zod) (records its steps write only).');
    expect(text).toContain('Alternative layout `kept legacy`, accepted and brought to this one on the next upgrade:');
    expect(text).toContain('Its steps, in order:\n\n1. `fix`: uses store `notes`\n');
  });
});
