import { beforeEach } from 'vitest';

// The shared suites name their databases 'db', 'src', ...: in a real browser every test starts from none.
beforeEach(async () => {
  for (const { name } of await indexedDB.databases()) {
    if (name === undefined) continue;
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.deleteDatabase(name);
      request.onsuccess = () => resolve();
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error(`A previous test left a connection to "${name}" open`));
    });
  }
});
