import type { SnapshotSink } from './storage.js';

/**
 * How a snapshot file is stored: `gzip` (the default where `CompressionStream` exists: about a quarter of the
 * bytes) or `none` (plain NDJSON, readable with any text tool). Readers tell them apart by the file's first bytes,
 * so every function that reads a snapshot reads both.
 */
export type SnapshotCompression = 'gzip' | 'none';

/** File name suffixes: the compression is visible without opening the file. */
export const SUFFIXES: { readonly none: '.ndjson'; readonly gzip: '.ndjson.gz' } = {
  none: '.ndjson',
  gzip: '.ndjson.gz',
};

/** Whether this context can write gzip (every engine with OPFS since 2023; Node 18). */
export function canCompress(): boolean {
  return typeof (globalThis as { CompressionStream?: unknown }).CompressionStream === 'function';
}

/**
 * A sink that gzips what it is given and passes the compressed bytes on to `sink`, streamed: memory holds what the
 * compressor buffers, not the file. A failure of the underlying sink fails the next write (or the close).
 */
export function gzipSink(sink: SnapshotSink): SnapshotSink {
  const stream = new CompressionStream('gzip');
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  const pumped = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      await sink.write(value);
    }
  })();
  // Once the pump has stopped on a failure, nothing drains the compressor: a write or close waiting for room
  // would wait forever. Every operation races the pump's failure.
  const failed = pumped.then(
    () => new Promise<never>(() => {}),
    (error: unknown) => {
      throw error;
    },
  );
  failed.catch(() => {});
  pumped.catch((error: unknown) => writer.abort(error).catch(() => {}));
  return {
    ...(sink.writer === undefined ? {} : { writer: sink.writer }),
    write: (chunk) => Promise.race([writer.write(chunk as Uint8Array<ArrayBuffer>), failed]),
    close: async () => {
      await Promise.race([writer.close(), failed]);
      await pumped;
      await sink.close();
    },
    abort: async () => {
      // Bounded like the rest: an abort must not wait on a compressor nothing drains.
      const settled = (work: Promise<unknown>) =>
        Promise.race([work.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1000))]);
      await settled(writer.abort());
      await settled(reader.cancel());
      await sink.abort();
    },
  };
}

const GZIP_MAGIC = [0x1f, 0x8b] as const;

/** Whether a file is gzip, by its first two bytes (no NDJSON file starts with them). */
export async function isGzip(file: Blob): Promise<boolean> {
  const head = new Uint8Array(await file.slice(0, 2).arrayBuffer());
  return head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
}

/**
 * The decoded content of a snapshot file, compressed or not: gzip files (told by their first two bytes, which no
 * NDJSON file starts with) go through `DecompressionStream`. Streamed; nothing is read before the first pull.
 */
export function contentStream(file: Blob): ReadableStream<Uint8Array> {
  let source: ReadableStreamDefaultReader<Uint8Array> | undefined;
  const open = async (): Promise<ReadableStreamDefaultReader<Uint8Array>> => {
    const raw = file.stream() as ReadableStream<Uint8Array>;
    const gzip = await isGzip(file);
    if (gzip && typeof (globalThis as { DecompressionStream?: unknown }).DecompressionStream !== 'function') {
      throw new TypeError('This snapshot is gzip-compressed and this context has no DecompressionStream');
    }
    return (
      gzip ? raw.pipeThrough(new DecompressionStream('gzip') as ReadableWritablePair<Uint8Array>) : raw
    ).getReader();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      source ??= await open();
      const { value, done } = await source.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      await source?.cancel(reason);
    },
  });
}
