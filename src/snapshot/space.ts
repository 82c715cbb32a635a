import { SnapshotError } from '../errors.js';
import { BlobCollector, encodeValue } from './codec.js';
import type { SnapshotCompression } from './compression.js';
import type { TransactionGuard } from '../idb/transaction-guard.js';

/** What the estimate reads: the stores of the guarded transaction and their record counts. */
export interface SpaceCheck {
  readonly guard: TransactionGuard;
  readonly database: string;
  readonly stores: readonly { readonly name: string; readonly count: number }[];
  readonly compression: SnapshotCompression;
}

// Records read per store to estimate a snapshot's size: enough for an average, too few to cost anything.
const SAMPLE = 100;
// The estimate extrapolates from the first records: leave room for the others being larger.
const MARGIN = 1.2;

/**
 * Refuses a snapshot that cannot fit before a byte is written, with `snapshot_quota` naming the bytes needed and
 * available, rather than failing at 90% (and leaving a temporary file to sweep). The size is estimated from each
 * store's record count and its first records, encoded (and compressed) as the writer will. Where the browser's
 * estimate means nothing (no Storage API; Chrome's quota is usage plus up to 10 GiB) the check cannot refuse, and
 * a full disk is still reported by the writer.
 */
export async function checkSpace(check: SpaceCheck): Promise<void> {
  const storage = (globalThis as { navigator?: { storage?: Partial<StorageManager> } }).navigator?.storage;
  if (typeof storage?.estimate !== 'function') return;
  const needed = await estimateBytes(check);
  const { quota, usage } = await check.guard.external(storage.estimate());
  if (needed === 0 || quota === undefined || usage === undefined) return;
  const available = Math.max(0, quota - usage);
  if (needed <= available) return;
  throw new SnapshotError(
    'snapshot_quota',
    `The snapshot of "${check.database}" needs about ${mib(needed)}, and the browser leaves ${mib(available)} to this origin`,
    { bytesNeeded: needed, bytesAvailable: available },
  );
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Estimated file size: the sampled records' encoded size per record times each store's count, compressed alike. */
export async function estimateBytes({ guard, stores, compression }: SpaceCheck): Promise<number> {
  let sample = '';
  let estimate = 0;
  for (const store of stores) {
    if (store.count === 0) continue;
    const values = await guard.request(guard.transaction.objectStore(store.name).getAll(null, SAMPLE), {
      store: store.name,
    });
    const blobs = new BlobCollector();
    let text = '';
    try {
      for (const value of values) text += `${JSON.stringify(encodeValue(value, blobs))}\n`;
    } catch {
      return 0; // A record the codec refuses: the writer reports it, with its key.
    }
    const bytes = new TextEncoder().encode(text).length + (blobs.bytes * 4) / 3;
    estimate += (bytes / Math.max(1, values.length)) * store.count;
    sample += text;
  }
  if (estimate === 0) return 0;
  const ratio = compression === 'gzip' ? await guard.external(compressionRatio(sample)) : 1;
  return Math.ceil(estimate * ratio * MARGIN);
}

async function compressionRatio(text: string): Promise<number> {
  const plain = new Blob([text]);
  if (plain.size === 0) return 1;
  const compressed = await new Response(plain.stream().pipeThrough(new CompressionStream('gzip'))).blob();
  return Math.min(1, compressed.size / plain.size);
}
