/** Payloads of the events emitted on `@nestjs/event-emitter`. None of them ever carries a token. */

/**
 * Why a session was stopped. `evicted`: a store with a size cap (`maxSessions` of the in-memory store) removed it
 * to make room for a new session.
 */
/**
 * Why a session stopped: `revoked` when `SessionRegistry` stopped it (a sign-out of another device, or of every
 * device); `evicted` when a store's size cap or `maxSessionsPerPrincipal` made room for a newer session.
 */
export type SessionStopReason = 'logout' | 'stopped' | 'regenerated' | 'evicted' | 'revoked';
/** Which timeout ended a session. */
export type SessionExpiryReason = 'idle' | 'absolute';

/** Payload of `yosai.session.started`. */
export class SessionStartedEvent {
  constructor(
    /** Public id (hash of the token). */
    readonly sessionId: string,
    /** Identifiers of the owner, primary first; null for a guest session. */
    readonly identifiers: readonly string[] | null,
    /** The client's address as seen by the server, or null. */
    readonly host: string | null,
    /** When, in epoch milliseconds. */
    readonly at: number,
  ) {
    Object.freeze(this);
  }
}

/** Payload of `yosai.session.stopped`. */
export class SessionStoppedEvent {
  constructor(
    readonly sessionId: string,
    /** Identifiers captured before the session was removed; null for a guest session. */
    readonly identifiers: readonly string[] | null,
    readonly reason: SessionStopReason,
    readonly at: number,
  ) {
    Object.freeze(this);
  }
}

/** Payload of `yosai.session.expired`. Emitted exactly once per session. */
export class SessionExpiredEvent {
  constructor(
    readonly sessionId: string,
    readonly identifiers: readonly string[] | null,
    readonly reason: SessionExpiryReason,
    readonly at: number,
  ) {
    Object.freeze(this);
  }
}

/** Payload of `yosai.login.succeeded`. */
export class LoginSucceededEvent {
  constructor(
    /** Id of the new session that replaced the old one. */
    readonly sessionId: string,
    readonly identifiers: readonly string[],
    readonly at: number,
    /** The client's address (the request's `ip`, or the `host` given to `fromToken`), or null when unknown. */
    readonly clientAddress: string | null = null,
  ) {
    Object.freeze(this);
  }
}

/** Why a login failed: wrong or unknown credentials, or refused unchecked by throttling or the verification cap. */
export type LoginFailureReason = 'credentials' | 'throttled';

/** Payload of `yosai.login.failed`. Carries the attempted username, never the password. */
export class LoginFailedEvent {
  constructor(
    readonly username: string,
    readonly at: number,
    /** The client's address (the request's `ip`, or the `host` given to `fromToken`), or null when unknown. */
    readonly clientAddress: string | null = null,
    /** `credentials` (unknown account or wrong password, alike) or `throttled` (refused before any check). */
    readonly reason: LoginFailureReason = 'credentials',
  ) {
    Object.freeze(this);
  }
}
