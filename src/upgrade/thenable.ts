/**
 * True for a promise or any object with a `then` method: visitors and Standard Schema validators may answer
 * synchronously or not, and the synchronous answer is taken without an await (a microtask per record).
 */
export function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
