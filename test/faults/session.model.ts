// A small reference model of the session rules in ../shared/docs/design.md (life cycle §2–9), written
// from the design, not from the code: the property test runs random command sequences against the real
// SessionManager + Subject and against this model, and compares them after every step.

export interface ModelConfig {
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  touchIntervalMs: number;
}

export interface ModelSession {
  startedAt: number;
  lastAccessedAt: number;
  identifiers: string[] | null;
  authenticated: boolean;
  attributes: Map<string, unknown>;
  /** The record is in the store (it may have expired unobserved: then the next access reports it). */
  exists: boolean;
}

export type Resolution =
  | { status: 'valid'; session: ModelSession }
  | { status: 'unknown' }
  | { status: 'expired'; reason: 'idle' | 'absolute' };

/** Event counts by name and reason. */
export type EventCounts = Record<string, number>;

export class SessionModel {
  readonly sessions = new Map<string, ModelSession>();
  readonly events: EventCounts = {};

  constructor(readonly config: ModelConfig) {}

  private emit(key: string) {
    this.events[key] = (this.events[key] ?? 0) + 1;
  }

  /** §4 validity: absolute wins over idle; both strict (">"). */
  expiry(s: ModelSession, now: number): 'idle' | 'absolute' | null {
    if (now - s.startedAt > this.config.absoluteTimeoutMs) return 'absolute';
    if (now - s.lastAccessedAt > this.config.idleTimeoutMs) return 'idle';
    return null;
  }

  /** §2 start: a new session and one `started` event. */
  start(token: string, now: number, identity?: { identifiers: string[]; attributes?: Map<string, unknown> }) {
    this.sessions.set(token, {
      startedAt: now,
      lastAccessedAt: now,
      identifiers: identity ? [...identity.identifiers] : null,
      authenticated: !!identity,
      attributes: new Map(identity?.attributes ?? []),
      exists: true,
    });
    this.emit('started');
  }

  /** §3–5 resolve: unknown, expired (record removed, one event), or valid with a coalesced touch. */
  resolve(token: string, now: number): Resolution {
    const s = this.sessions.get(token);
    if (!s || !s.exists) return { status: 'unknown' };
    const reason = this.expiry(s, now);
    if (reason) {
      s.exists = false;
      this.emit(`expired:${reason}`);
      return { status: 'expired', reason };
    }
    if (now - s.lastAccessedAt >= this.config.touchIntervalMs) s.lastAccessedAt = now;
    return { status: 'valid', session: s };
  }

  /**
   * §6 a write (set / remove / touch) through a Session object, possibly one made earlier: it applies to
   * the freshest record, never brings back a deleted one, and an expiry is judged on the freshest record.
   */
  write(
    token: string,
    now: number,
    change: (attributes: Map<string, unknown>) => void,
  ): 'ok' | 'stopped' | 'expired' {
    const s = this.sessions.get(token);
    if (!s || !s.exists) return 'stopped';
    const reason = this.expiry(s, now);
    if (reason) {
      s.exists = false;
      this.emit(`expired:${reason}`);
      return 'expired';
    }
    change(s.attributes);
    s.lastAccessedAt = Math.max(s.lastAccessedAt, now);
    return 'ok';
  }

  /**
   * §8/§9 logout and stop: the record goes, one `stopped` event (only if it was there). A session past its timeouts
   * (judged on the freshest record, as a write is) is reported expired instead: a Session object held past them
   * cannot end it as stopped.
   */
  stop(token: string, reason: 'logout' | 'stopped', now: number) {
    const s = this.sessions.get(token);
    if (!s || !s.exists) return;
    s.exists = false;
    const expired = this.expiry(s, now);
    this.emit(expired ? `expired:${expired}` : `stopped:${reason}`);
  }

  /**
   * §7 login: the current session (if valid) is replaced by a new one that keeps its attributes when it was
   * a guest's or the same user's (never another user's); the old token is dead at once. Without a session,
   * a new authenticated one starts.
   */
  login(oldToken: string | null, newToken: string, username: string, now: number) {
    const old = oldToken ? this.sessions.get(oldToken) : undefined;
    const sameOwner = !old?.identifiers || old.identifiers[0] === username;
    const carried = old?.exists && sameOwner ? new Map(old.attributes) : undefined;
    this.start(newToken, now, { identifiers: [username], attributes: carried });
    if (old?.exists) {
      old.exists = false;
      this.emit('stopped:regenerated');
    }
    this.emit('login:succeeded');
  }

  loginFailed() {
    this.emit('login:failed');
  }
}
