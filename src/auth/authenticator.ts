import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import {
  AuthenticationError,
  IncorrectCredentialsError,
  UnknownAccountError,
  UnsupportedTokenError,
  YosaiConfigurationError,
} from '../errors/yosai.errors.js';
import type { ResolvedYosaiConfig } from '../options/yosai-options.interface.js';
import { LoginFailedEvent } from '../session/session.events.js';
import { YosaiEventPublisher } from '../session/yosai-event.publisher.js';
import { YOSAI_LOGIN_FAILED } from '../yosai.constants.js';
import { YOSAI_CONFIG } from '../yosai.internal-constants.js';
import { PasswordHasher } from './password.hasher.js';
import type { AuthenticatedAccount, AuthenticationToken, Realm } from './realm.js';
import { RealmRegistry } from './realm.registry.js';
import { UsernamePasswordToken } from './username-password.token.js';

const MAX_USERNAME_LENGTH = 1024;

/**
 * Checks a login attempt against the realms that support its token (Yosai's modular authenticator): with
 * `'first-success'` the first realm that accepts it wins, with `'all'` every supporting realm must accept it.
 * Passwords are verified here (timing-safe, with a dummy verification for unknown accounts); failures are
 * reported as `yosai.login.failed`.
 * @internal Used by `Subject.login()`.
 */
@Injectable()
export class Authenticator implements OnModuleInit {
  private readonly logger = new Logger('Authenticator');

  constructor(
    @Inject(YOSAI_CONFIG) private readonly config: ResolvedYosaiConfig,
    private readonly hasher: PasswordHasher,
    private readonly events: YosaiEventPublisher,
    private readonly registry: RealmRegistry,
  ) {}

  /** With a password realm configured, the dummy hash is made now rather than at the first unknown username. */
  async onModuleInit(): Promise<void> {
    const realms = await this.registry.realms();
    if (realms.some((realm) => typeof realm.findAccount === 'function')) await this.hasher.prepare();
  }

  /**
   * @throws AuthenticationError: `UnknownAccountError` / `IncorrectCredentialsError` (report both the same way),
   *   `UnsupportedTokenError` when no realm supports the token
   * @throws YosaiConfigurationError when no realm is configured or a realm returns a bad account
   */
  async authenticate(token: AuthenticationToken): Promise<AuthenticatedAccount> {
    try {
      const realms = await this.registry.realms();
      if (realms.length === 0) {
        throw new YosaiConfigurationError(
          'subject.login() needs a Realm: set the `realm` (or `realms`) option of YosaiModule.',
          'realm',
        );
      }
      const supporting = realms.filter((realm) => supports(realm, token));
      if (supporting.length === 0) {
        const type = (token as object | null)?.constructor?.name ?? typeof token;
        this.logger.warn(`A login with a ${type} was refused: no configured realm supports it.`);
        throw new UnsupportedTokenError(type);
      }
      if (this.config.authenticationStrategy === 'all') {
        let first: AuthenticatedAccount | null = null;
        for (const realm of supporting) {
          const account = await this.attempt(realm, token);
          first ??= account;
        }
        return first!;
      }
      let failure: AuthenticationError | null = null;
      for (const realm of supporting) {
        try {
          return await this.attempt(realm, token);
        } catch (error) {
          if (!(error instanceof AuthenticationError)) throw error;
          failure ??= error;
        }
      }
      throw failure!;
    } catch (error) {
      // One event per failed login, whichever realm refused it.
      if (error instanceof AuthenticationError) this.failed(token);
      throw error;
    } finally {
      token?.clear?.();
    }
  }

  /** One realm's verdict: the account, or an `AuthenticationError`. */
  private async attempt(realm: Realm, token: AuthenticationToken): Promise<AuthenticatedAccount> {
    if (token instanceof UsernamePasswordToken && typeof realm.findAccount === 'function') {
      return this.withPassword(realm, token);
    }
    if (typeof realm.authenticate !== 'function') {
      throw new YosaiConfigurationError(
        `Realm ${realm.constructor.name} says it supports ${token.constructor.name} but has no authenticate(token) method.`,
        'realms',
      );
    }
    const account = await realm.authenticate(token);
    if (!account) throw new UnknownAccountError();
    return checked(account, 'authenticate');
  }

  private async withPassword(realm: Realm, token: UsernamePasswordToken): Promise<AuthenticatedAccount> {
    const username: unknown = token.username;
    const password: unknown = token.password;
    if (typeof username !== 'string' || username.length === 0 || username.length > MAX_USERNAME_LENGTH) {
      await this.hasher.verifyDummy(password);
      throw new UnknownAccountError();
    }
    const account = await realm.findAccount!(username);
    if (!account) {
      await this.hasher.verifyDummy(password);
      throw new UnknownAccountError();
    }
    checked(account, 'findAccount');
    if (!(await this.hasher.verify(account.credentials, password))) {
      throw new IncorrectCredentialsError();
    }
    return account;
  }

  private failed(token: AuthenticationToken): void {
    const principal: unknown = token?.principal;
    const name =
      typeof principal !== 'string'
        ? ''
        : principal.length > MAX_USERNAME_LENGTH
          ? principal.slice(0, 64)
          : principal;
    this.events.publish(YOSAI_LOGIN_FAILED, new LoginFailedEvent(name, this.config.clock.now()));
  }
}

/** A realm takes part when it says so, or by default when it verifies passwords and the token is one. */
function supports(realm: Realm, token: AuthenticationToken): boolean {
  if (typeof realm.supports === 'function') return realm.supports(token) === true;
  return token instanceof UsernamePasswordToken && typeof realm.findAccount === 'function';
}

function checked<A extends AuthenticatedAccount>(account: A, method: string): A {
  if (
    !Array.isArray(account.identifiers) ||
    account.identifiers.length === 0 ||
    !account.identifiers.every((i) => typeof i === 'string' && i.length > 0)
  ) {
    throw new YosaiConfigurationError(
      `Realm.${method}() returned an account without identifiers: return { identifiers: [primary, ...] }.`,
      'realm',
    );
  }
  return account;
}
