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

/** Duck-typed check, so that a store from the other build (ESM vs CJS) of this package is accepted too. */
export function isSessionStore(value: unknown): value is SessionStore {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return ['get', 'set', 'compareAndSet', 'delete'].every((m) => typeof v[m] === 'function');
}
