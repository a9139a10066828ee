import { SessionStore } from '../../src/store/session.store.js';

/**
 * The README's store example up to 0.1, kept as a known-bad store: its compareAndSet and delete await a read
 * before they write, so concurrent calls all see the old value and all report success. The contract suite
 * must catch exactly that.
 */
export class RacyStore extends SessionStore {
  private readonly data = new Map<string, { value: string; expires: number }>();

  async get(id: string) {
    const entry = this.data.get(id);
    return entry && entry.expires > Date.now() ? entry.value : undefined;
  }
  async set(id: string, value: string, ttlMs: number) {
    this.data.set(id, { value, expires: Date.now() + ttlMs });
  }
  async compareAndSet(id: string, expected: string, value: string, ttlMs: number) {
    if ((await this.get(id)) !== expected) return false;
    await this.set(id, value, ttlMs);
    return true;
  }
  async delete(id: string) {
    const existed = (await this.get(id)) !== undefined;
    this.data.delete(id);
    return existed;
  }
}
