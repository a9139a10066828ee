import { CLOCK_SKEW_TOLERANCE_MS, ExpiryPolicy } from './expiry.policy.js';
import type { SessionRecord } from './record.codec.js';

const MIN = 60_000;
const policy = new ExpiryPolicy({
  idleTimeoutMs: 30 * MIN,
  guestIdleTimeoutMs: 30 * MIN,
  absoluteTimeoutMs: 8 * 60 * MIN,
  expiredRecordGraceMs: MIN,
});

function record(startedAt: number, lastAccessedAt: number, own: Partial<SessionRecord> = {}): SessionRecord {
  return {
    startedAt,
    lastAccessedAt,
    idleTimeoutMs: 30 * MIN,
    absoluteTimeoutMs: 8 * 60 * MIN,
    host: null,
    identifiers: null,
    authenticated: false,
    attributes: {},
    ...own,
  };
}

describe('ExpiryPolicy', () => {
  const t0 = 1_000_000_000_000;

  it('idle: expired one millisecond after the idle timeout, not at it', () => {
    const r = record(t0, t0);
    expect(policy.expiryOf(r, t0 + 30 * MIN)).toBeNull();
    expect(policy.expiryOf(r, t0 + 30 * MIN + 1)).toBe('idle');
  });

  it('absolute: expired after the absolute timeout however recent the last access; absolute wins', () => {
    const r = record(t0, t0 + 8 * 60 * MIN);
    expect(policy.expiryOf(r, t0 + 8 * 60 * MIN)).toBeNull();
    expect(policy.expiryOf(r, t0 + 8 * 60 * MIN + 1)).toBe('absolute');
    expect(policy.expiryOf(record(t0, t0), t0 + 9 * 60 * MIN)).toBe('absolute');
  });

  it("a record's own timeouts apply, capped by the configuration", () => {
    const shorter = record(t0, t0, { idleTimeoutMs: 5 * MIN });
    expect(policy.idleTimeoutOf(shorter)).toBe(5 * MIN);
    expect(policy.expiryOf(shorter, t0 + 5 * MIN + 1)).toBe('idle');
    const longer = record(t0, t0, { idleTimeoutMs: 60 * MIN, absoluteTimeoutMs: 24 * 60 * MIN });
    expect(policy.idleTimeoutOf(longer)).toBe(30 * MIN);
    expect(policy.absoluteTimeoutOf(longer)).toBe(8 * 60 * MIN);
  });

  it('expiresAt is the earlier of the two limits; the store TTL adds the grace', () => {
    const r = record(t0, t0 + 7 * 60 * MIN + 50 * MIN);
    expect(policy.expiresAtOf(r)).toBe(t0 + 8 * 60 * MIN);
    expect(policy.ttlOf(record(t0, t0), t0 + 10 * MIN)).toBe(20 * MIN + MIN + 1);
    expect(policy.ttlOf(record(t0, t0), t0 + 99 * MIN)).toBe(MIN + 1);
  });

  describe('plausibility and clock skew', () => {
    it('times up to the tolerance ahead are ok', () => {
      expect(
        policy.plausibility(record(t0 + CLOCK_SKEW_TOLERANCE_MS, t0 + CLOCK_SKEW_TOLERANCE_MS), t0),
      ).toBe('ok');
    });

    it('times further ahead, within a session lifetime, are a fast clock elsewhere: served, not expired', () => {
      const r = record(t0 + 6 * MIN, t0 + 6 * MIN);
      expect(policy.plausibility(r, t0)).toBe('ahead');
      expect(policy.expiryOf(r, t0)).toBeNull();
    });

    it('an ahead record still expires once this clock passes its times by a timeout', () => {
      const r = record(t0 + 6 * MIN, t0 + 6 * MIN);
      expect(policy.expiryOf(r, t0 + 6 * MIN + 30 * MIN + 1)).toBe('idle');
    });

    it('times ahead by more than a session can live, or running backwards, are implausible', () => {
      expect(policy.plausibility(record(t0 + 9 * 60 * MIN, t0 + 9 * 60 * MIN), t0)).toBe('implausible');
      expect(policy.plausibility(record(t0, t0 - 1), t0)).toBe('implausible');
    });
  });

  describe('guest idle timeout', () => {
    const guarded = new ExpiryPolicy({
      idleTimeoutMs: 30 * MIN,
      guestIdleTimeoutMs: 10 * MIN,
      absoluteTimeoutMs: 8 * 60 * MIN,
      expiredRecordGraceMs: MIN,
    });

    it('new sessions: the guest timeout without identifiers, the full one with', () => {
      expect(guarded.configuredIdleTimeoutOf(null)).toBe(10 * MIN);
      expect(guarded.configuredIdleTimeoutOf([])).toBe(10 * MIN);
      expect(guarded.configuredIdleTimeoutOf(['thedude'])).toBe(30 * MIN);
    });

    it('a guest record is held to the guest timeout even when it was written with a longer one', () => {
      const guest = record(t0, t0, { idleTimeoutMs: 30 * MIN });
      expect(guarded.idleTimeoutOf(guest)).toBe(10 * MIN);
      expect(guarded.expiryOf(guest, t0 + 10 * MIN)).toBeNull();
      expect(guarded.expiryOf(guest, t0 + 10 * MIN + 1)).toBe('idle');
      expect(guarded.ttlOf(guest, t0)).toBe(10 * MIN + MIN + 1);
    });

    it('an authenticated record keeps the full idle timeout', () => {
      const user = record(t0, t0, { identifiers: ['thedude'], authenticated: true });
      expect(guarded.idleTimeoutOf(user)).toBe(30 * MIN);
      expect(guarded.expiryOf(user, t0 + 10 * MIN + 1)).toBeNull();
      expect(guarded.expiryOf(user, t0 + 30 * MIN + 1)).toBe('idle');
    });

    it("a guest record's own shorter timeout is kept", () => {
      const guest = record(t0, t0, { idleTimeoutMs: 2 * MIN });
      expect(guarded.idleTimeoutOf(guest)).toBe(2 * MIN);
    });
  });
});
