// The types of the "Protect an app on another library" recipes: what the open resolved with comes back typed.
import Dexie from 'dexie';
import { type IDBPDatabase, openDB } from 'idb';
import localforage from 'localforage';
import { expectTypeOf, test } from 'vitest';
import {
  dexieOpen,
  localForageOpen,
  type ProtectedOpen,
  ProtectedOpenError,
  protectUpgrade,
  isIdbEvolveError,
} from '../../src/index.js';

test('opened is what the library opened', async () => {
  const db = new Dexie('app') as Dexie & { notes: Dexie.Table<{ id: number }, number> };
  expectTypeOf(protectUpgrade(dexieOpen(db))).resolves.toEqualTypeOf<ProtectedOpen<typeof db>>();
  const idb = protectUpgrade({ name: 'app', version: 2, open: () => openDB('app', 2) });
  expectTypeOf(idb).resolves.toHaveProperty('opened').toEqualTypeOf<IDBPDatabase<unknown>>();
  const lf = protectUpgrade(localForageOpen(localforage));
  expectTypeOf(lf).resolves.toHaveProperty('opened').toEqualTypeOf<LocalForage>();
});

test('track keeps the callback type; a target needs a name, a version and an open', () => {
  void protectUpgrade({
    name: 'app',
    version: (installed) => installed.version + 1,
    open: ({ track }) => {
      const upgrade = track((db: IDBPDatabase, oldVersion: number) => {
        if (oldVersion < 1) db.createObjectStore('notes');
      });
      expectTypeOf(upgrade).toEqualTypeOf<(db: IDBPDatabase, oldVersion: number) => void>();
      return openDB('app', 1, { upgrade });
    },
  });
  // @ts-expect-error: no version
  void protectUpgrade({ name: 'app', open: () => openDB('app') });
});

test('the error narrows by class and by code', (error: unknown) => {
  if (error instanceof ProtectedOpenError) {
    expectTypeOf(error.code).toEqualTypeOf<'protected_open_failed' | 'protected_upgrade_failed'>();
    expectTypeOf(error.restore).returns.resolves.toHaveProperty('version').toEqualTypeOf<number>();
  }
  if (isIdbEvolveError(error)) expectTypeOf(error.name).toBeString();
});

test('isIdbEvolveError narrows to ProtectedOpenError by name, across realms', (error: unknown) => {
  if (isIdbEvolveError(error, 'ProtectedOpenError')) expectTypeOf(error.committed).toBeBoolean();
  if (isIdbEvolveError(error) && error.code === 'protected_upgrade_failed') {
    expectTypeOf(error).toEqualTypeOf<ProtectedOpenError>();
  }
});
