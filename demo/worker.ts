// Dedicated Worker entry: runs the demo migration with openDatabase inside the worker (IndexedDB and OPFS are
// both available here) and reports every step back to the page with postMessage.
import { runMigration, type MigrateRequest } from './shared.js';

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<MigrateRequest>) => void) | null;
  postMessage(message: unknown): void;
};

scope.onmessage = (event) => {
  if (event.data?.type !== 'migrate') return;
  void runMigration(event.data, 'dedicated worker', (message) => scope.postMessage(message));
};
