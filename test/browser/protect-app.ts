// The Dexie app the protect browser tests run in a page and a worker at once.
import Dexie from 'dexie';

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Synchronous work inside the upgrader: it cannot let the transaction commit.
  }
}

/** The app at `release` 1 (IndexedDB 10) or 2 (20: every friend gets an email, slowly); `onUpgrade` when it runs. */
export function friendsDexie(name: string, release: 1 | 2, onUpgrade: () => void = () => {}): Dexie {
  const db = new Dexie(name);
  db.version(1).stores({ friends: '++id, name' });
  if (release === 2) {
    db.version(2)
      .stores({ friends: '++id, name, email' })
      .upgrade((tx) => {
        onUpgrade();
        return tx
          .table('friends')
          .toCollection()
          .modify((friend: { name: string; email?: string }) => {
            busy(0.5);
            friend.email = `${friend.name}@example.org`;
          });
      });
  }
  return db;
}

/** What the worker posts back: that its snapshot is being written, then how its protected open ended. */
export type ProtectWorkerMessage =
  | { readonly type: 'snapshotting' }
  | { readonly type: 'opened'; readonly oldVersion: number; readonly version: number; readonly backup: string }
  | { readonly type: 'failed'; readonly code: string };
