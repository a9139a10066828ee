/** Payloads of the authorization events. Like every event of this library, they never carry a token. */

/** Payload of `yosai.authorization.granted`: an enforced check (a decorator, `checkRole`, `checkPermission`) passed. */
export class AuthorizationGrantedEvent {
  constructor(
    /** Public id of the session (a hash of its token). */
    readonly sessionId: string,
    /** The Subject's primary identifier. */
    readonly identifier: string,
    /** Whether roles or permissions were checked. */
    readonly kind: 'role' | 'permission',
    /** The roles or permissions checked (a decorator's permission as written, e.g. `lane:read:{lane}`). */
    readonly checked: readonly string[],
    /** Whether all of them were required, or any one. */
    readonly logical: 'all' | 'any',
    /** When, in epoch milliseconds. */
    readonly at: number,
  ) {
    Object.freeze(this);
  }
}

/** Payload of `yosai.authorization.denied`: an enforced check failed for a signed-in Subject. */
export class AuthorizationDeniedEvent {
  constructor(
    readonly sessionId: string,
    readonly identifier: string,
    readonly kind: 'role' | 'permission',
    /** What was lacking, as checked: the first unmet requirement (`'all'`) or every requirement (`'any'`). */
    readonly missing: readonly string[],
    readonly logical: 'all' | 'any',
    readonly at: number,
  ) {
    Object.freeze(this);
  }
}
