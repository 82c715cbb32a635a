import { expect, test } from 'vitest';
import { renameField } from '../src/index.js';
import { dump, fakeEnvironment, openAndClose, plan, seedDatabase } from './helpers.js';

test('smoke', async () => {
  const { factory, options } = fakeEnvironment();
  const p = plan(
    { version: 1, stores: { notes: { keyPath: 'id' } } },
    {
      version: 2,
      stores: { notes: { keyPath: 'id', indexes: { byTitle: 'title' } } },
      steps: [renameField('notes', 'name', 'title')],
    },
  );
  await seedDatabase(
    'db',
    p,
    1,
    {
      notes: [
        { id: 1, name: 'a' },
        { id: 2, name: 'b' },
      ],
    },
    options,
  );
  const report = await openAndClose('db', p, options);
  expect(report?.versions[0]?.steps[0]?.updated).toBe(2);
  const d = await dump(factory, 'db');
  expect(d.version).toBe(2);
  expect(d.stores.notes?.records).toEqual([
    [1, { id: 1, title: 'a' }],
    [2, { id: 2, title: 'b' }],
  ]);
});
