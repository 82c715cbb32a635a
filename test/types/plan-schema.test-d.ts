import type { DBSchema, IDBPDatabase } from 'idb';
import { describe, expectTypeOf, test } from 'vitest';
import { definePlan, type Plan, type PlanRecord, type PlanSchema, type PlanStoreName } from '../../src/index.js';
import { type NoteV1, type NoteV2, plan } from './fixture.js';

type Latest = PlanSchema<typeof plan>;
declare const db: IDBPDatabase<Latest>;

describe('PlanSchema', () => {
  test('is a DBSchema, for the latest version and for older ones', () => {
    expectTypeOf<Latest>().toExtend<DBSchema>();
    expectTypeOf<PlanSchema<typeof plan, 1>>().toExtend<DBSchema>();
  });

  test('has the stores of the version asked for, by their literal names', () => {
    expectTypeOf<PlanStoreName<typeof plan>>().toEqualTypeOf<'notes' | 'settings' | 'counters' | 'pairs'>();
    expectTypeOf<PlanStoreName<typeof plan, 1>>().toEqualTypeOf<'notes' | 'drafts' | 'settings'>();
  });

  test('values come from the validators; stores without one are untyped, not any', () => {
    expectTypeOf<Latest['notes']['value']>().toEqualTypeOf<NoteV2>();
    expectTypeOf<PlanSchema<typeof plan, 1>['notes']['value']>().toEqualTypeOf<NoteV1>();
    expectTypeOf<PlanRecord<typeof plan, 'notes'>>().toEqualTypeOf<NoteV2>();
    expectTypeOf<Latest['counters']['value']>().toEqualTypeOf<Record<string, unknown>>();
    expectTypeOf<Latest['settings']['value']>().toEqualTypeOf<unknown>();
  });

  test('keys come from the key path, the key generator, or any key for out-of-line stores', () => {
    expectTypeOf<Latest['notes']['key']>().toEqualTypeOf<number>();
    expectTypeOf<Latest['counters']['key']>().toEqualTypeOf<number>();
    expectTypeOf<Latest['pairs']['key']>().toEqualTypeOf<[IDBValidKey, IDBValidKey]>();
    expectTypeOf<Latest['settings']['key']>().toEqualTypeOf<IDBValidKey>();
  });

  test('indexes by name, multiEntry indexes keyed by the array elements', () => {
    expectTypeOf<Latest['notes']['indexes']>().toEqualTypeOf<{ byTitle: string; byTag: string }>();
  });

  test('Overrides gives a record type the plan does not know', () => {
    type Settings = { theme: 'dark' | 'light' };
    expectTypeOf<PlanSchema<typeof plan, 2, { settings: Settings }>['settings']['value']>().toEqualTypeOf<Settings>();
  });

  test("typed get, put and index queries through idb's wrap", async () => {
    expectTypeOf(await db.get('notes', 1)).toEqualTypeOf<NoteV2 | undefined>();
    expectTypeOf(await db.getFromIndex('notes', 'byTag', 'work')).toEqualTypeOf<NoteV2 | undefined>();
    await db.put('notes', { id: 1, title: 't', tags: [] });
    // @ts-expect-error: no such store at the latest version
    await db.get('nope', 1);
    // @ts-expect-error: drafts was dropped in version 2
    await db.get('drafts', 1);
    // @ts-expect-error: notes are keyed by a number
    await db.get('notes', 'one');
    // @ts-expect-error: no such index
    await db.getFromIndex('notes', 'byName', 'x');
    // @ts-expect-error: the version 1 shape is not a version 2 note
    await db.put('notes', { id: 1, name: 'old' });
  });

  test('a plan built from plain values stays untyped and accepted everywhere', () => {
    const loose = definePlan({ versions: [] as { version: number; stores: Record<string, { keyPath?: string }> }[] });
    expectTypeOf(loose).toExtend<Plan>();
    expectTypeOf(plan).toExtend<Plan>();
  });
});
