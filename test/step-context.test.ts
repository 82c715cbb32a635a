import { IDBKeyRange as FakeIDBKeyRange } from 'fake-indexeddb';
import { describe, expect, test } from 'vitest';
import { definePlan, openDatabase } from '../src/index.js';
import { fakeEnvironment, seedDatabase } from './helpers.js';

// A key range class of its own, so that identity shows which one a step got: the injected one, not the global.
class InjectedKeyRange extends (FakeIDBKeyRange as unknown as typeof IDBKeyRange) {}

/** Runs `fn` with the global IDBKeyRange removed, so that nothing can fall back on it unnoticed. */
async function withoutGlobalKeyRange<T>(fn: () => Promise<T>): Promise<T> {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'IDBKeyRange');
  delete (globalThis as { IDBKeyRange?: unknown }).IDBKeyRange;
  try {
    return await fn();
  } finally {
    if (saved !== undefined) Object.defineProperty(globalThis, 'IDBKeyRange', saved);
  }
}

describe('StepContext.IDBKeyRange', () => {
  test('steps and the seed get the key range class the open was given', async () => {
    const seen: unknown[] = [];
    const counted: number[] = [];
    const items = { items: { keyPath: 'id' } } as const;
    const p = definePlan({
      versions: [
        { version: 1, stores: items },
        {
          version: 2,
          stores: items,
          steps: [
            {
              name: 'count a range',
              stores: ['items'],
              run: async (ctx) => {
                seen.push(ctx.IDBKeyRange);
                counted.push(await ctx.store('items').count(ctx.IDBKeyRange.bound(2, 4)));
              },
            },
          ],
        },
      ],
      seed: {
        name: 'seed',
        stores: ['items'],
        run: (ctx) => {
          seen.push(ctx.IDBKeyRange);
        },
      },
    });
    const { options } = fakeEnvironment();
    const injected = { ...options, IDBKeyRange: InjectedKeyRange };
    await seedDatabase('db', p, 1, { items: [1, 2, 3, 4, 5].map((id) => ({ id })) }, injected);
    expect(seen).toEqual([InjectedKeyRange]); // the seed, on the fresh install at version 1
    seen.length = 0;
    await withoutGlobalKeyRange(async () => {
      const { db } = await openDatabase('db', p, injected);
      db.close();
    });
    expect(seen).toEqual([InjectedKeyRange]);
    expect(seen[0]).not.toBe(globalThis.IDBKeyRange);
    expect(counted).toEqual([3]);

    // A fresh install at the latest version runs the seed (and no steps) with the same class.
    seen.length = 0;
    await withoutGlobalKeyRange(async () => {
      const { db } = await openDatabase('fresh', p, injected);
      db.close();
    });
    expect(seen).toEqual([InjectedKeyRange]);
  });
});
