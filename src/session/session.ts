import { decodeValue } from './session.serializer.js';
import { registerSessionStateAccess, stateOf, type SessionState } from './session.internals.js';
import type { SessionManager } from './session.manager.js';

/**
 * Server-side state of one Subject across requests.
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
  /** Token, record and manager: unreachable from outside the library and invisible to `console.log`. */
  #state: SessionState | undefined;

  static {
    registerSessionStateAccess({
      read: (session) =>
        session !== null && typeof session === 'object' && #state in session ? session.#state : undefined,
      write: (session, state) => {
        session.#state = state;
      },
    });
  }

  /** @internal Sessions are made by {@link SessionManager}. */
  constructor(
    /** Public id: SHA-256 of the token, base64url. Safe to log; it cannot be turned back into the token. */
    readonly id: string,
  ) {}

  private get manager(): SessionManager {
    return stateOf(this).manager;
  }

  /** When the session started, epoch ms. */
  get startedAt(): number {
    return stateOf(this).record.startedAt;
  }
  /** Last recorded access, epoch ms. Written at most once per `touchIntervalMs`. */
  get lastAccessedAt(): number {
    return stateOf(this).record.lastAccessedAt;
  }
  /** Idle timeout in force for this session, ms (its own, capped by the current configuration). */
  get idleTimeoutMs(): number {
    const state = stateOf(this);
    return state.manager.idleTimeoutOf(state.record);
  }
  /** Absolute timeout in force for this session, ms (its own, capped by the current configuration). */
  get absoluteTimeoutMs(): number {
    const state = stateOf(this);
    return state.manager.absoluteTimeoutOf(state.record);
  }
  /** When the session will expire if not accessed again, epoch ms. */
  get expiresAt(): number {
    const state = stateOf(this);
    return state.manager.expiresAtOf(state.record);
  }
  /** Client address seen when the session started, or null. */
  get host(): string | null {
    return stateOf(this).record.host;
  }
  /** Identifiers of the owner, primary first; null for a guest session. */
  get identifiers(): readonly string[] | null {
    return stateOf(this).record.identifiers;
  }
  /** True once the session was stopped, replaced or found deleted. */
  get isStopped(): boolean {
    return stateOf(this).stopped;
  }
  /** Names of the attributes, in insertion order. */
  get attributeKeys(): string[] {
    return Object.keys(stateOf(this).record.attributes);
  }

  /** The attribute's value, or `undefined` when it is not set. Never touches the store. */
  getAttribute<T = unknown>(key: string): T | undefined {
    const state = stateOf(this);
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
   * @throws SessionSerializationError when the value cannot be stored; nothing is written.
   * @throws StoppedSessionError / ExpiredSessionError when the session has ended.
   * @throws SessionStoreError when the store fails.
   */
  async setAttribute(key: string, value: unknown): Promise<void> {
    await this.manager.updateAttributes(this, { [key]: value }, []);
  }

  /** Stores several attributes in one write. Same errors as {@link setAttribute}. */
  async setAttributes(values: Record<string, unknown>): Promise<void> {
    await this.manager.updateAttributes(this, values, []);
  }

  /** Removes an attribute (one store write) and returns its previous value. */
  async removeAttribute<T = unknown>(key: string): Promise<T | undefined> {
    const previous = this.getAttribute<T>(key);
    await this.manager.updateAttributes(this, {}, [key]);
    return previous;
  }

  /** Records an access now, whatever the touch interval (one store write). */
  async touch(): Promise<void> {
    await this.manager.updateAttributes(this, {}, []);
  }

  /** Ends the session: the record is deleted and `yosai.session.stopped` (reason `stopped`) is emitted. */
  async stop(): Promise<void> {
    await this.manager.stop(this, 'stopped');
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
