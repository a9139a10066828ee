import type { Authenticator } from '../auth/authenticator.js';
import type { AuthenticationToken } from '../auth/realm.js';
import type { Authorizer, Logical, PermissionLike } from '../authz/authorizer.js';
import { ExpiredSessionError, StoppedSessionError } from '../errors/yosai.errors.js';
import { LoginSucceededEvent } from '../session/session.events.js';
import type { IssuedSession, SessionManager, SessionResolution } from '../session/session.manager.js';
import type { Session } from '../session/session.js';
import type { YosaiEventPublisher } from '../session/yosai-event.publisher.js';
import { YOSAI_LOGIN_SUCCEEDED } from '../yosai.constants.js';
import type { TokenSink } from './token-source.js';

/** What a Subject needs from the module (not exported from the package). */
export interface SubjectContext {
  readonly manager: SessionManager;
  readonly authenticator: Authenticator;
  readonly authorizer: Authorizer;
  readonly events: YosaiEventPublisher;
  readonly now: () => number;
}

/** How a Subject starts (not exported from the package). */
export interface SubjectInit {
  readonly session: Session | null;
  readonly resolution: SessionResolution['status'];
  readonly sink?: TokenSink;
  /** Where the client address is read from, only if a session starts. */
  readonly request?: { readonly ip?: string };
  /** The client address for a session this Subject starts; when undefined it is read from `request.ip`. */
  readonly host?: string | null;
}

const NO_SINK: TokenSink = { issue() {}, clear() {} };

/**
 * Who is making the request: a guest, or an authenticated user. Made per request by `YosaiGuard` (or by
 * `SubjectFactory` outside HTTP) and handed to handlers by `@CurrentSubject()`.
 *
 * A guest that never asks for a session costs no store traffic and sets no cookie.
 */
export class Subject {
  #session: Session | null = null;
  readonly #context: SubjectContext;
  readonly #sink: TokenSink;
  /** The client address; read from `#request` only when a session starts (undefined until then). */
  #host: string | null | undefined;
  readonly #request: { readonly ip?: string } | undefined;
  readonly #resolution: SessionResolution['status'];
  /** Set while the session is being replaced: the old one stopping must not clear the client's token. */
  #replacing = false;
  /** Set while the user logs out: the transport may then clear more than the token (Clear-Site-Data). */
  #loggingOut = false;

  private constructor(context: SubjectContext, init: SubjectInit) {
    this.#context = context;
    this.#sink = init.sink ?? NO_SINK;
    this.#host = init.host;
    this.#request = init.request;
    this.#resolution = init.resolution;
    if (init.session) this.#bind(init.session);
  }

  /** @internal Subjects are made by `SubjectFactory`. */
  static create(context: SubjectContext, init: SubjectInit): Subject {
    return new Subject(context, init);
  }

  /** Identifiers of the user, primary first; empty for a guest. */
  get identifiers(): readonly string[] {
    return this.#live()?.identifiers ?? [];
  }

  /** The primary identifier (e.g. the username), or null for a guest. */
  get primaryIdentifier(): string | null {
    return this.identifiers[0] ?? null;
  }

  /** True when the user logged in during the current session. */
  get isAuthenticated(): boolean {
    return this.#live()?.isAuthenticated ?? false;
  }

  /**
   * What became of the token the client presented: `none`, `malformed`, `unknown`, `expired` or `valid`.
   * Useful to tell "your session expired" apart from "please sign in".
   */
  get tokenStatus(): SessionResolution['status'] {
    return this.#resolution;
  }

  /** The current session if there is one, without creating one (no store traffic). */
  get session(): Session | null {
    return this.#live();
  }

  /**
   * The Subject's session. With `create` (the default) a guest session is started when there is none:
   * one store write, and the token is sent with this response. With `create = false`, null instead.
   */
  getSession(create?: true): Promise<Session>;
  getSession(create: boolean): Promise<Session | null>;
  async getSession(create = true): Promise<Session | null> {
    const current = this.#live();
    if (current || !create) return current;
    return this.#adopt(await this.#context.manager.startSession({ host: this.#clientHost() }));
  }

