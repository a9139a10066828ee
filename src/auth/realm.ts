import type { Type } from '@nestjs/common';
import type { MaybePromise } from '../common/maybe-promise.js';
import type { WildcardPermission } from '../authz/wildcard-permission.js';

/**
 * A login attempt: what `subject.login(token)` takes (Yosai's and Shiro's AuthenticationToken). The module ships
 * `UsernamePasswordToken` and `VerifiedIdentityToken`; an app may define its own (a passkey assertion, an OAuth
 * code) and a realm whose `supports(token)` accepts it.
 */
export interface AuthenticationToken {
  /**
   * Who the attempt claims to be, for the `yosai.login.failed` event (never a secret). `UsernamePasswordToken`
   * gives its username.
   * @default undefined (the event then carries an empty username)
   */
  readonly principal?: string;
  /** Forgets any secret the token holds. Called by the module after every attempt, successful or not. */
  clear?(): void;
}

/** What a {@link Realm} returns for a username. */
export interface Account {
  /** Identifiers of the account, primary first (e.g. `['thedude']` or `[userId, email]`). At least one. */
  readonly identifiers: readonly string[];
  /**
   * The stored credentials: a PHC string made by `PasswordHasher.hash()` (scrypt).
   * The module verifies them; the realm never sees a comparison.
   */
  readonly credentials: string;
}

/** What {@link Realm.authenticate} returns for a token it verified itself. */
export interface AuthenticatedAccount {
  /** Identifiers of the account, primary first. At least one. */
  readonly identifiers: readonly string[];
}

/** Roles and permissions of an identity, as a realm knows them (Yosai's and Shiro's AuthorizationInfo). */
export interface AuthorizationInfo {
  /** Role names, compared exactly (case-sensitive). @default none */
  readonly roles?: Iterable<string>;
  /**
   * Permissions in wildcard syntax (`lane:read:*`) or as `WildcardPermission`s (e.g. case-sensitive ones).
   * Text that is not a permission is logged and grants nothing. @default none
   */
  readonly permissions?: Iterable<string | WildcardPermission>;
}

/**
 * The app's source of accounts, roles and permissions (Yosai's and Shiro's Realm). Give it to the module's
 * `realm` (or `realms`) option as an instance, or as a class or injection token that Nest resolves (so the realm
 * can inject the app's services and the module's `PasswordHasher`). Implement what the realm is for:
 *
 * - `findAccount(username)`: password logins; the module verifies the password (and `upgradeCredentials`, when
 *   present, receives a stronger hash of a password whose stored hash is below the configured cost).
 * - `supports(token)` + `authenticate(token)`: any other token (the realm verifies it itself).
 * - `getAuthorizationInfo(identifiers)`: roles and permissions, cached for the session's life.
 *
 * @example
 * @Injectable()
 * class UsersRealm extends Realm {
 *   constructor(private readonly users: UsersService) { super(); }
 *   async findAccount(username: string) {
 *     const user = await this.users.findByName(username);
 *     return user ? { identifiers: [user.name], credentials: user.passwordHash } : null;
 *   }
 *   async getAuthorizationInfo([name]: readonly string[]) {
 *     const user = await this.users.findByName(name);
 *     return user ? { roles: user.roles, permissions: user.permissions } : null;
 *   }
 * }
 */
export abstract class Realm {
  /** The account for a username, or `null`/`undefined` when there is none. May be sync or async. */
  findAccount?(username: string): MaybePromise<Account | null | undefined>;

  /**
   * Stores a new hash of a user's password (Spring Security's `upgradeEncoding`). Called after a successful password
   * login whose stored hash (from `findAccount`) is weaker than the module's `passwordHashing` parameters, with the
   * username as the user typed it and a PHC string made at the configured cost. Optional: without it, old hashes
   * stay as they are. An error it throws is logged and does not fail the login.
   */
  upgradeCredentials?(username: string, credentials: string): MaybePromise<void>;
  /**
   * Whether this realm takes part in a login with this token.
   * @default a realm with `findAccount` supports `UsernamePasswordToken`s, and nothing else
   */
  supports?(token: AuthenticationToken): boolean;

  /**
   * Verifies a token this realm supports that is not a `UsernamePasswordToken` (or is one, when the realm has no
   * `findAccount`). Returns the account, `null`/`undefined` for "no such account", or throws an
   * `AuthenticationError` for bad credentials.
   */
  authenticate?(token: AuthenticationToken): MaybePromise<AuthenticatedAccount | null | undefined>;

  /**
   * Roles and permissions of the identity with these identifiers (primary first), or `null`/`undefined` when this
   * realm knows none. Called once per session (see `authorizationCacheTtlMs`), not once per check.
   */
  getAuthorizationInfo?(identifiers: readonly string[]): MaybePromise<AuthorizationInfo | null | undefined>;
}

/**
 * A realm as the options give it: an instance, a class Nest resolves (registered as a provider in one of the app's
 * modules, or built by the module with its dependencies), or the injection token of a provider.
 */
export type RealmProvider = Realm | Type<Realm> | string | symbol;
