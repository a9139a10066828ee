import type { SessionRecord } from './record.codec.js';

/** How many decoded records a codec keeps. */
export const RECORD_CACHE_ENTRIES = 1024;
/** Longer stored strings are decoded every time, so the cache holds at most ~1024 × 2048 characters. */
export const RECORD_CACHE_MAX_LENGTH = 2048;

/**
 * Decoded session records by the exact string the store holds: an authenticated request reads the same string
 * again and again until the session is written, and decoding it each time is a `JSON.parse`, a field check and
 * two objects per request. The key is the stored string itself, so an entry can never be stale: another string
 * is another key. What depends on the time (expiry, plausibility) is still judged on every request, by the caller.
 *
 * Records handed out are shared between requests, so they are frozen (with their identifiers and attributes): no
 * caller can change what the next request sees.
 */
export class RecordCache {
  private readonly entries = new Map<string, SessionRecord>();

  constructor(
    private readonly capacity = RECORD_CACHE_ENTRIES,
    private readonly maxLength = RECORD_CACHE_MAX_LENGTH,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The record kept for `raw`, if any. */
  get(raw: string): SessionRecord | undefined {
    return this.entries.get(raw);
  }

  /** Keeps `record` (freezing it) as what `raw` decodes to, and returns it. */
  remember(raw: string, record: SessionRecord): SessionRecord {
    freezeRecord(record);
    if (raw.length > this.maxLength || this.capacity === 0) return record;
    if (this.entries.size >= this.capacity && !this.entries.has(raw)) {
      // Oldest first (insertion order): a session that is still in use comes back at its next write.
      this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(raw, record);
    return record;
  }

  /** Drops the entry of a record that no longer exists (its session ended). */
  forget(raw: string): void {
    this.entries.delete(raw);
  }
}

function freezeRecord(record: SessionRecord): void {
  if (Object.isFrozen(record)) return;
  if (record.identifiers) Object.freeze(record.identifiers);
  Object.freeze(record.attributes);
  Object.freeze(record);
}
