import { describe, expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import {
  convertField,
  copyStore,
  defaultValue,
  definePlan,
  dropField,
  rebuildStore,
  remove,
  renameField,
  renameStore,
  type Step,
  type StepContext,
  unchanged,
  updateRecords,
} from '../../src/index.js';
import { type NoteV1, NoteV1 as NoteV1Schema, type NoteV2, NoteV2 as NoteV2Schema, v1 } from './fixture.js';

const v2Stores = { notes: { keyPath: 'id' }, settings: {}, archive: { keyPath: 'id' } } as const;

describe('store names in a version', () => {
  test('helpers take the stores of their version, or of the one before', () => {
    definePlan({
      versions: [
        v1,
        {
          version: 2,
          stores: v2Stores,
          steps: [
            renameField('notes', 'name', 'title'),
            dropField('notes', 'name'),
            convertField('notes', 'id', (id: number) => id * 2),
            defaultValue('notes', 'tags', []),
            updateRecords('notes', (note) => note, { name: 'touch' }),
            copyStore('drafts', 'archive'),
            rebuildStore('notes'),
          ],
        },
      ],
    });
    definePlan({
      versions: [
        v1,
        { version: 2, stores: { notes: v1.stores.notes, kept: {} }, steps: [renameStore('settings', 'kept')] },
      ],
    });
  });

  test('a typo in a helper is a compile error', () => {
    definePlan({
      versions: [
        v1,
        {
          version: 2,
          stores: v2Stores,
          steps: [
            // @ts-expect-error: "nots" is not a store of version 2 (nor 1)
            renameField('nots', 'name', 'title'),
            // @ts-expect-error: "setings" is not a store
            dropField('setings', 'x'),
            // @ts-expect-error: the visitor's store is misspelled
            updateRecords('note', (note) => note, { name: 'touch' }),
            // @ts-expect-error: copy target misspelled
            copyStore('drafts', 'archve'),
            // @ts-expect-error: rename source misspelled
            renameStore('draft', 'archive'),
            // @ts-expect-error: rebuild of a store that does not exist
            rebuildStore('nope'),
          ],
        },
      ],
    });
  });

  test('a typo is found next to plain steps and inline ones too', () => {
    const plain: Step = { name: 'plain', stores: ['notes'], run: () => {} };
    definePlan({
      versions: [
        v1,
        {
          version: 2,
          stores: v2Stores,
          steps: [
            plain,
            { name: 'inline', stores: ['notes'], run: () => {} },
            // @ts-expect-error: still "nots", though a plain Step (which fits any version) sits in the same array
            renameField('nots', 'name', 'title'),
          ],
        },
      ],
    });
  });

  test('ctx.store only knows the version’s stores, typed from its validators', () => {
    definePlan({
      versions: [
        v1,
        {
          version: 2,
          stores: v2Stores,
          validators: { notes: NoteV2Schema },
          steps: [
            {
              name: 'inline',
              stores: ['notes', 'drafts'],
              run: async (ctx) => {
                expectTypeOf(ctx).toExtend<StepContext>();
                expectTypeOf(await ctx.store('notes').get(1)).toEqualTypeOf<NoteV2 | undefined>();
                // drafts is dropped by version 2 but still readable while its steps run
                expectTypeOf(await ctx.store('drafts').get(1)).toEqualTypeOf<Record<string, unknown> | undefined>();
                // @ts-expect-error: "nope" is not a store of this version
                ctx.store('nope');
                // @ts-expect-error: a record without the validator's fields
                await ctx.store('notes').put({ id: 1, name: 'old' });
                await ctx.store('notes').walk((note) => {
                  expectTypeOf(note).toEqualTypeOf<NoteV2>();
                  // @ts-expect-error: not a field of the version's notes
                  note.name;
                  return unchanged;
                });
                expectTypeOf(ctx.IDBKeyRange).toEqualTypeOf<typeof IDBKeyRange>();
              },
            },
          ],
        },
      ],
      seed: {
        name: 'seed',
        stores: ['notes'],
        run: async (ctx) => {
          await ctx.store('notes').put({ id: 1, title: 'welcome', tags: [] });
          // @ts-expect-error: the seed runs at the latest version, which has no drafts
          ctx.store('drafts');
        },
      },
    });
  });
});

describe('record types before and after a step', () => {
  test('updateRecords<From, To> types a shape-changing visitor without any', () => {
    const step = updateRecords<NoteV1, NoteV2>(
      'notes',
      (note) => {
        expectTypeOf(note).toEqualTypeOf<NoteV1>();
        return { id: note.id, title: note.name, tags: [] };
      },
      { name: 'v1 to v2' },
    );
    expectTypeOf(step).toExtend<Step>();
    updateRecords<NoteV1, NoteV2>(
      'notes',
      // @ts-expect-error: the visitor returns a version 1 record where a version 2 one is due
      (note) => note,
      { name: 'wrong' },
    );
  });

  test('an annotated visitor is checked against the version’s validator', () => {
    definePlan({
      versions: [
        v1,
        {
          version: 2,
          stores: v2Stores,
          validators: { notes: NoteV2Schema },
          steps: [
            updateRecords('notes', (n: NoteV1): NoteV2 => ({ id: n.id, title: n.name, tags: [] }), { name: 'ok' }),
            // @ts-expect-error: writes a record the version 2 validator rejects (title is a string)
            updateRecords('notes', (n: NoteV1) => ({ id: n.id, title: 5, tags: [] }), { name: 'bad' }),
            updateRecords('notes', (n: NoteV1) => (n.id < 0 ? remove : unchanged), { name: 'prune' }),
          ],
        },
      ],
    });
  });

  test('unannotated visitors get untyped records, not any', () => {
    updateRecords(
      'notes',
      (note) => {
        expectTypeOf(note).toEqualTypeOf<Record<string, unknown>>();
        return note;
      },
      { name: 'plain' },
    );
    copyStore('a', 'b', (value, key) => {
      expectTypeOf(value).toEqualTypeOf<Record<string, unknown>>();
      expectTypeOf(key).toEqualTypeOf<IDBValidKey>();
      return value;
    });
  });

  test('field helpers check field names when the record types are given', () => {
    renameField<NoteV1, NoteV2>('notes', 'name', 'title');
    // @ts-expect-error: NoteV1 has no "nam"
    renameField<NoteV1, NoteV2>('notes', 'nam', 'title');
    // @ts-expect-error: NoteV2 has no "titel"
    renameField<NoteV1, NoteV2>('notes', 'name', 'titel');
    dropField<NoteV1>('notes', 'name');
    // @ts-expect-error: NoteV1 has no "body"
    dropField<NoteV1>('notes', 'body');
    defaultValue<NoteV2>('notes', 'tags', []);
    convertField<number, string, NoteV1>('notes', 'id', (id, record) => `${id}:${record.name}`);
    // @ts-expect-error: the converter takes the field's declared type
    convertField<number, string>('notes', 'id', (id: string) => id);
    rebuildStore<NoteV1, NoteV2 & { uuid: string }>('notes', (note) => ({
      id: note.id,
      title: note.name,
      tags: [],
      uuid: String(note.id),
    }));
    // @ts-expect-error: the rebuild transform must give the new shape
    rebuildStore<NoteV1, NoteV2>('notes', (note) => note);
  });

  test('steps written on their own stay plain Steps, usable in any version', () => {
    const steps: Step[] = [renameField('notes', 'name', 'title'), updateRecords('x', (r) => r, { name: 'x' })];
    definePlan({ versions: [v1, { version: 2, stores: v2Stores, steps }] });
    const zodOnly = z.object({ id: z.number() });
    definePlan({ versions: [{ version: 1, stores: { a: { keyPath: 'id' } }, validators: { a: zodOnly } }] });
    expectTypeOf(NoteV1Schema).not.toBeAny();
  });
});
