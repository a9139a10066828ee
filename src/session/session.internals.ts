import type { SessionRecord } from './session.serializer.js';
import type { Session } from './session.js';
import type { SessionManager } from './session.manager.js';

/**
 * State of a Session that must not be reachable from outside the library, nor visible in
 * `console.log(session)`: the token above all. Kept in a private field (`#state`) of the Session.
 */
export interface SessionState {
  readonly token: string;
  readonly manager: SessionManager;
  /** The stored string this process last read or wrote: the `expected` of the next compare-and-set. */
  raw: string;
  record: SessionRecord;
  /** Decoded attribute values, filled lazily (no Map until an attribute is read). */
  decoded: Map<string, unknown> | undefined;
  stopped: boolean;
  /** The Subject that holds this session, told once when it stops, so that it can clear the token. */
  owner: SessionOwner | undefined;
}

/**
 * @internal The method a session's owner (a `Subject`) is told through. A symbol the package does not export,
 * rather than a closure per Subject: a Subject is made on every authenticated request.
 */
export const SESSION_STOPPED = Symbol('nestjs-yosai.sessionStopped');

/** @internal */
export interface SessionOwner {
  [SESSION_STOPPED](session: Session): void;
}

/**
 * Reader and writer of the private `#state` field of `Session`, handed over by the class itself (see its static
 * block). A private field instead of a WeakMap: a Session is made per request, and a WeakMap whose keys are
 * that short-lived costs more than the rest of resolving a session (ephemeron work on every garbage collection).
 */
let access:
  | { read(session: Session): SessionState | undefined; write(session: Session, state: SessionState): void }
  | undefined;

/** @internal Called once, by the `Session` class. */
export function registerSessionStateAccess(accessor: NonNullable<typeof access>): void {
  access ??= accessor;
}

export function stateOf(session: Session): SessionState {
  const state = access?.read(session);
  if (!state) throw new TypeError('Not a session created by nestjs-yosai.');
  return state;
}

export function bindState(session: Session, state: SessionState): void {
  access!.write(session, state);
}

/** The token of a session, for the transport that sends it to the client. Never log it. */
export function tokenOf(session: Session): string {
  return stateOf(session).token;
}
