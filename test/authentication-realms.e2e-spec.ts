import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import {
  AuthenticationError,
  IncorrectCredentialsError,
  LoginThrottledError,
  PasswordHasher,
  Realm,
  SubjectFactory,
  UnknownAccountError,
  UnsupportedTokenError,
  UsernamePasswordToken,
  VerifiedIdentityRealm,
  VerifiedIdentityToken,
  YOSAI_LOGIN_FAILED,
  YosaiConfigurationError,
  YosaiModule,
  type Account,
  type AuthenticationToken,
  type YosaiModuleOptions,
} from '../src/index.js';
import { TEST_HASHING } from './support/test-app.js';

const hasher = new PasswordHasher(TEST_HASHING);

/** A password realm over a fixed map of username → password. */
class PasswordRealm extends Realm {
  private constructor(private readonly accounts: Map<string, Account>) {
    super();
  }
  static async of(users: Record<string, string>, identifier = (name: string) => name) {
    const accounts = new Map<string, Account>();
    for (const [name, password] of Object.entries(users)) {
      accounts.set(name, { identifiers: [identifier(name)], credentials: await hasher.hash(password) });
    }
    return new PasswordRealm(accounts);
  }
  findAccount(username: string) {
    return this.accounts.get(username) ?? null;
  }
}

/** An app-defined token: an API key, verified by its own realm. */
class ApiKeyToken implements AuthenticationToken {
  #key: string | null;
  constructor(key: string) {
    this.#key = key;
  }
  get key() {
    return this.#key;
  }
  clear() {
    this.#key = null;
  }
}

class ApiKeyRealm extends Realm {
  supports(token: AuthenticationToken) {
    return token instanceof ApiKeyToken;
  }
  authenticate(token: AuthenticationToken) {
    const key = (token as ApiKeyToken).key;
    if (key === 'right-key') return { identifiers: ['service-account'] };
    if (key === 'known-but-revoked') throw new IncorrectCredentialsError();
    return null;
  }
}

