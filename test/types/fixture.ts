// A typed plan shared by the type tests: validators give the record types, the layouts give keys and indexes.
import { z } from 'zod';
import { definePlan, renameField } from '../../src/index.js';

export const NoteV1 = z.object({ id: z.number(), name: z.string() });
export const NoteV2 = z.object({ id: z.number(), title: z.string(), tags: z.array(z.string()) });
export type NoteV1 = z.infer<typeof NoteV1>;
export type NoteV2 = z.infer<typeof NoteV2>;

export const v1 = {
  version: 1,
  stores: { notes: { keyPath: 'id' }, drafts: { keyPath: 'id' }, settings: {} },
  validators: { notes: NoteV1 },
} as const;

export const plan = definePlan({
  versions: [
    v1,
    {
      version: 2,
      stores: {
        notes: { keyPath: 'id', indexes: { byTitle: 'title', byTag: { keyPath: 'tags', multiEntry: true } } },
        settings: {},
        counters: { keyPath: 'n', autoIncrement: true },
        pairs: { keyPath: ['a', 'b'] },
      },
      validators: { notes: NoteV2 },
      steps: [renameField('notes', 'name', 'title')],
    },
  ],
});
