// A dedicated worker upgrading a Dexie database under protectUpgrade while the page tries the same (see
// protect.browser.test.ts). Its snapshot is slow (a storage whose first write waits), and it tells the page once
// the snapshot runs: the page then arrives between the worker's snapshot and its upgrade.
import {
  dexieOpen,
  memorySnapshotStorage,
  protectUpgrade,
  type SnapshotStorage,
  snapshotPolicy,
} from '../../src/index.js';
import { friendsDexie, type ProtectWorkerMessage } from './protect-app.js';

const post = (message: ProtectWorkerMessage): void => postMessage(message);

function slowStorage(): SnapshotStorage {
  const memory = memorySnapshotStorage();
  return {
    ...memory,
    create: async (name) => {
      const sink = await memory.create(name);
      post({ type: 'snapshotting' });
      await new Promise((resolve) => setTimeout(resolve, 500));
      return sink;
    },
  };
}

addEventListener('message', async (event: MessageEvent<{ name: string }>) => {
  const db = friendsDexie(event.data.name, 2);
  try {
    const result = await protectUpgrade(dexieOpen(db), { snapshots: snapshotPolicy({ storage: slowStorage() }) });
    post({ type: 'opened', oldVersion: result.oldVersion, version: result.version, backup: result.backup.status });
    db.close();
  } catch (error) {
    post({ type: 'failed', code: String((error as { code?: unknown }).code) });
  }
});
