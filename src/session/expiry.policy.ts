import type { SessionExpiryReason } from './session.events.js';
import type { SessionRecord } from './record.codec.js';

/** The timeouts in force, and how far apart the clocks of instances sharing a store may be. */
export interface ExpiryPolicyConfig {
  readonly idleTimeoutMs: number;
  /** Idle timeout of sessions without identifiers (guests); at most `idleTimeoutMs`. */
  readonly guestIdleTimeoutMs: number;
  readonly absoluteTimeoutMs: number;
  /** Extra store TTL past expiry, during which a late request still sees (and reports) the expiry. */
  readonly expiredRecordGraceMs: number;
  /** With the sweeper on (above 0), records stay `expirySweepIntervalMs + expirySweepLeaseMs` longer, so it finds them. */
  readonly expirySweepIntervalMs?: number;
  readonly expirySweepLeaseMs?: number;
}

/** How a stored record's times compare with this instance's clock. */
export type Plausibility =
  /** Times are consistent and not in the future beyond the skew tolerance. */
  | 'ok'
  /** Times lie ahead of this clock: another instance's clock runs ahead. Judged as if they were now. */
  | 'ahead'
  /** Not a record this library would write (it ran backwards, or lies further ahead than any session lives). */
  | 'implausible';

/** How far ahead of this clock a record's times may lie without a word in the log. */
export const CLOCK_SKEW_TOLERANCE_MS = 5 * 60_000;

/**
 * When a session expires, and whether a stored record can be believed. Pure: no store, no Nest, no clock of
 * its own (every method takes `now`).
 *
 * A record's own timeouts are kept (they were in force when it started), but never longer than the current
 * configuration allows: shortening a timeout takes effect for running sessions at once.
 */
export class ExpiryPolicy {
  constructor(private readonly config: ExpiryPolicyConfig) {}

  /**
   * The idle timeout enforced for a record: its own, capped by the configuration (the guest one when the record
   * has no identifiers, so a guest record written with a longer timeout is held to the guest one).
   */
  idleTimeoutOf(record: SessionRecord): number {
    return Math.min(record.idleTimeoutMs, this.configuredIdleTimeoutOf(record.identifiers));
  }

  /** The idle timeout a new session with these identifiers gets: the guest one without any. */
  configuredIdleTimeoutOf(identifiers: readonly string[] | null): number {
    return identifiers && identifiers.length > 0 ? this.config.idleTimeoutMs : this.config.guestIdleTimeoutMs;
  }

  /** The absolute timeout enforced for a record: its own, capped by the configuration. */
  absoluteTimeoutOf(record: SessionRecord): number {
    return Math.min(record.absoluteTimeoutMs, this.config.absoluteTimeoutMs);
  }

  /** When the record expires unless accessed again, epoch ms. */
  expiresAtOf(record: SessionRecord): number {
    return Math.min(
      record.startedAt + this.absoluteTimeoutOf(record),
      record.lastAccessedAt + this.idleTimeoutOf(record),
    );
  }

  /**
   * Which timeout the record has passed at `now`, or null. The absolute timeout wins when both have passed.
   * Times ahead of `now` (a clock that runs ahead wrote them) count as `now`: such a session is not expired.
   */
  expiryOf(record: SessionRecord, now: number): SessionExpiryReason | null {
    if (now - Math.min(record.startedAt, now) > this.absoluteTimeoutOf(record)) return 'absolute';
    if (now - Math.min(record.lastAccessedAt, now) > this.idleTimeoutOf(record)) return 'idle';
    return null;
  }

  /**
   * Whether to believe a record's times. A record ahead of this clock by less than the longest a session
   * lives is a clock-skew symptom, not corruption: it is served (`ahead`), never deleted, so that one
   * instance with a fast clock cannot log out every user of the others.
   */
  plausibility(record: SessionRecord, now: number): Plausibility {
    if (record.lastAccessedAt < record.startedAt) return 'implausible';
    const ahead = Math.max(record.startedAt, record.lastAccessedAt) - now;
    if (ahead <= CLOCK_SKEW_TOLERANCE_MS) return 'ok';
    return ahead <= this.config.absoluteTimeoutMs ? 'ahead' : 'implausible';
  }

  /** Store TTL: until the session would expire, plus the grace that lets a late request report the expiry. */
  ttlOf(record: SessionRecord, now: number): number {
    return (
      Math.max(this.expiresAtOf(record) - now, 0) + this.config.expiredRecordGraceMs + 1 + this.sweepMargin
    );
  }

  /** How much longer a record stays for the sweeper: the longest until a pass reaches it after its deadline. */
  private get sweepMargin(): number {
    const interval = this.config.expirySweepIntervalMs ?? 0;
    return interval > 0 ? interval + (this.config.expirySweepLeaseMs ?? 0) : 0;
  }
}
