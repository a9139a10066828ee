import { SessionStoreError } from '../errors/yosai.errors.js';
import type { GuardedStore } from './guarded-store.js';
import type { RecordCodec, SessionRecord } from './record.codec.js';

/** A stored string and what it decodes to. */
export interface RecordSnapshot {
  readonly raw: string;
  readonly record: SessionRecord;
}

/** How many times a write is tried against a record that others keep changing, before it gives up. */
export const MAX_WRITE_ATTEMPTS = 8;

/**
 * Applies a change to the freshest stored record by compare-and-set: the change is computed from the record this
 * process holds and written only if the store still holds exactly that; otherwise the record is read again and the
 * change computed anew. So concurrent writers of different keys keep each other's changes, and a write never
 * brings back a deleted record (compare-and-set never creates one).
 */
export class ChangedKeyWriter {
  constructor(
    private readonly store: GuardedStore,
    private readonly codec: RecordCodec,
    private readonly ttlOf: (record: SessionRecord, now: number) => number,
    private readonly now: () => number,
    /** Checks the record about to be written against the one it replaces; throws to refuse it (limits). */
    private readonly admit: (id: string, next: RecordSnapshot, current: RecordSnapshot) => void = () =>
      undefined,
    /** The deadline a record is scored by in the store's expiry queue (see `SessionExpiryHints`). */
    private readonly expiresAtOf?: (record: SessionRecord) => number | undefined,
  ) {}

  /**
   * @param change The new record for a snapshot; it may throw to abandon the write (e.g. the session expired).
   * The record it returns is then checked by `admit`, which may refuse it (nothing is written).
   * @param reread The freshest snapshot; it throws when the record is gone.
   * @returns The snapshot written.
   * @throws SessionLimitError (from `admit`) when the new record passes a limit.
   * @throws SessionStoreError after {@link MAX_WRITE_ATTEMPTS} lost races, or when the store fails.
   */
  async write(
    id: string,
    held: RecordSnapshot,
    change: (record: SessionRecord, now: number) => SessionRecord,
    reread: () => Promise<RecordSnapshot>,
  ): Promise<RecordSnapshot> {
    let current = held;
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const now = this.now();
      const next = this.codec.encode(change(current.record, now), id);
      // Judged on each attempt, on the freshest record: writers that raced each other cannot pass a limit together.
      try {
        this.admit(id, next, current);
      } catch (error) {
        this.codec.forget(next.raw);
        throw error;
      }
      const ttl = this.ttlOf(next.record, now);
      const hints = this.expiresAtOf && { expiresAt: this.expiresAtOf(next.record) };
      if (await this.store.compareAndSet(id, current.raw, next.raw, ttl, hints)) {
        this.codec.forget(current.raw);
        return next;
      }
      this.codec.forget(next.raw);
      // Someone else wrote (or deleted) the record since it was read: start again from the freshest one, after a
      // short random pause, so that two instances writing the same session do not keep colliding.
      await conflictPause(attempt);
      current = await reread();
    }
    throw new SessionStoreError(
      'compareAndSet',
      `the session changed ${MAX_WRITE_ATTEMPTS} times while writing; giving up`,
    );
  }
}

/** Random wait (jittered, growing with the attempt, at most 16 ms) before retrying a lost compare-and-set. */
function conflictPause(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(2 ** attempt, 16);
  return new Promise((resolve) => setTimeout(resolve, ms));
}
