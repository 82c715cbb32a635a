// The "Typed plans" example of the README, kept compiling (and its "does not compile" claims true).
import { type IDBPDatabase, wrap } from 'idb';
import { expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import {
  definePlan,
  openDatabase,
  type PlanSchema,
  renameField,
  snapshotPolicy,
  updateRecords,
} from '../../src/index.js';

const NoteV1 = z.object({ id: z.number(), name: z.string() });
const NoteV2 = z.object({ id: z.number(), title: z.string(), tags: z.array(z.string()) });

const plan = definePlan({
  versions: [
    { version: 1, stores: { notes: { keyPath: 'id' } }, validators: { notes: NoteV1 } },
    {
      version: 2,
      stores: { notes: { keyPath: 'id', indexes: { byTag: { keyPath: 'tags', multiEntry: true } } } },
      validators: { notes: NoteV2 },
      steps: [
        updateRecords<z.infer<typeof NoteV1>, z.infer<typeof NoteV2>>(
          'notes',
          ({ name, ...note }) => ({ ...note, title: name, tags: [] }),
          { name: 'name -> title, tags' },
        ),
        // @ts-expect-error: version 2 (and 1) have no store "nots"
        renameField('nots', 'name', 'title'),
        {
          name: 'tag the first note',
          stores: ['notes'],
          run: async (ctx) => {
            const note = await ctx.store('notes').get(1);
            expectTypeOf(note).toEqualTypeOf<z.infer<typeof NoteV2> | undefined>();
            // @ts-expect-error: no store "nope"
            ctx.store('nope');
            if (note) await ctx.store('notes').put({ ...note, tags: ['first'] });
          },
        },
      ],
    },
  ],
});

test('the README example', () => {
  async function use() {
    const { db } = await openDatabase('app', plan, { snapshots: snapshotPolicy() });
    const typed = wrap(db) as IDBPDatabase<PlanSchema<typeof plan>>;
    expectTypeOf(await typed.getFromIndex('notes', 'byTag', 'work')).toEqualTypeOf<
      z.infer<typeof NoteV2> | undefined
    >();
    // @ts-expect-error: no store "nope"
    await typed.get('nope', 1);
  }
  expectTypeOf(use).toBeFunction();
});
