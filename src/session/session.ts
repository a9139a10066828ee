import type { ExpiryPolicy } from './expiry.policy.js';
import type { SessionRecord } from './record.codec.js';
import type { SessionStopReason } from './session.events.js';
import { decodeValue } from './session.serializer.js';

/** What a Session asks of the life cycle that made it. */
export interface SessionOperations {
  readonly policy: ExpiryPolicy;
  updateAttributes(session: Session, set: Record<string, unknown>, remove: readonly string[]): Promise<void>;
  stop(session: Session, reason: SessionStopReason): Promise<void>;
}

/** Who holds a session (a `Subject`), told once when it stops so that it can clear the client's token. */
export interface SessionOwner {
  sessionStopped(session: Session): void;
}

/**
 * State of a Session that must not be reachable from outside the library, nor visible in
 * `console.log(session)`: the token above all. Kept in a private field of the Session.
 */
export interface SessionState {
  readonly token: string;
  readonly operations: SessionOperations;
  /** The stored string this process last read or wrote: the `expected` of the next compare-and-set. */
  raw: string;
  record: SessionRecord;
  /** Where the record is kept in the field model; undefined in the string model. */
  form?: FieldForm;
  /** Decoded attribute values, filled lazily (no Map until an attribute is read). */
  decoded: Map<string, unknown> | undefined;
  stopped: boolean;
  owner: SessionOwner | undefined;
}

/** A record of the field model as this process last read or wrote it. */
export interface FieldForm {
  /**
   * The record's version (the store's field `v`); 0 for a string-model record not yet converted; -1 when this
   * process's copy may lack other instances' changes (until it is read again).
   */
  readonly version: number;
  /** Kept where the string model keeps records (an earlier release's record, converted in place or not yet). */
  readonly legacy: boolean;
  /** A string-model record (the exact string read), to convert on its next write. */
  readonly convertFrom?: string;
}

let readState: (session: Session) => SessionState | undefined;

/**
 * Server-side state of one Subject across requests. Made by `SessionManager`; get one from
 * `subject.getSession()` or `SessionManager.startSession()`.
 *
 * Reads come from the record loaded with the request and never touch the store. Writes
 * (`setAttribute`, `setAttributes`, `removeAttribute`, `touch`, `stop`) go straight through to the store
 * and apply only the keys they change to the freshest stored record, so concurrent requests that set
 * different keys keep each other's changes; a write never brings back a session that was stopped.
 *
 * The token is not a property of this object: `JSON.stringify(session)` and `console.log(session)`
 * cannot leak it.
 */
export class Session {
  #state: SessionState;

  static {
    readState = (session) =>
      session !== null && typeof session === 'object' && #state in session ? session.#state : undefined;
  }

  private constructor(
    /** Public id: SHA-256 of the token, base64url. Safe to log; it cannot be turned back into the token. */
    readonly id: string,
    state: SessionState,
  ) {
    this.#state = state;
  }

  /** @internal Sessions are made by the session life cycle only. */
  static create(id: string, state: SessionState): Session {
    return new Session(id, state);
  }

  /** When the session started, epoch ms. Kept when the session is regenerated. */
  get startedAt(): number {
    return this.#state.record.startedAt;
  }
  /** Last recorded access, epoch ms. Written at most once per `touchIntervalMs`. */
  get lastAccessedAt(): number {
    return this.#state.record.lastAccessedAt;
  }
  /** Idle timeout in force for this session, ms (its own, capped by the current configuration). */
  get idleTimeoutMs(): number {
    return this.#state.operations.policy.idleTimeoutOf(this.#state.record);
  }
  /** Absolute timeout in force for this session, ms (its own, capped by the current configuration). */
  get absoluteTimeoutMs(): number {
    return this.#state.operations.policy.absoluteTimeoutOf(this.#state.record);
  }
  /** When the session will expire if not accessed again, epoch ms. */
  get expiresAt(): number {
    return this.#state.operations.policy.expiresAtOf(this.#state.record);
  }
  /** Client address seen when the session started, or null. */
  get host(): string | null {
    return this.#state.record.host;
  }
  /** Identifiers of the owner, primary first; null for a guest session. */
  get identifiers(): readonly string[] | null {
    return this.#state.record.identifiers;
  }
  /** True when the owner logged in (or was signed in) in this session. */
  get isAuthenticated(): boolean {
    return this.#state.record.authenticated;
  }
  /** True once the session was stopped, replaced or found deleted. */
  get isStopped(): boolean {
    return this.#state.stopped;
  }
  /** Names of the attributes, in insertion order. */
  get attributeKeys(): string[] {
    return Object.keys(this.#state.record.attributes);
  }

  /** The attribute's value, or `undefined` when it is not set. Never touches the store. */
  getAttribute<T = unknown>(key: string): T | undefined {
    const state = this.#state;
    if (state.decoded?.has(key)) return state.decoded.get(key) as T;
    if (!Object.prototype.hasOwnProperty.call(state.record.attributes, key)) return undefined;
    const value = decodeValue(state.record.attributes[key]);
    (state.decoded ??= new Map()).set(key, value);
    return value as T;
  }

  /** All attributes as a plain object (decoded copies). */
  getAttributes(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const key of this.attributeKeys) {
      Object.defineProperty(out, key, {
        value: this.getAttribute(key),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }

  /**
   * Stores one attribute (one store write).
   * @throws SessionSerializationError when the value cannot be stored (a programming error); nothing is written.
   * @throws StoppedSessionError / ExpiredSessionError when the session has ended.
   * @throws SessionStoreError when the store fails.
   */
  async setAttribute(key: string, value: unknown): Promise<void> {
    await this.#state.operations.updateAttributes(this, { [key]: value }, []);
  }

  /** Stores several attributes in one write. Same errors as {@link setAttribute}. */
  async setAttributes(values: Record<string, unknown>): Promise<void> {
    await this.#state.operations.updateAttributes(this, values, []);
  }

  /** Removes an attribute (one store write) and returns its previous value. */
  async removeAttribute<T = unknown>(key: string): Promise<T | undefined> {
    const previous = this.getAttribute<T>(key);
    await this.#state.operations.updateAttributes(this, {}, [key]);
    return previous;
  }

  /** Records an access now, whatever the touch interval (one store write). */
  async touch(): Promise<void> {
    await this.#state.operations.updateAttributes(this, {}, []);
  }

  /** Ends the session: the record is deleted and `yosai.session.stopped` (reason `stopped`) is emitted. */
  async stop(): Promise<void> {
    await this.#state.operations.stop(this, 'stopped');
  }

  /** Public fields only; never the token. */
  toJSON() {
    return {
      id: this.id,
      startedAt: this.startedAt,
      lastAccessedAt: this.lastAccessedAt,
      idleTimeoutMs: this.idleTimeoutMs,
      absoluteTimeoutMs: this.absoluteTimeoutMs,
      host: this.host,
    };
  }
}

/** The private state of a session (not exported from the package). made by this library. */
export function stateOf(session: Session): SessionState {
  const state = readState(session);
  if (!state) throw new TypeError('Not a session created by nestjs-yosai.');
  return state;
}

/** The token of a session (not exported from the package), for the transport that sends it to the client. Never log it. */
export function tokenOf(session: Session): string {
  return stateOf(session).token;
}
