import { SessionStore } from '../../src/index.js';

/**
 * Example: a store over a Map. No method awaits between reading a record and writing it, so each one runs
 * whole: of concurrent compare-and-sets or deletes only one can succeed. A store over a network gets the same
 * from its backend's atomic operations (on Redis: a Lua script, the count `DEL` answers).
 */
export class MyStore extends SessionStore {
  private readonly records = new Map<string, { value: string; expires: number }>();

  get(id: string) {
    return Promise.resolve(this.live(id));
  }
  set(id: string, value: string, ttlMs: number) {
    this.records.set(id, { value, expires: Date.now() + ttlMs });
    return Promise.resolve();
  }
  /** Write only if the stored value is still `expected`; never create a missing record. */
  compareAndSet(id: string, expected: string, value: string, ttlMs: number) {
    if (this.live(id) !== expected) return Promise.resolve(false);
    this.records.set(id, { value, expires: Date.now() + ttlMs });
    return Promise.resolve(true);
  }
  /** True only for the call that removed an existing record. */
  delete(id: string) {
    const existed = this.live(id) !== undefined;
    this.records.delete(id);
    return Promise.resolve(existed);
  }

  private live(id: string) {
    const record = this.records.get(id);
    return record && record.expires > Date.now() ? record.value : undefined;
  }
}
