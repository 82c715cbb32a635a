/**
 * Writing OPFS files with `createSyncAccessHandle`, the only OPFS writer of Safari 15.2 to 25, which exists in
 * dedicated workers only. In a dedicated worker the library calls {@link syncFileWriter} directly; in a page it
 * starts a small worker (from a Blob URL, so no bundler setup is needed) that runs the same function and streams
 * the page's encoded chunks into the file.
 */

/** An open temporary file of a sync writer. */
export interface SyncFile {
  readonly folder: FileSystemDirectoryHandle;
  readonly handle: FileSystemFileHandle;
  readonly access: { write(b: Uint8Array, o: { at: number }): number; flush(): void; close(): void };
  offset: number;
}

/**
 * The sync writer's operations. Self-contained on purpose: its source text is also what the page's worker runs,
 * so it may use nothing from outside its own body.
 */
export function syncFileWriter() {
  type Handle = FileSystemFileHandle & {
    createSyncAccessHandle?: () => Promise<SyncFile['access'] & { truncate(n: number): void }>;
    move?: (folder: FileSystemDirectoryHandle, name: string) => Promise<void>;
  };
  return {
    async open(directory: string, temporary: string): Promise<SyncFile> {
      const root = await navigator.storage.getDirectory();
      const folder = await root.getDirectoryHandle(directory, { create: true });
      const handle = (await folder.getFileHandle(temporary, { create: true })) as Handle;
      if (typeof handle.createSyncAccessHandle !== 'function') throw new Error('no createSyncAccessHandle here');
      if (typeof handle.move !== 'function') throw new Error('no FileSystemHandle.move() here');
      const access = await handle.createSyncAccessHandle();
      access.truncate(0);
      return { folder, handle, access, offset: 0 };
    },
    write(file: SyncFile, bytes: Uint8Array): void {
      let done = 0;
      while (done < bytes.byteLength) done += file.access.write(bytes.subarray(done), { at: file.offset + done });
      file.offset += bytes.byteLength;
    },
    async close(file: SyncFile, name: string): Promise<void> {
      file.access.flush();
      file.access.close();
      // The two-argument form: WebKit rejects move(name) alone with "Not enough arguments".
      await (file.handle as Handle).move!(file.folder, name);
    },
    /** Releases the file; its owner then removes it (a file with an open sync handle cannot be removed). */
    abort(file: SyncFile | undefined): void {
      try {
        file?.access.close();
      } catch {
        // Closed already.
      }
    },
  };
}

/**
 * The page's writer worker: runs {@link syncFileWriter} on messages `{ id, op, ... }`, answering `{ id, error? }`.
 * Built when needed, not at import: a module-level call would keep it in every bundle, used or not.
 */
const workerSource = (): string => `const writer = (${syncFileWriter.toString()})();
let file;
self.onmessage = async ({ data }) => {
  try {
    if (data.op === 'open') file = await writer.open(data.directory, data.temporary);
    else if (data.op === 'write') writer.write(file, data.bytes);
    else if (data.op === 'close') await writer.close(file, data.name);
    else if (data.op === 'abort') writer.abort(file);
    self.postMessage({ id: data.id });
  } catch (error) {
    self.postMessage({ id: data.id, error: { name: error && error.name, message: String(error && error.message || error) } });
  }
};`;

/** True in a dedicated worker, where the sync handle can be used directly. */
export function inDedicatedWorker(): boolean {
  const scope = (globalThis as { DedicatedWorkerGlobalScope?: new () => unknown }).DedicatedWorkerGlobalScope;
  return typeof scope === 'function' && globalThis instanceof scope;
}

// No single operation takes this long on a live worker; one that does is dead (terminated, crashed), and a write
// must not wait on it forever inside an upgrade.
const CALL_TIMEOUT_MS = 30_000;

/** A started writer worker: `call` sends one operation and resolves when it is done. */
export interface WriterWorker {
  call(message: Record<string, unknown>, timeout?: number): Promise<void>;
  terminate(): void;
}

/** Starts the page's writer worker. Rejects where workers cannot start (a service worker, a CSP without blob:). */
export function startWriterWorker(): WriterWorker {
  if (typeof Worker !== 'function') throw new Error('no Worker constructor here (a service worker?)');
  const url = URL.createObjectURL(new Blob([workerSource()], { type: 'text/javascript' }));
  let worker: Worker;
  try {
    worker = new Worker(url);
  } finally {
    URL.revokeObjectURL(url);
  }
  const waiting = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  let next = 0;
  let dead: Error | undefined;
  const failAll = (error: Error): void => {
    dead = error;
    for (const { reject } of waiting.values()) reject(error);
    waiting.clear();
  };
  worker.onmessage = ({ data }: MessageEvent<{ id: number; error?: { name?: string; message: string } }>) => {
    const pending = waiting.get(data.id);
    waiting.delete(data.id);
    if (data.error === undefined) pending?.resolve();
    else pending?.reject(Object.assign(new Error(data.error.message), { name: data.error.name ?? 'Error' }));
  };
  worker.onerror = (event) => {
    event.preventDefault();
    failAll(new Error(`The snapshot writer worker failed: ${event.message || 'it could not start'}`));
  };
  return {
    call: (message, timeout = CALL_TIMEOUT_MS) =>
      new Promise<void>((resolve, reject) => {
        if (dead !== undefined) return reject(dead);
        const id = next++;
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`The snapshot writer worker did not answer within ${timeout} ms`));
        }, timeout);
        const settle = (done: () => void) => () => {
          clearTimeout(timer);
          done();
        };
        waiting.set(id, {
          resolve: settle(resolve),
          reject: (error) => settle(() => reject(error))(),
        });
        worker.postMessage({ ...message, id });
      }),
    terminate: () => {
      worker.terminate();
      failAll(new Error('The snapshot writer worker was stopped'));
    },
  };
}
