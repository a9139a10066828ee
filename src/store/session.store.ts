/**
 * The contract every session store fulfils, and the injection token of the store in use
 * (inject it by type: `constructor(private readonly store: SessionStore) {}`).
 *
 * Stores deal in opaque strings under opaque ids; the session manager owns the record format, timeouts
 * and events. Every method rejects on failure (never resolves as if the data were absent): the manager
 * turns rejections and time-outs into `SessionStoreError`, and the guard answers 503.
 *
 * Every implementation must pass the shared contract suite (`src/store/session-store.contract.ts`).
 */
export abstract class SessionStore {
  /** The stored value, or `undefined` when there is none (never stored, deleted, or past its TTL). */
  abstract get(id: string): Promise<string | undefined>;
  /** Stores `value` unconditionally, expiring after `ttlMs` milliseconds. */
  abstract set(id: string, value: string, ttlMs: number): Promise<void>;
  /**
   * Replaces the value only if the stored value is still exactly `expected`, and resolves to whether it
   * did. A missing record is never written, so a write can never bring back a deleted session.
   */
  abstract compareAndSet(id: string, expected: string, value: string, ttlMs: number): Promise<boolean>;
  /** Deletes the record and resolves to `true` only if this call removed an existing record. */
  abstract delete(id: string): Promise<boolean>;
  /** Releases timers or connections the store itself created. Optional. */
  close?(): Promise<void>;
}

/**
 * @internal A cheaper `get` that the manager uses instead when a store offers it: the value itself where the store
 * can answer at once (records in this process's memory: no promise, and no store timeout, as such a read cannot
 * hang), else the driver's own promise, with `null` meaning "none" as `undefined` does (no promise to map one to
 * the other). Keyed by `Symbol.for` so that both builds (ESM and CJS) of this package recognise it.
 */
export const FAST_READ: unique symbol = Symbol.for('nestjs-yosai.store.fastRead') as never;

/** @internal What {@link FAST_READ} is, where a store offers it. */
export type FastRead = (id: string) => RawRecord | Promise<RawRecord>;
/** @internal A stored string, or none. */
export type RawRecord = string | null | undefined;

/** @internal The store's fast read, if it has one, bound to the store. */
export function fastReadOf(store: SessionStore): FastRead | undefined {
  const read = (store as unknown as Partial<Record<typeof FAST_READ, FastRead>>)[FAST_READ];
  return typeof read === 'function' ? read.bind(store) : undefined;
}

/** Duck-typed check, so that a store from the other build (ESM vs CJS) of this package is accepted too. */
export function isSessionStore(value: unknown): value is SessionStore {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return ['get', 'set', 'compareAndSet', 'delete'].every((m) => typeof v[m] === 'function');
}
