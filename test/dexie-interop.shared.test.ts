import Dexie from 'dexie';
import { expect, test } from 'vitest';
import { restoreSnapshot, snapshotDatabase, verifySnapshot } from '../src/index.js';
import { dump, expectSameBlob, fakeEnvironment } from './helpers.js';

interface Friend {
  id?: number;
  name: string;
  tags: string[];
  born: Date;
}

// Dexie keeps its own conventions (version x10, compound and multiEntry indexes, auto-incremented keys): a snapshot
// by name, without a plan, must carry all of it, and Dexie must read the restored database as its own.
test('a Dexie database is snapshotted by name and restored into a copy Dexie reads as its own', async () => {
  const { factory, storage, options } = fakeEnvironment();
  const dexieOptions = { indexedDB: factory, IDBKeyRange: options.IDBKeyRange };
  const original = new Dexie('friends', dexieOptions) as Dexie & {
    friends: Dexie.Table<Friend, number>;
    settings: Dexie.Table<unknown, string>;
  };
  original.version(3).stores({ friends: '++id, name, *tags, [name+born]', settings: '' });
  await original.friends.bulkAdd([
    { name: 'Ada', tags: ['math', 'code'], born: new Date(1815, 11, 10) },
    { name: 'Grace', tags: ['code'], born: new Date(1906, 11, 9) },
  ]);
  const blob = new Blob([new Uint8Array([0, 1, 2, 253, 254, 255])], { type: 'application/x-settings' });
  await original.table('settings').put({ theme: 'dark', blob }, 'ui');
  original.close();

  const snapshot = await snapshotDatabase('friends', { ...dexieOptions, storage });
  expect(await verifySnapshot(snapshot.id, { storage })).toMatchObject({
    version: 30,
    counts: { friends: 2, settings: 1 },
  });
  await restoreSnapshot('friends-copy', snapshot.id, { ...dexieOptions, storage, allowOtherDatabase: true });
  const [before, after] = [await dump(factory, 'friends'), await dump(factory, 'friends-copy')];
  expect(after).toEqual(before);
  // dump() shows each Blob with its type, size and bytes, so the toEqual above compared them; and they are the ones
  // written.
  expect(before.stores.settings?.records[0]?.[1]).toEqual({
    theme: 'dark',
    blob: { blob: 'application/x-settings', size: 6, bytes: [0, 1, 2, 253, 254, 255] },
  });
  const copy0 = new Dexie('friends-copy', dexieOptions);
  copy0.version(3).stores({ friends: '++id, name, *tags, [name+born]', settings: '' });
  await expectSameBlob(((await copy0.table('settings').get('ui')) as { blob: Blob }).blob, blob);
  copy0.close();

  const copy = new Dexie('friends-copy', dexieOptions) as Dexie & { friends: Dexie.Table<Friend, number> };
  copy.version(3).stores({ friends: '++id, name, *tags, [name+born]', settings: '' });
  expect((await copy.friends.where('tags').equals('code').toArray()).map((f) => f.name)).toEqual(['Ada', 'Grace']);
  expect(await copy.friends.add({ name: 'Linus', tags: [], born: new Date(1969, 11, 28) })).toBe(3);
  expect((await copy.friends.get(1))?.born).toEqual(new Date(1815, 11, 10));
  copy.close();
});
