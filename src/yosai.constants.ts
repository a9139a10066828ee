/**
 * Public constants of nestjs-yosai.
 *
 * Keys are registered with `Symbol.for` so that the ESM and CommonJS builds of this package agree on them
 * even if an app ends up loading both (the dual-package hazard).
 */

/**
 * The key under which `YosaiGuard` keeps the request's `Subject` (in Express's `res.locals`, else on the request).
 * Read it with `subjectOf(request)`.
 */
export const YOSAI_SUBJECT: unique symbol = Symbol.for('nestjs-yosai:subject') as never;

/** Emitted after a new session has been written to the store. Payload: `SessionStartedEvent`. */
export const YOSAI_SESSION_STARTED = 'yosai.session.started';
/** Emitted after a session was ended by logout, `stop()` or replacement at login. Payload: `SessionStoppedEvent`. */
export const YOSAI_SESSION_STOPPED = 'yosai.session.stopped';
/** Emitted once when an expired session is found and removed. Payload: `SessionExpiredEvent`. */
export const YOSAI_SESSION_EXPIRED = 'yosai.session.expired';
/** Emitted after a successful login. Payload: `LoginSucceededEvent`. */
export const YOSAI_LOGIN_SUCCEEDED = 'yosai.login.succeeded';
/** Emitted after a failed login (unknown account or wrong credentials alike). Payload: `LoginFailedEvent`. */
export const YOSAI_LOGIN_FAILED = 'yosai.login.failed';

/**
 * Emitted when an enforced authorization check passes (`@RequiresRoles`, `@RequiresPermissions`, `checkRole`,
 * `checkPermission`). Payload: `AuthorizationGrantedEvent`.
 */
export const YOSAI_AUTHORIZATION_GRANTED = 'yosai.authorization.granted';
/** Emitted when an enforced authorization check refuses a signed-in Subject. Payload: `AuthorizationDeniedEvent`. */
export const YOSAI_AUTHORIZATION_DENIED = 'yosai.authorization.denied';

/** All event names, for `@OnEvent('yosai.**')`-style wiring or iteration. */
export const YOSAI_EVENTS = Object.freeze({
  SESSION_STARTED: YOSAI_SESSION_STARTED,
  SESSION_STOPPED: YOSAI_SESSION_STOPPED,
  SESSION_EXPIRED: YOSAI_SESSION_EXPIRED,
  LOGIN_SUCCEEDED: YOSAI_LOGIN_SUCCEEDED,
  LOGIN_FAILED: YOSAI_LOGIN_FAILED,
  AUTHORIZATION_GRANTED: YOSAI_AUTHORIZATION_GRANTED,
  AUTHORIZATION_DENIED: YOSAI_AUTHORIZATION_DENIED,
} as const);
