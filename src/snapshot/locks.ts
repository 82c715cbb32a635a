/**
 * Web Locks that mark a snapshot file as being written: a writer holds its file's lock until the file is complete
 * or discarded, and a sweep deletes only leftovers whose lock is free (the writer died: a closed tab, a killed
 * worker). Locks are released by the browser when their holder goes, which is what makes them safe here.
 */
type Locks = {
  request(
    name: string,
    options: { ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<void> | void,
  ): Promise<void>;
};

const locks = (): Locks | undefined => (globalThis as { navigator?: { locks?: Locks } }).navigator?.locks;

/** The lock name of a temporary file of a storage (`where` names the storage: a folder, a database). */
export const fileLock = (where: string, file: string): string => `idb-evolve-snapshot:${where}/${file}`;

/** Holds a lock until `release` is called; resolves once held (at once without Web Locks). */
export async function holdLock(name: string): Promise<() => void> {
  const manager = locks();
  if (manager === undefined) return () => {};
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  await new Promise<void>((held) => {
    void manager.request(name, {}, () => {
      held();
      return released;
    });
  });
  return release;
}

/** True when nobody holds the lock (its writer is gone); undefined without Web Locks (the caller must judge). */
export async function lockIsFree(name: string): Promise<boolean | undefined> {
  const manager = locks();
  if (manager === undefined) return undefined;
  let free = false;
  await manager.request(name, { ifAvailable: true }, (lock) => {
    free = lock !== null;
  });
  return free;
}