async function boot(options: YosaiModuleOptions, providers: unknown[] = []) {
  @Module({
    imports: [
      EventEmitterModule.forRoot({ wildcard: true, delimiter: '.' }),
      YosaiModule.forRoot({ passwordHashing: TEST_HASHING, ...options }),
    ],
    providers: providers as never[],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  await moduleRef.init();
  const failed: unknown[] = [];
  moduleRef.get(EventEmitter2).on(YOSAI_LOGIN_FAILED, (payload: unknown) => failed.push(payload));
  const subjects = moduleRef.get(SubjectFactory);
  return {
    failed,
    close: () => moduleRef.close(),
    async login(token: AuthenticationToken) {
      const subject = await subjects.fromToken(null);
      await subject.login(token);
      return subject.identifiers;
    },
  };
}

describe('Authentication beyond passwords', () => {
  it('an app-defined token is verified by the realm that supports it, and cleared after the attempt', async () => {
    const app = await boot({ realms: [await PasswordRealm.of({ ada: 'pw' }), new ApiKeyRealm()] });
    const token = new ApiKeyToken('right-key');
    expect(await app.login(token)).toEqual(['service-account']);
    expect(token.key).toBeNull();
    await expect(app.login(new ApiKeyToken('nope'))).rejects.toBeInstanceOf(UnknownAccountError);
    await expect(app.login(new ApiKeyToken('known-but-revoked'))).rejects.toBeInstanceOf(
      IncorrectCredentialsError,
    );
    // Passwords still go to the password realm only.
    expect(await app.login(new UsernamePasswordToken('ada', 'pw'))).toEqual(['ada']);
    expect(app.failed).toHaveLength(2);
    await app.close();
  });

  it('refuses a token no realm supports as a failed login, not a 500', async () => {
    const app = await boot({ realm: await PasswordRealm.of({ ada: 'pw' }) });
    const error: unknown = await app.login(new VerifiedIdentityToken(['ada'])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedTokenError);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(app.failed).toEqual([expect.objectContaining({ username: 'ada' })]);
    await app.close();
  });

  it('VerifiedIdentityToken signs in only when VerifiedIdentityRealm is configured', async () => {
    const app = await boot({ realms: [new VerifiedIdentityRealm()] });
    expect(
      await app.login(new VerifiedIdentityToken(['ada', 'ada@example.org'], { source: 'test' })),
    ).toEqual(['ada', 'ada@example.org']);
    await expect(app.login(new VerifiedIdentityToken([]))).rejects.toBeInstanceOf(YosaiConfigurationError);
    await app.close();
  });

  it("'first-success' signs in with the first realm that accepts; one failed event when none does", async () => {
    const app = await boot({
      realms: [await PasswordRealm.of({ ada: 'a' }), await PasswordRealm.of({ bob: 'b', ada: 'other' })],
    });
    expect(await app.login(new UsernamePasswordToken('bob', 'b'))).toEqual(['bob']);
    expect(await app.login(new UsernamePasswordToken('ada', 'other'))).toEqual(['ada']);
    expect(app.failed).toHaveLength(0);
    await expect(app.login(new UsernamePasswordToken('ada', 'wrong'))).rejects.toBeInstanceOf(
      IncorrectCredentialsError,
    );
    expect(app.failed).toHaveLength(1);
    await app.close();
  });

  // A second realm that fails (a directory down) after the first refused the password used to give the attempt
  // back to the throttle: every wrong guess was free (an error), and only the right password got through.
  it("'first-success': a realm failing after another refused the password leaves the refusal counted", async () => {
    class DownRealm extends Realm {
      findAccount(): Account | null {
        throw new Error('directory: connection refused');
      }
    }
    const app = await boot({
      realms: [await PasswordRealm.of({ ada: 'right' }), new DownRealm()],
      loginThrottle: { maxFailures: 3, maxFailuresPerAddress: 50, lockMs: 60_000 },
    });
    for (let i = 0; i < 3; i++) {
      await expect(app.login(new UsernamePasswordToken('ada', `wrong-${i}`))).rejects.not.toBeInstanceOf(
        LoginThrottledError,
      );
    }
    await expect(app.login(new UsernamePasswordToken('ada', 'right'))).rejects.toBeInstanceOf(
      LoginThrottledError,
    );
    await app.close();
  });

  it("'all' demands every supporting realm; the identifiers are the first realm's", async () => {
    const app = await boot({
      authenticationStrategy: 'all',
      realms: [
        await PasswordRealm.of({ ada: 'a', bob: 'b' }, (n) => `id-${n}`),
        await PasswordRealm.of({ ada: 'a' }),
      ],
    });
    expect(await app.login(new UsernamePasswordToken('ada', 'a'))).toEqual(['id-ada']);
    await expect(app.login(new UsernamePasswordToken('bob', 'b'))).rejects.toBeInstanceOf(
      UnknownAccountError,
    );
    expect(app.failed).toHaveLength(1);
    await app.close();
  });

  it('refuses an unknown strategy at bootstrap', () => {
    expect(() => YosaiModule.forRoot({ authenticationStrategy: 'most' as never })).not.toThrow();
    return expect(boot({ authenticationStrategy: 'most' as never })).rejects.toThrow(
      /authenticationStrategy.*'first-success' or 'all'/,
    );
  });
});

@Injectable()
class Directory {
  readonly hash: Promise<string>;
  constructor(hasher: PasswordHasher) {
    this.hash = hasher.hash('pw');
  }
}

@Injectable()
class DirectoryRealm extends Realm {
  constructor(private readonly directory: Directory) {
    super();
  }
  async findAccount(username: string) {
    return username === 'ada' ? { identifiers: ['ada'], credentials: await this.directory.hash } : null;
  }
}

/** Depends only on what the module itself provides. */
@Injectable()
class HasherOnlyRealm extends Realm {
  private readonly hash: Promise<string>;
  constructor(hasher: PasswordHasher) {
    super();
    this.hash = hasher.hash('pw');
  }
  async findAccount(username: string) {
    return username === 'ada' ? { identifiers: ['ada'], credentials: await this.hash } : null;
  }
}

describe('Realms resolved by Nest', () => {
  it('a realm class registered by the app, whose dependency injects the module’s PasswordHasher', async () => {
    const app = await boot({ realm: DirectoryRealm }, [Directory, DirectoryRealm]);
    expect(await app.login(new UsernamePasswordToken('ada', 'pw'))).toEqual(['ada']);
    await app.close();
  });

  it('the same through forRootAsync (no inject needed in the factory: no circular dependency)', async () => {
    @Module({
      imports: [
        YosaiModule.forRootAsync({
          useFactory: () => ({ passwordHashing: TEST_HASHING, realm: DirectoryRealm }),
        }),
      ],
      providers: [Directory, DirectoryRealm],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    await moduleRef.init();
    const subject = await moduleRef.get(SubjectFactory).fromToken(null);
    await subject.login(new UsernamePasswordToken('ada', 'pw'));
    expect(subject.primaryIdentifier).toBe('ada');
    await moduleRef.close();
  });

  it('an injection token of the app', async () => {
    const app = await boot({ realm: 'USERS_REALM' }, [
      Directory,
      { provide: 'USERS_REALM', useClass: DirectoryRealm },
    ]);
    expect(await app.login(new UsernamePasswordToken('ada', 'pw'))).toEqual(['ada']);
    await app.close();
  });

  it('a class the app did not register is built by the module', async () => {
    const app = await boot({ realm: HasherOnlyRealm });
    expect(await app.login(new UsernamePasswordToken('ada', 'pw'))).toEqual(['ada']);
    await app.close();
  });

  it('fails at bootstrap, naming the realm, when it cannot be resolved', async () => {
    await expect(boot({ realm: 'NO_SUCH_REALM' })).rejects.toThrow(/NO_SUCH_REALM/);
    await expect(boot({ realm: DirectoryRealm })).rejects.toThrow(/DirectoryRealm could not be built/);
    await expect(boot({ realm: 'NOT_A_REALM' }, [{ provide: 'NOT_A_REALM', useValue: {} }])).rejects.toThrow(
      /not a Realm/,
    );
  });
});
