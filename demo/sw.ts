// Service Worker entry (registered as a module worker from /sw.ts): runs the demo migration with openDatabase
// inside the service worker and reports back over the MessagePort the page sends along with the request.
import { runMigration, type MigrateRequest } from './shared.js';

// The DOM lib has no service worker types; these are the few members used here.
interface ExtendableMessageEvent extends MessageEvent<MigrateRequest> {
  waitUntil(promise: Promise<unknown>): void;
}
interface ServiceWorkerScope {
  addEventListener(
    type: 'install' | 'activate',
    listener: (event: { waitUntil(promise: Promise<unknown>): void }) => void,
  ): void;
  addEventListener(type: 'message', listener: (event: ExtendableMessageEvent) => void): void;
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void> };
}

const sw = self as unknown as ServiceWorkerScope;

sw.addEventListener('install', (event) => event.waitUntil(sw.skipWaiting()));
sw.addEventListener('activate', (event) => event.waitUntil(sw.clients.claim()));
sw.addEventListener('message', (event) => {
  const port = event.ports[0];
  if (event.data?.type !== 'migrate' || port === undefined) return;
  // waitUntil keeps the service worker alive until the migration has settled.
  event.waitUntil(runMigration(event.data, 'service worker', (message) => port.postMessage(message)));
});
