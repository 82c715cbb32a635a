// The page the bfcache test navigates to: opens the demo database (no version, no upgrade) and shows how long the
// open took. `window.awayOpen` is what the e2e test waits for.
import { DEFAULT_DB } from './plan.js';

interface AwayOpen {
  readonly version: number;
  readonly ms: number;
  readonly error?: string;
}

declare global {
  interface Window {
    awayOpen?: AwayOpen;
  }
}

const name = new URLSearchParams(location.search).get('db') ?? DEFAULT_DB;
const status = document.getElementById('away-status')!;
const started = performance.now();
const request = indexedDB.open(name);
// Never create the database from here.
request.onupgradeneeded = () => request.transaction?.abort();
request.onsuccess = () => {
  const db = request.result;
  window.awayOpen = { version: db.version, ms: Math.round(performance.now() - started) };
  status.textContent = `Opened "${name}" at version ${db.version} in ${window.awayOpen.ms} ms.`;
  db.close();
};
request.onerror = (event) => {
  event.preventDefault();
  window.awayOpen = { version: 0, ms: Math.round(performance.now() - started), error: request.error?.name ?? 'error' };
  status.textContent = `Open failed after ${window.awayOpen.ms} ms: ${window.awayOpen.error}`;
};
