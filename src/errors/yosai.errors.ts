/**
 * Domain errors. They carry context in readonly fields and know nothing of HTTP; only the guard and the
 * exception filter map them to status codes (see `mapYosaiError`).
 */

/** Base class of every error this library throws. */
export class YosaiError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The session has passed its idle or absolute timeout. */
export class ExpiredSessionError extends YosaiError {
  constructor(
    /** Public id of the session (a hash of its token; safe to log). */
    readonly sessionId: string,
    /** Which timeout ended it. */
    readonly kind: 'idle' | 'absolute',
  ) {
    super(
      `Session ${sessionId} has expired (${kind} timeout). Start a new session with subject.getSession().`,
    );
  }
}

/** The session was stopped (logout, `stop()`, replaced at login, or deleted by another instance). */
export class StoppedSessionError extends YosaiError {
  constructor(readonly sessionId: string) {
    super(`Session ${sessionId} has been stopped; it can no longer be read or written. Start a new one.`);
  }
}

/**
 * No session exists for the given token.
 * @deprecated Nothing throws it: an unknown token resolves to a guest (`subject.tokenStatus === 'unknown'`).
 * Removed in 0.3.
 */
export class UnknownSessionError extends YosaiError {
  constructor(readonly sessionId: string | null) {
    super(`No session exists for the presented token${sessionId ? ` (id ${sessionId})` : ''}.`);
  }
}

/** Base class of login failures. Both subclasses are reported to clients identically. */
export class AuthenticationError extends YosaiError {}

/** The account exists but the presented credentials do not match. */
export class IncorrectCredentialsError extends AuthenticationError {
  constructor() {
    super('The presented credentials do not match the account.');
  }
}

/** The realm knows no account for the presented username. */
export class UnknownAccountError extends AuthenticationError {
  constructor() {
    super('No account matches the presented username.');
  }
}

/**
 * A login attempt was refused before its password was checked: the username or the client address has failed too
 * often and is locked (`loginThrottle`), or too many password verifications are running and waiting already
 * (`passwordVerification`). Over HTTP a 429 with `Retry-After`. Not an `AuthenticationError`: the credentials were
 * not judged, and the right password is refused too while a lock lasts.
 */
export class LoginThrottledError extends YosaiError {
  constructor(
    /** What is limited: the username's failures, the client address's failures, or verification capacity. */
    readonly scope: 'username' | 'address' | 'capacity',
    /** How long until an attempt may succeed, in milliseconds (at least 1). */
    readonly retryAfterMs: number,
  ) {
    super(
      scope === 'capacity'
        ? `Login refused: too many password verifications in progress; retry in ${Math.ceil(retryAfterMs / 1000)} s.`
        : `Login refused: too many failed attempts for this ${scope}; retry in ${Math.ceil(retryAfterMs / 1000)} s.`,
    );
  }

  /** `retryAfterMs` in whole seconds, rounded up, as the `Retry-After` header carries it. */
  get retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.retryAfterMs / 1000));
  }
}

/** The session store failed or did not answer in time. Requests that depend on it fail closed. */
export class SessionStoreError extends YosaiError {
  constructor(
    /** The store operation that failed: `get`, `set`, `compareAndSet` or `delete`. */
    readonly operation: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`Session store ${operation} failed: ${message}`, options);
  }
}

/**
 * A revocation (a delete that ends a session) was done on the Redis master, but fewer replicas than
 * `waitForReplicas.replicas` acknowledged it within `waitForReplicas.timeoutMs`: after a failover it could come
 * back. The request fails closed (503) rather than claim a durable logout; the session is stopped all the same
 * (it is gone from the master, and `yosai.session.stopped` is emitted), and a retry waits for the replicas again.
 */
export class ReplicationTimeoutError extends SessionStoreError {
  constructor(
    /** Whether the delete removed the record (on the master). */
    readonly removed: boolean,
    /** How many replicas acknowledged the delete in time. */
    readonly acknowledged: number,
    /** How many were required (`waitForReplicas.replicas`). */
    readonly required: number,
    timeoutMs: number,
  ) {
    super(
      'delete',
      `${acknowledged} of ${required} required replicas acknowledged the revocation within ${timeoutMs} ms ` +
        '(waitForReplicas); it may not survive a failover',
    );
  }
}

/**
 * The app tried to store a value a session cannot hold (a function, a class instance, `undefined`, a cycle…), or
 * an attribute key that is not allowed. A programming error: nothing is written, and over HTTP the answer is a
 * generic 500 (the message, which names the attribute path, goes to the log, not to the client).
 * A corrupt record in the store is not this error: it is discarded and logged, and the request gets a guest.
 */
export class SessionSerializationError extends YosaiError {
  constructor(
    message: string,
    /** Path of the offending value, e.g. `cart.items[2].price`, when known. */
    readonly path?: string,
  ) {
    super(message);
  }
}

/**
 * A state-changing request (POST, PUT, PATCH, DELETE) carrying the session cookie came from another site
 * (judged by `Sec-Fetch-Site`, else by `Origin` against the request's host): refused as cross-site request
 * forgery. Over HTTP a 403. Allow a front end on another origin with the `csrf.trustedOrigins` option.
 */