  /**
   * Authenticates through the realms that support the token, then replaces the session (new token and id, the
   * old token dead at once, a new absolute-timeout window). Attributes are carried over only from a guest session
   * or from a session of the same user. On failure nothing changes and the error is thrown. Takes a
   * `UsernamePasswordToken`, a `VerifiedIdentityToken` (only with a `VerifiedIdentityRealm` configured) or any
   * `AuthenticationToken` a configured realm supports.
   * @throws AuthenticationError (`UnknownAccountError`, `IncorrectCredentialsError`, `UnsupportedTokenError`;
   *   report them alike)
   * @throws LoginThrottledError when the username or client address is locked after failed logins, or too many
   *   password verifications are in progress (429 over HTTP, with `Retry-After`)
   * @throws SessionStoreError when the store fails (the throttle's counters included)
   */
  async login(token: AuthenticationToken): Promise<void> {
    const clientAddress = this.#clientHost();
    const account = await this.#context.authenticator.authenticate(token, { clientAddress });
    const identity = { identifiers: [...account.identifiers], authenticated: true };
    const current = this.#live();
    const next = this.#adopt(
      current
        ? await this.#replace(current, identity, 'login')
        : await this.#context.manager.startSession({ host: this.#clientHost(), ...identity }),
    );
    this.#context.events.publish(
      YOSAI_LOGIN_SUCCEEDED,
      new LoginSucceededEvent(next.id, identity.identifiers, this.#context.now(), clientAddress),
    );
  }

  /**
   * Replaces the session by a new one with the same identity and attributes (new token and id; the old
   * token dead at once), as advised after any privilege change. Starts a session when there is none.
   * The new session keeps the old one's start, so the absolute timeout still counts from the login.
   * Emits `stopped` (reason `regenerated`) and `started`.
   * @throws ExpiredSessionError when the session passed its timeouts while this Subject held it (it is expired
   * then: one `yosai.session.expired`): nothing is started and the client's token is cleared.
   * @throws StoppedSessionError when the session was ended meanwhile (a concurrent logout): nothing is
   * started and the client's token is cleared.
   * @throws SessionStoreError when the store fails
   */
  async regenerateSession(): Promise<Session> {
    const current = this.#live();
    if (!current) return this.getSession();
    return this.#adopt(
      await this.#replace(
        current,
        { identifiers: current.identifiers, authenticated: current.isAuthenticated },
        'regenerate',
      ),
    );
  }

  /**
   * Ends the session (record deleted, `yosai.session.stopped` with reason `logout` and the identifiers it
   * had), clears the token, and leaves a guest. A second logout is a no-op.
   */
  async logout(): Promise<void> {
    const session = this.#live();
    if (!session) return;
    this.#loggingOut = true;
    try {
      await this.#context.manager.stop(session, 'logout');
    } finally {
      this.#loggingOut = false;
    }
  }

  /** Whether the Subject has the role (false for a guest). Roles are compared exactly. */
  async hasRole(role: string): Promise<boolean> {
    return (await this.#context.authorizer.hasRoles(this.#live(), [role]))[0];
  }

  /** Whether the Subject has each of the roles, in order (all false for a guest). */
  async hasRoles(roles: readonly string[]): Promise<boolean[]> {
    return this.#context.authorizer.hasRoles(this.#live(), roles);
  }

  /** Whether the Subject has every one of the roles (false for a guest). */
  async hasAllRoles(roles: readonly string[]): Promise<boolean> {
    return (await this.hasRoles(roles)).every(Boolean);
  }

  /**
   * Whether the Subject's permissions imply the permission (wildcard text such as `lane:read:7`, or a
   * `WildcardPermission`), or, given a list, each of them in order. False for a guest.
   * @throws InvalidPermissionError for text that is not a permission
   */
  isPermitted(permission: PermissionLike): Promise<boolean>;
  isPermitted(permissions: readonly PermissionLike[]): Promise<boolean[]>;
  async isPermitted(permissions: PermissionLike | readonly PermissionLike[]): Promise<boolean | boolean[]> {
    if (!Array.isArray(permissions)) {
      return (await this.#context.authorizer.arePermitted(this.#live(), [permissions as PermissionLike]))[0];
    }
    return this.#context.authorizer.arePermitted(this.#live(), permissions as readonly PermissionLike[]);
  }

  /** Whether the Subject's permissions imply every one of these (false for a guest). */
  async isPermittedAll(permissions: readonly PermissionLike[]): Promise<boolean> {
    return (await this.#context.authorizer.arePermitted(this.#live(), permissions)).every(Boolean);
  }

  /**
   * Demands a role, or several (all of them unless `logical: 'any'`), and reports the outcome as
   * `yosai.authorization.granted` / `denied`.
   * @throws UnauthenticatedError for a guest (401 over HTTP)
   * @throws AuthorizationError when a role is lacking (403 over HTTP)
   */
  async checkRole(roles: string | readonly string[], options: { logical?: Logical } = {}): Promise<void> {
    await this.#context.authorizer.check(this.#live(), {
      kind: 'role',
      required: typeof roles === 'string' ? [roles] : [...roles],
      logical: options.logical ?? 'all',
    });
  }

  /**
   * Demands a permission, or several (all of them unless `logical: 'any'`), and reports the outcome as
   * `yosai.authorization.granted` / `denied`.
   * @throws UnauthenticatedError for a guest (401 over HTTP)
   * @throws AuthorizationError when a permission is lacking (403 over HTTP)
   * @throws InvalidPermissionError for text that is not a permission
   */
  async checkPermission(
    permissions: PermissionLike | readonly PermissionLike[],
    options: { logical?: Logical } = {},
  ): Promise<void> {
    await this.#context.authorizer.check(this.#live(), {
      kind: 'permission',
      required: Array.isArray(permissions)
        ? [...(permissions as readonly PermissionLike[])]
        : [permissions as PermissionLike],
      logical: options.logical ?? 'all',
    });
  }

  /** @internal A decorator's check, with its requirements named as written. */
  authorize(check: Parameters<Authorizer['check']>[1]): Promise<void> {
    return this.#context.authorizer.check(this.#live(), check);
  }

  async #replace(
    current: Session,
    identity: { identifiers: readonly string[] | null; authenticated: boolean },
    reason: 'login' | 'regenerate',
  ) {
    this.#replacing = true;
    try {
      return await this.#context.manager.replaceSession(current, identity, { reason });
    } catch (error) {
      // The session ended under us (a concurrent logout, or its timeouts while it was held): its token is dead, so
      // the client drops it too.
      if (error instanceof StoppedSessionError || error instanceof ExpiredSessionError) this.#sink.clear();
      throw error;
    } finally {
      this.#replacing = false;
    }
  }

  #clientHost(): string | null {
    if (this.#host === undefined) this.#host = this.#request?.ip ?? null;
    return this.#host;
  }

  #live(): Session | null {
    const session = this.#session;
    return session && !session.isStopped ? session : null;
  }

  /** Holds a session just started or replaced, and sends its token to the client. */
  #adopt(issued: IssuedSession): Session {
    this.#bind(issued.session);
    this.#sink.issue(issued.token);
    return issued.session;
  }

  #bind(session: Session) {
    this.#session = session;
    this.#context.manager.own(session, this);
  }

  /** @internal Told by the life cycle, once, when a session this Subject holds has stopped. */
  sessionStopped(session: Session): void {
    if (this.#session !== session) return;
    this.#session = null;
    if (!this.#replacing) this.#sink.clear(this.#loggingOut ? 'logout' : undefined);
  }

  toJSON() {
    return {
      identifiers: this.identifiers,
      isAuthenticated: this.isAuthenticated,
      sessionId: this.#live()?.id ?? null,
    };
  }
}
