import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import {
  IncorrectCredentialsError,
  UnknownAccountError,
  YosaiConfigurationError,
} from '../errors/yosai.errors.js';
import type { ResolvedYosaiConfig } from '../options/yosai-options.interface.js';
import { LoginFailedEvent } from '../session/session.events.js';
import { YosaiEventPublisher } from '../session/yosai-event.publisher.js';
import { YOSAI_LOGIN_FAILED } from '../yosai.constants.js';
import { YOSAI_CONFIG } from '../yosai.internal-constants.js';
import { PasswordHasher } from './password.hasher.js';
import type { Account } from './realm.js';
import type { UsernamePasswordToken } from './username-password.token.js';

const MAX_USERNAME_LENGTH = 1024;

/**
 * Checks a login attempt against the Realm: looks the account up, verifies the password (timing-safe,
 * with a dummy verification for unknown accounts) and reports failures as `yosai.login.failed`.
 * @internal Used by `Subject.login()`.
 */
@Injectable()
export class Authenticator implements OnModuleInit {
  constructor(
    @Inject(YOSAI_CONFIG) private readonly config: ResolvedYosaiConfig,
    private readonly hasher: PasswordHasher,
    private readonly events: YosaiEventPublisher,
  ) {}

  /** With a realm configured, the dummy hash is made now rather than at the first unknown username. */
  async onModuleInit(): Promise<void> {
    if (this.config.realm) await this.hasher.prepare();
  }

  /**
   * @throws UnknownAccountError / IncorrectCredentialsError (report both the same way)
   * @throws YosaiConfigurationError when no realm is configured or the realm returns a bad account
   */
  async authenticate(token: UsernamePasswordToken): Promise<Account> {
    const realm = this.config.realm;
    if (!realm) {
      throw new YosaiConfigurationError(
        'subject.login() needs a Realm: set the `realm` option of YosaiModule.',
        'realm',
      );
    }
    const username: unknown = token?.username;
    const password: unknown = token?.password;
    try {
      if (typeof username !== 'string' || username.length === 0 || username.length > MAX_USERNAME_LENGTH) {
        await this.hasher.verifyDummy(password);
        throw this.failed(
          typeof username === 'string' ? username.slice(0, 64) : '',
          new UnknownAccountError(),
        );
      }
      const account = await realm.findAccount(username);
      if (!account) {
        await this.hasher.verifyDummy(password);
        throw this.failed(username, new UnknownAccountError());
      }
      if (
        !Array.isArray(account.identifiers) ||
        account.identifiers.length === 0 ||
        !account.identifiers.every((i) => typeof i === 'string' && i.length > 0)
      ) {
        throw new YosaiConfigurationError(
          'Realm.findAccount() returned an account without identifiers: return { identifiers: [primary, ...], credentials }.',
          'realm',
        );
      }
      if (!(await this.hasher.verify(account.credentials, password))) {
        throw this.failed(username, new IncorrectCredentialsError());
      }
      return account;
    } finally {
      token?.clear?.();
    }
  }

  private failed<E extends Error>(username: string, error: E): E {
    this.events.publish(YOSAI_LOGIN_FAILED, new LoginFailedEvent(username, this.config.clock.now()));
    return error;
  }
}
