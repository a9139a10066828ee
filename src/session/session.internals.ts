import type { SessionRecord } from './session.serializer.js';
import type { Session } from './session.js';
import type { SessionManager } from './session.manager.js';

/**
 * State of a Session that must not be reachable from outside the library, nor visible in
 * `console.log(session)`: the token above all. Kept in a WeakMap instead of on the object.
 */
export interface SessionState {
  readonly token: string;
  readonly manager: SessionManager;
  /** The stored string this process last read or wrote: the `expected` of the next compare-and-set. */
  raw: string;
  record: SessionRecord;
  /** Decoded attribute values, filled lazily. */
  decoded: Map<string, unknown>;
  stopped: boolean;
  /** Called once after the session was stopped, so the owning Subject can clear the token. */
  onStopped?: () => void;
}

const states = new WeakMap<Session, SessionState>();

export function stateOf(session: Session): SessionState {
  const state = states.get(session);
  if (!state) throw new TypeError('Not a session created by nestjs-yosai.');
  return state;
}

export function bindState(session: Session, state: SessionState): void {
  states.set(session, state);
}

/** The token of a session, for the transport that sends it to the client. Never log it. */
export function tokenOf(session: Session): string {
  return stateOf(session).token;
}
