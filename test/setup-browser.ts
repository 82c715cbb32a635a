import { beforeEach } from 'vitest';

// Each test's databases have names of their own (test/helpers.ts); this only keeps the profile from filling up.
// A deletion blocked by a connection some failing test left open is not waited for: it completes when that closes.
beforeEach(async () => {
  for (const { name } of await indexedDB.databases()) {
    // The election tests share their database with a worker, under a name of their own, and delete it themselves.
    if (name === undefined || name.startsWith('election-')) continue;
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.deleteDatabase(name);
      request.onsuccess = () => resolve();
      request.onerror = () => reject(request.error);
      request.onblocked = () => resolve();
    });
  }
});
