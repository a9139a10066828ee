import {
  SessionStore,
  type FieldPatch,
  type FieldRecords,
  type PrincipalIndex,
  type SessionDeleteHints,
  type SessionWriteHints,
  type StoredValue,
} from '../../src/index.js';

/** Operation counts of a {@link CountingStore}. */
export interface StoreCounts {
  get: number;
  set: number;
  compareAndSet: number;
  delete: number;
}

/** Prefix of the login throttle's counters (see `src/auth/login-throttle.ts`). */
const THROTTLE_PREFIX = 'yosai-login-throttle:';

/**
 * A SessionStore that delegates every call to another store and counts them, so tests can assert how
 * much store traffic a request caused (e.g. none for a token of the wrong shape). Calls on the login throttle's
 * counters are session-free traffic of password logins: they are counted apart, in `throttleOps`.
 */
export class CountingStore extends SessionStore {
  readonly counts: StoreCounts = { get: 0, set: 0, compareAndSet: 0, delete: 0 };
  /** Calls on login-throttle counters (any operation). */
  throttleOps = 0;
  /** Ids passed to `get`, in order (session ids are hashes, never tokens). */
  readonly reads: string[] = [];

  /**
   * @param options.sync Offer the inner store's `readNow` (counted as a `get`) when it has one: synchronous on the
   *   in-memory store; `false` makes every read go through the asynchronous `get`.
   */
  constructor(
    readonly inner: SessionStore,
    options: { sync?: boolean } = {},
  ) {
    super();
    const readNow = options.sync === false ? undefined : inner.readNow?.bind(inner);
    if (readNow) {
      this.readNow = (id: string): StoredValue | Promise<StoredValue> => {
        this.count('get', id);
        this.reads.push(id);
        return readNow(id);
      };
    }
    const onExpired = inner.onExpired?.bind(inner);
    if (onExpired) this.onExpired = onExpired;
    const onEvicted = inner.onEvicted?.bind(inner);
    if (onEvicted) this.onEvicted = onEvicted;
    const ready = inner.ready?.bind(inner);
    if (ready) this.ready = ready;
    // The field model, counted as the string model's operations: a read as `get`, a new record as `set`, a patch as
    // `compareAndSet`, so that "one read per request" means the same in both.
    const fields = inner.fieldRecords;
    if (fields) {
      this.fieldRecords = {
        read: (id) => {
          this.counts.get++;
          this.reads.push(id);
          return fields.read(id);
        },
        create: (id, values, ttlMs, hints) => {
          this.counts.set++;
          return fields.create(id, values, ttlMs, hints);
        },
        patch: (id, patch) => {
          this.counts.compareAndSet++;
          this.patches.push(patch);
          return fields.patch(id, patch);
        },
      };
    }
    if (inner.principalIndex) this.principalIndex = inner.principalIndex;
    const setIfAbsent = inner.setIfAbsent?.bind(inner);
    if (setIfAbsent) {
      this.setIfAbsent = (id: string, value: string, ttlMs: number) => {
        if (id.startsWith(THROTTLE_PREFIX)) this.throttleOps++;
        else this.counts.set++;
        return setIfAbsent(id, value, ttlMs);
      };
    }
  }

  /** Counts a call under `operation`, or in `throttleOps` when it is on a throttle counter. */
  private count(operation: keyof StoreCounts, id: string): void {
    if (id.startsWith(THROTTLE_PREFIX)) this.throttleOps++;
    else this.counts[operation]++;
  }

  /** On a store with the field model: its patches, in order. */
  readonly patches: FieldPatch[] = [];
  declare readonly fieldRecords?: FieldRecords;
  declare readonly principalIndex?: PrincipalIndex;

  /** Total number of operations so far. */
  get total(): number {
    const c = this.counts;
    return c.get + c.set + c.compareAndSet + c.delete;
  }

  /** A copy of the counts, to diff against later. */
  snapshot(): StoreCounts {
    return { ...this.counts };
  }

  reset(): void {
    this.counts.get = this.counts.set = this.counts.compareAndSet = this.counts.delete = 0;
    this.throttleOps = 0;
    this.reads.length = 0;
  }

  get(id: string) {
    this.count('get', id);
    if (!id.startsWith(THROTTLE_PREFIX)) this.reads.push(id);
    return this.inner.get(id);
  }
  set(id: string, value: string, ttlMs: number, hints?: SessionWriteHints) {
    this.count('set', id);
    return this.inner.set(id, value, ttlMs, hints);
  }
  compareAndSet(id: string, expected: string, value: string, ttlMs: number) {
    this.count('compareAndSet', id);
    return this.inner.compareAndSet(id, expected, value, ttlMs);
  }
  delete(id: string, hints?: SessionDeleteHints) {
    this.count('delete', id);
    return this.inner.delete(id, hints);
  }
  async close() {
    await this.inner.close?.();
  }
}