export class CrossSiteRequestError extends YosaiError {
  constructor(
    /** The request method. */
    readonly method: string,
    /** What the request said of its origin: the `Sec-Fetch-Site` value, else the `Origin` value. */
    readonly origin: string,
  ) {
    super(
      `Refused a cross-site ${method} request carrying the session cookie (from ${origin}). If this front end ` +
        'is yours, list its origin in the `csrf.trustedOrigins` option.',
    );
  }
}

/**
 * A write would make a session hold more than `maxAttributes` attributes, or a stored record larger than
 * `maxRecordBytes`: refused, nothing written. The check is made on the record about to be stored, inside the
 * compare-and-set loop, so concurrent writers cannot pass the limit together. A write that does not grow the
 * record in the dimension at fault (e.g. removing attributes from a session over a lowered limit) is allowed.
 * Over HTTP a 413.
 */
export class SessionLimitError extends YosaiError {
  constructor(
    /** Public id of the session (a hash of its token; safe to log). */
    readonly sessionId: string,
    /** The limit the write would pass. */
    readonly limit: 'maxAttributes' | 'maxRecordBytes',
    /** The limit's configured value. */
    readonly max: number,
    /** What the record would have had: attributes, or bytes of the stored record. */
    readonly actual: number,
  ) {
    super(
      `Session ${sessionId} would exceed \`${limit}\` (${actual} > ${max}); nothing was written. Store less in ` +
        'the session (or raise the option).',
    );
  }
}

/**
 * A store refused to write a session because its principal already has `maxPerPrincipal` live sessions (see
 * `SessionWriteHints`); nothing was written. For store implementers: the life cycle catches it, and either evicts
 * the oldest sessions and writes again, or refuses the login with {@link TooManySessionsError}.
 */
export class PrincipalFullError extends YosaiError {
  constructor(
    /** The principal's live session ids, oldest first. */
    readonly sessions: readonly string[],
  ) {
    super(`The principal already has ${sessions.length} sessions, the most allowed; nothing was written.`);
  }
}

/**
 * A login (or a new session of a principal) was refused because the principal already has
 * `maxSessionsPerPrincipal` live sessions and the policy is `refuse`. Over HTTP a 409. The session that the login
 * would have replaced is left as it was when the cap could be judged before ending it (the usual case).
 */
export class TooManySessionsError extends YosaiError {
  constructor(
    /** The cap in force (`maxSessionsPerPrincipal`). */
    readonly max: number,
  ) {
    super(
      `This account already has ${max} active sessions, the most allowed; sign out of one of them first.`,
    );
  }
}

/** The module was configured wrongly. Thrown at bootstrap; the message names the option. */
export class YosaiConfigurationError extends YosaiError {
  constructor(
    message: string,
    /** The option(s) at fault. */
    readonly option?: string,
  ) {
    super(message);
  }
}

/**
 * No realm accepts this kind of authentication token (`realm.supports(token)` is false for all of them). Reported
 * to clients like any failed login; the log says which token type was refused.
 */
export class UnsupportedTokenError extends AuthenticationError {
  constructor(
    /** The token's class name, e.g. `VerifiedIdentityToken`. */
    readonly tokenType: string,
  ) {
    super(
      `No configured realm supports a ${tokenType}: add a realm whose supports(token) accepts it (see the README's Authentication section).`,
    );
  }
}

/** Text that is not a wildcard permission (empty, blank, only dividers, or an empty part or value). */
export class InvalidPermissionError extends YosaiError {
  constructor(
    /** The text at fault (cut to 64 characters). */
    readonly text: string,
    /** Why it was refused. */
    readonly reason: string,
  ) {
    super(`Invalid permission ${JSON.stringify(text.slice(0, 64))}: ${reason}.`);
  }
}

/**
 * An authorization check on a Subject without identity (a guest): sign in first. Over HTTP, 401. Shiro's
 * `UnauthenticatedException`.
 */
export class UnauthenticatedError extends YosaiError {
  constructor() {
    super('This check needs a signed-in Subject; the Subject is a guest.');
  }
}

/**
 * The Subject is signed in but lacks a role or permission a check demanded. Over HTTP, 403 with a message
 * that names only what was checked (see `mapYosaiError`).
 */
export class AuthorizationError extends YosaiError {
  constructor(
    /** What was checked: roles or permissions. */
    readonly kind: 'role' | 'permission',
    /**
     * What the Subject lacked, as checked: with `logical: 'all'`, the first requirement not met; with `'any'`,
     * every requirement of the check (none was met).
     */
    readonly missing: readonly string[],
    /** Whether the check demanded all of its requirements or any one of them. */
    readonly logical: 'all' | 'any',
  ) {
    super(
      `Not permitted: requires ${kind === 'role' ? 'role' : 'permission'} ${missing.join(logical === 'any' ? ' or ' : ' and ')}.`,
    );
  }
}
