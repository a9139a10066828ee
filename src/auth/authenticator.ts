import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import {
  AuthenticationError,
  IncorrectCredentialsError,
  LoginThrottledError,
  UnknownAccountError,
  UnsupportedTokenError,
  YosaiConfigurationError,
} from '../errors/yosai.errors.js';
import type { ResolvedYosaiConfig } from '../options/yosai-options.interface.js';
import { LoginFailedEvent, type LoginFailureReason } from '../session/session.events.js';
import { YosaiEventPublisher } from '../session/yosai-event.publisher.js';
import { YOSAI_LOGIN_FAILED } from '../yosai.constants.js';
import { YOSAI_CONFIG } from '../yosai.internal-constants.js';
import { LoginThrottle } from './login-throttle.js';
import { PasswordHasher } from './password.hasher.js';
import type { AuthenticatedAccount, AuthenticationToken, Realm } from './realm.js';
import { RealmRegistry } from './realm.registry.js';
import { UsernamePasswordToken } from './username-password.token.js';
import { VerificationLimiter } from './verification-limiter.js';

/** Where a login attempt comes from. */
export interface AttemptContext {
  /** The client's address (the request's `ip`), for throttling per address, fairness and events; null when unknown. */
  readonly clientAddress?: string | null;
}

const MAX_USERNAME_LENGTH = 1024;

/**
 * Checks a login attempt against the realms that support its token (Yosai's modular authenticator): with
 * `'first-success'` the first realm that accepts it wins, with `'all'` every supporting realm must accept it.
 * Passwords are verified here (timing-safe, with a dummy verification for unknown accounts), after the login throttle
 * admitted the attempt and within the cap on concurrent verifications; failures are reported as `yosai.login.failed`.
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
    private readonly throttle: LoginThrottle,
    private readonly limiter: VerificationLimiter,
  ) {}

  /** With a password realm configured, the dummy hash is made now rather than at the first unknown username. */
  async onModuleInit(): Promise<void> {
    const realms = await this.registry.realms();
    if (realms.some((realm) => typeof realm.findAccount === 'function')) await this.hasher.prepare();
  }

  /**
   * @throws AuthenticationError: `UnknownAccountError` / `IncorrectCredentialsError` (report both the same way),
   *   `UnsupportedTokenError` when no realm supports the token
   * @throws LoginThrottledError when throttling or the verification cap refuses a password login unchecked
   * @throws SessionStoreError when the throttle's counters cannot be read or written (fail closed)
   * @throws YosaiConfigurationError when no realm is configured or a realm returns a bad account
   */
  async authenticate(
    token: AuthenticationToken,
    context: AttemptContext = {},
  ): Promise<AuthenticatedAccount> {
    const address = context.clientAddress ?? null;
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
      // Password logins are throttled: counted before any password is checked, so the count is exact.
      const ticket =
        token instanceof UsernamePasswordToken &&
        this.throttle.enabled &&
        supporting.some((realm) => typeof realm.findAccount === 'function')
          ? await this.throttle.admit(token.username, address)
          : null;
      let account: AuthenticatedAccount;
      const verdict = { refused: false };
      try {
        account = await this.judge(supporting, token, address, verdict);
      } catch (error) {
        // Only a judged failure counts: not one the verification cap refused, nor a realm that failed. A realm that
        // fails after another refused the password leaves that refusal counted: else every wrong guess would be
        // free while a second realm is down (or made to throw, or refused a slot), and only a right one would pass.
        if (ticket && !(error instanceof AuthenticationError) && !verdict.refused) {
          await this.throttle.release(ticket);
        }
        throw error;
      }
      if (ticket) await this.throttle.succeeded(ticket);
      return account;
    } catch (error) {
      // One event per failed login, whichever realm refused it.
      if (error instanceof AuthenticationError) this.failed(token, address, 'credentials');
      else if (error instanceof LoginThrottledError) {
        this.failed(token, address, 'throttled');
        await this.limiter.holdRefusal(error);
      }
      throw error;
    } finally {
      token?.clear?.();
    }
  }

  /** The supporting realms' verdict, by the configured strategy. */
  private async judge(
    supporting: readonly Realm[],
    token: AuthenticationToken,
    address: string | null,
    verdict: { refused: boolean },
  ): Promise<AuthenticatedAccount> {
    if (this.config.authenticationStrategy === 'all') {
      let first: AuthenticatedAccount | null = null;
      for (const realm of supporting) {
        const account = await this.attempt(realm, token, address);
        first ??= account;
      }
      return first!;
    }
    let failure: AuthenticationError | null = null;
    for (const realm of supporting) {
      try {
        return await this.attempt(realm, token, address);
      } catch (error) {
        if (!(error instanceof AuthenticationError)) throw error;
        verdict.refused = true;
        failure ??= error;
      }
    }
    throw failure!;
  }

  /** One realm's verdict: the account, or an `AuthenticationError`. */
  private async attempt(
    realm: Realm,
    token: AuthenticationToken,
    address: string | null,
  ): Promise<AuthenticatedAccount> {
    if (token instanceof UsernamePasswordToken && typeof realm.findAccount === 'function') {
      return this.withPassword(realm, token, address);
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

  private async withPassword(
    realm: Realm,
    token: UsernamePasswordToken,
    address: string | null,
  ): Promise<AuthenticatedAccount> {
    const username: unknown = token.username;
    const password: unknown = token.password;
    const attempt = { address, username };
    if (typeof username !== 'string' || username.length === 0 || username.length > MAX_USERNAME_LENGTH) {
      await this.limiter.run(attempt, () => this.hasher.verifyDummy(password), failure);
      throw new UnknownAccountError();
    }
    const account = await realm.findAccount!(username);
    if (!account) {
      await this.limiter.run(attempt, () => this.hasher.verifyDummy(password), failure);
      throw new UnknownAccountError();
    }
    checked(account, 'findAccount');
    if (
      !(await this.limiter.run(
        attempt,
        () => this.hasher.verify(account.credentials, password),
        (ok) => !ok,
      ))
    ) {
      throw new IncorrectCredentialsError();
    }
    if (
      typeof realm.upgradeCredentials === 'function' &&
      this.hasher.isWeakerThanConfigured(account.credentials)
    ) {
      await this.upgrade(realm, username, password as string, address);
    }
    return account;
  }

  /**
   * Rehashes a password whose stored hash is weaker than the configuration and hands the new hash to the realm
   * (Spring's `upgradeEncoding`). A failure is logged (without the hash) and never fails the login.
   */
  private async upgrade(realm: Realm, username: string, password: string, address: string | null) {
    try {
      const credentials = await this.limiter.run({ address, username }, () => this.hasher.hash(password));
      await realm.upgradeCredentials!(username, credentials);
    } catch (error) {
      this.logger.warn(
        `Realm ${realm.constructor.name} could not upgrade the password hash of a user who signed in: ` +
          `${error instanceof Error ? error.message : String(error)}. The login went ahead.`,
      );
    }
  }

  private failed(token: AuthenticationToken, address: string | null, reason: LoginFailureReason): void {
    const principal: unknown = token?.principal;
    const name =
      typeof principal !== 'string'
        ? ''
        : principal.length > MAX_USERNAME_LENGTH
          ? principal.slice(0, 64)
          : principal;
    this.events.publish(
      YOSAI_LOGIN_FAILED,
      new LoginFailedEvent(name, this.config.clock.now(), address, reason),
    );
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

/** A dummy verification (an unknown account) is a failed one, whatever it returns. */
const failure = (): boolean => true;
