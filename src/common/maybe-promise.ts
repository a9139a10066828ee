/** A value now, or later. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * `fn(value)` now when the value is at hand, else once it arrives. The one place where the request path avoids a
 * promise: a store in this process's memory answers synchronously, and a request then needs none (the gain is
 * recorded in BENCHMARKS.md).
 */
export function andThen<T, R>(value: MaybePromise<T>, fn: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return value instanceof Promise ? value.then(fn) : fn(value);
}
