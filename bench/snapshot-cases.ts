// Snapshot (database -> one file in OPFS) and restore (file -> fresh database) cases.
import Dexie from 'dexie';
import { exportDB, importDB } from 'dexie-export-import';
import { opfsSnapshotStorage, restoreSnapshot, snapshotDatabase } from '../src/index.js';
import { STORE, makeItem, type ItemV1 } from './data.js';
import { clearOpfs, createV1Store, deleteDatabase, opfsRoot, openRaw, request } from './idb-util.js';

/** What a snapshot run leaves behind for the restore cases. */
export interface SnapshotOutput {
  /** Bytes written. */
  readonly bytes: number;
  /** How the restore case finds the snapshot again. */
  readonly ref: string;
}

export interface SnapshotCase {
  readonly id: string;
  readonly label: string;
  /** Why the case cannot run now (e.g. the library function does not exist yet), or undefined. */
  readonly unavailable?: () => string | undefined;
  /** Deletes what an earlier run wrote, outside the timed region. */
  readonly clean: () => Promise<void>;
  /** The timed snapshot of database `name`. */
  readonly run: (name: string) => Promise<void>;
  /** After the timed region: size and reference of what was written. */
  readonly output: () => Promise<SnapshotOutput>;
}

export interface RestoreCase {
  readonly id: string;
  readonly label: string;
  readonly unavailable?: () => string | undefined;
  /** Work before the timed region (building the prebuilt values of the floor). */
  readonly setup?: (count: number) => unknown;
  /** The timed restore of snapshot `ref` into database `target`, which does not exist (a new name every run). */
  readonly run: (target: string, ref: string, prepared: unknown) => Promise<void>;
}

// ---- idb-evolve ------------------------------------------------------------------------------------------------

/** The library's default OPFS folder; the bench measures the bytes in it. */
const EVOLVE_DIR = 'idb-evolve-snapshots';
const PLAIN_DIR = 'idb-evolve-snapshots-plain';
const evolveRefs = new Map<string, string>();

async function fileSize(dir: FileSystemDirectoryHandle, name: string): Promise<number> {
  return (await (await dir.getFileHandle(name)).getFile()).size;
}

async function removeFile(name: string): Promise<void> {
  await (await opfsRoot()).removeEntry(name).catch(() => {});
}

async function writeFile(name: string, write: (w: FileSystemWritableFileStream) => Promise<void>): Promise<void> {
  const handle = await (await opfsRoot()).getFileHandle(name, { create: true });
  const writable = await handle.createWritable();
  await write(writable);
  await writable.close();
}

const RAW_FILE = 'bench-raw.ndjson';
const DEXIE_FILE = 'bench-dexie.json';
const BATCH = 1000;

/** An idb-evolve snapshot case writing to its own OPFS folder, so that its bytes are measured alone. */
function evolveSnapshotCase(id: string, label: string, directory: string, compression: 'gzip' | 'none'): SnapshotCase {
  const folder = async () => (await opfsRoot()).getDirectoryHandle(directory, { create: true });
  return {
    id,
    label,
    clean: async () => {
      await clearOpfs(await folder());
      evolveRefs.delete(id);
    },
    run: async (name) => {
      const storage = opfsSnapshotStorage({ directory });
      evolveRefs.set(id, (await snapshotDatabase(name, { storage, compression })).id);
    },
    output: async () => {
      const dir = await folder();
      let bytes = 0;
      for await (const [entry, handle] of dir as unknown as AsyncIterable<[string, FileSystemHandle]>) {
        if (handle.kind === 'file') bytes += await fileSize(dir, entry);
      }
      return { bytes, ref: evolveRefs.get(id)! };
    },
  };
}

export const snapshotCases: readonly SnapshotCase[] = [
  evolveSnapshotCase(
    'evolve-snapshot',
    'idb-evolve snapshotDatabase (lossless NDJSON, gzip: the default)',
    EVOLVE_DIR,
    'gzip',
  ),
  evolveSnapshotCase(
    'evolve-snapshot-plain',
    'idb-evolve snapshotDatabase (lossless NDJSON, plain)',
    PLAIN_DIR,
    'none',
  ),
  {
    id: 'raw-ndjson',
    label: 'raw getAll(1000) + JSON.stringify NDJSON (lossy: Dates become strings)',
    clean: () => removeFile(RAW_FILE),
    run: async (name) => {
      const db = await openRaw(name);
      try {
        await writeFile(RAW_FILE, async (writable) => {
          let after: number | undefined;
          for (;;) {
            // A new transaction per batch: awaiting the OPFS write lets a readonly transaction commit.
            const store = db.transaction(STORE, 'readonly').objectStore(STORE);
            const batch = (await request(
              store.getAll(after === undefined ? null : IDBKeyRange.lowerBound(after, true), BATCH),
            )) as ItemV1[];
            if (batch.length === 0) break;
            let chunk = '';
            for (const record of batch) chunk += `${JSON.stringify(record)}\n`;
            await writable.write(chunk);
            if (batch.length < BATCH) break;
            after = batch[batch.length - 1]!.id;
          }
        });
      } finally {
        db.close();
      }
    },
    output: async () => ({ bytes: await fileSize(await opfsRoot(), RAW_FILE), ref: RAW_FILE }),
  },
  {
    id: 'dexie-export',
    label: 'dexie-export-import exportDB + OPFS write',
    clean: () => removeFile(DEXIE_FILE),
    run: async (name) => {
      // No schema declared: Dexie opens the existing database as it is.
      const db = new Dexie(name);
      await db.open();
      try {
        const blob = await exportDB(db);
        await writeFile(DEXIE_FILE, (writable) => writable.write(blob));
      } finally {
        db.close();
      }
    },
    output: async () => ({ bytes: await fileSize(await opfsRoot(), DEXIE_FILE), ref: DEXIE_FILE }),
  },
];

export const restoreCases: readonly RestoreCase[] = [
  {
    id: 'evolve-restore',
    label: 'idb-evolve restoreSnapshot (gzip file)',
    run: async (target, ref) => {
      // A new name per run (the driver deletes nothing during a run), hence allowOtherDatabase.
      await restoreSnapshot(target, ref, { storage: opfsSnapshotStorage(), allowOtherDatabase: true });
    },
  },
  {
    id: 'evolve-restore-plain',
    label: 'idb-evolve restoreSnapshot (plain file)',
    run: async (target, ref) => {
      const storage = opfsSnapshotStorage({ directory: PLAIN_DIR });
      await restoreSnapshot(target, ref, { storage, allowOtherDatabase: true });
    },
  },
  {
    id: 'restore-floor',
    label: 'restore floor: create the store and index, put prebuilt records, one versionchange transaction',
    setup: (count) => Array.from({ length: count }, (_, i) => makeItem(i + 1)),
    run: (target, _ref, prepared) =>
      new Promise<void>((resolve, reject) => {
        const req = indexedDB.open(target, 1);
        req.onupgradeneeded = () => {
          createV1Store(req.result);
          const store = req.transaction!.objectStore(STORE);
          for (const value of prepared as ItemV1[]) store.put(value);
        };
        req.onsuccess = () => {
          req.result.close();
          resolve();
        };
        req.onerror = () => reject(req.error);
      }),
  },
  {
    id: 'dexie-import',
    label: 'dexie-export-import importDB from the OPFS file',
    run: async (target, ref) => {
      const file = await (await (await opfsRoot()).getFileHandle(ref)).getFile();
      const db = await importDB(file, { name: target });
      db.close();
    },
  },
];

export { deleteDatabase };
