import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import { YosaiConfigurationError } from '../errors/yosai.errors.js';
import { SessionManager } from '../session/session.manager.js';
import { CacheManagerSessionStore } from '../store/cache-manager-session.store.js';
import { YosaiModule } from '../yosai.module.js';
import type { YosaiModuleOptions } from './yosai-options.interface.js';
import { resolveYosaiOptions } from './yosai-options.validator.js';

/** Boots a module with these options the way an app does; resolves to the bootstrap error, if any. */
async function bootstrapError(
  options: YosaiModuleOptions,
  mount: 'forRoot' | 'forRootAsync' = 'forRoot',
): Promise<unknown> {
  const yosai =
    mount === 'forRoot'
      ? YosaiModule.forRoot(options)
      : YosaiModule.forRootAsync({ useFactory: async () => options });
  @Module({ imports: [yosai] })
  class AppModule {}
  try {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    await moduleRef.close();
    return undefined;
  } catch (error) {
    return error;
  }
}

const cases: [string, YosaiModuleOptions, string][] = [
  ['a negative idle timeout', { idleTimeoutMs: -1 }, 'idleTimeoutMs'],
  ['a negative absolute timeout', { absoluteTimeoutMs: -5 }, 'absoluteTimeoutMs'],
  ['a negative touch interval', { touchIntervalMs: -1 }, 'touchIntervalMs'],
  ['a zero store timeout', { storeTimeoutMs: 0 }, 'storeTimeoutMs'],
  ['a non-integer timeout', { idleTimeoutMs: 1.5 }, 'idleTimeoutMs'],
  ['a NaN timeout', { idleTimeoutMs: NaN }, 'idleTimeoutMs'],
  ['a string timeout', { idleTimeoutMs: '1000' as never }, 'idleTimeoutMs'],
  ['idle longer than absolute', { idleTimeoutMs: 120_000, absoluteTimeoutMs: 60_000 }, 'idleTimeoutMs'],
  ['idle (default 30 min) longer than absolute', { absoluteTimeoutMs: 60_000 }, 'idleTimeoutMs'],
  ['a touch interval equal to idle', { idleTimeoutMs: 60_000, touchIntervalMs: 60_000 }, 'touchIntervalMs'],
  ['a touch interval above idle', { idleTimeoutMs: 60_000, touchIntervalMs: 90_000 }, 'touchIntervalMs'],
  [
    'a guest idle timeout above idle',
    { idleTimeoutMs: 60_000, guestIdleTimeoutMs: 60_001 },
    'guestIdleTimeoutMs',
  ],
  [
    'a guest idle timeout not above the touch interval',
    { idleTimeoutMs: 60_000, guestIdleTimeoutMs: 5_000, touchIntervalMs: 5_000 },
    'guestIdleTimeoutMs',
  ],
  ['a zero guest idle timeout', { guestIdleTimeoutMs: 0 }, 'guestIdleTimeoutMs'],
  ['a zero maxAttributes', { maxAttributes: 0 }, 'maxAttributes'],
  ['a fractional maxAttributes', { maxAttributes: 1.5 }, 'maxAttributes'],
  ['a maxRecordBytes under 1 KiB', { maxRecordBytes: 512 }, 'maxRecordBytes'],
  ['a maxRecordBytes over 64 MiB', { maxRecordBytes: 64 * 1024 * 1024 + 1 }, 'maxRecordBytes'],
  ['an unknown option', { idleTimout: 1000 } as never, 'idleTimout'],
  ['an unknown cookie option', { cookie: { sameSit: 'strict' } } as never, 'cookie.sameSit'],
  ['an unknown header option', { header: { nmae: 'x-token' } } as never, 'header.nmae'],
  ['an unknown passwordHashing option', { passwordHashing: { logn: 12 } } as never, 'passwordHashing.logn'],
  [
    'a cache-manager Cache as store',
    { store: createCache({ stores: [new Keyv({ store: new Map() })] }) as never },
    'store',
  ],
  ['a Keyv as store', { store: new Keyv() as never }, 'store'],
  ['a random object as store', { store: { hello: 'world' } as never }, 'store'],
  ['the store class instead of an instance', { store: CacheManagerSessionStore as never }, 'store'],
  ['hostPrefix without secure', { cookie: { hostPrefix: true, secure: false } }, 'cookie.hostPrefix'],
  ["hostPrefix with secure 'auto'", { cookie: { hostPrefix: true, secure: 'auto' } }, 'cookie.hostPrefix'],
  ['an invalid cookie name', { cookie: { name: 'my cookie' } }, 'cookie.name'],
  ['sameSite none without Secure', { cookie: { sameSite: 'none', secure: false } }, 'cookie.sameSite'],
  ['no transport at all', { cookie: false, header: false }, 'cookie'],
  ['a realm without findAccount', { realm: {} }, 'realm'],
  ['an empty realm token', { realm: '' }, 'realm'],
  ['realms that is not an array', { realms: new (class {})() as never }, 'realms'],
  ['a realms entry that is not a realm', { realms: [{ findAccount: () => null }, 42 as never] }, 'realms[1]'],
  [
    'an unknown authentication strategy',
    { authenticationStrategy: 'most' as never },
    'authenticationStrategy',
  ],
  ['a negative authorization cache TTL', { authorizationCacheTtlMs: -1 }, 'authorizationCacheTtlMs'],
  ['an authorization cache of no sessions', { authorizationCacheSize: 0 }, 'authorizationCacheSize'],
  ['a clock without now()', { clock: {} as never }, 'clock'],
  ['csrf.enabled not a boolean', { csrf: { enabled: 'yes' as never } }, 'csrf.enabled'],
  [
    'csrf.trustedOrigins not an array',
    { csrf: { trustedOrigins: 'https://a.example' as never } },
    'csrf.trustedOrigins',
  ],
  [
    'a trusted origin with a path',
    { csrf: { trustedOrigins: ['https://a.example/app'] } },
    'csrf.trustedOrigins',
  ],
  ['a trusted origin that is not a URL', { csrf: { trustedOrigins: ['a.example'] } }, 'csrf.trustedOrigins'],
  ['a misspelt csrf option', { csrf: { trustedOrigin: [] } as never }, 'csrf.trustedOrigin'],
  ['clearSiteDataOnLogout not a boolean', { clearSiteDataOnLogout: 1 as never }, 'clearSiteDataOnLogout'],
  [
    'scrypt below the floor (the old default)',
    { passwordHashing: { logN: 15, r: 8, p: 1 } },
    'passwordHashing',
  ],
  ['scrypt with too little memory', { passwordHashing: { logN: 12, r: 8, p: 16 } }, 'passwordHashing'],
  [
    'allowWeakParameters not a boolean',
    { passwordHashing: { allowWeakParameters: 'yes' as never } },
    'passwordHashing.allowWeakParameters',
  ],
  [
    'loginThrottle.enabled not a boolean',
    { loginThrottle: { enabled: 0 as never } },
    'loginThrottle.enabled',
  ],
  ['a zero loginThrottle.maxFailures', { loginThrottle: { maxFailures: 0 } }, 'loginThrottle.maxFailures'],
  [
    'a fractional loginThrottle.maxFailuresPerAddress',
    { loginThrottle: { maxFailuresPerAddress: 2.5 } },
    'loginThrottle.maxFailuresPerAddress',
  ],
  ['a lock longer than 24 h', { loginThrottle: { lockMs: 24 * 3_600_000 + 1 } }, 'loginThrottle.lockMs'],
  ['a lock under a second', { loginThrottle: { lockMs: 10 } }, 'loginThrottle.lockMs'],
  [
    'a misspelt loginThrottle option',
    { loginThrottle: { maxFailure: 3 } as never },
    'loginThrottle.maxFailure',
  ],
  [
    'a zero passwordVerification.maxConcurrent',
    { passwordVerification: { maxConcurrent: 0 } },
    'passwordVerification.maxConcurrent',
  ],
  [
    'a negative passwordVerification.maxWaitMs',
    { passwordVerification: { maxWaitMs: -1 } },
    'passwordVerification.maxWaitMs',
  ],
  [
    'a negative passwordVerification.refusalDelayMs',
    { passwordVerification: { refusalDelayMs: -1 } },
    'passwordVerification.refusalDelayMs',
  ],
  [
    'a misspelt passwordVerification option',
    { passwordVerification: { maxQueue: 3 } as never },
    'passwordVerification.maxQueue',
  ],
  ['closeStoreOnShutdown not a boolean', { closeStoreOnShutdown: 'yes' as never }, 'closeStoreOnShutdown'],
  ['a zero maxSessionsPerPrincipal', { maxSessionsPerPrincipal: 0 }, 'maxSessionsPerPrincipal'],
  ['a fractional maxSessionsPerPrincipal', { maxSessionsPerPrincipal: 2.5 }, 'maxSessionsPerPrincipal'],
  [
    'an unknown maxSessionsPerPrincipalPolicy',
    { maxSessionsPerPrincipalPolicy: 'oldest' as never },
    'maxSessionsPerPrincipalPolicy',
  ],
  ['principalIndex not a boolean', { principalIndex: 'on' as never }, 'principalIndex'],
];

describe('YosaiModule options are validated at bootstrap', () => {
  it.each(cases)('%s fails with YosaiConfigurationError naming the option', async (_, options, option) => {
    for (const mount of ['forRoot', 'forRootAsync'] as const) {
      const error = await bootstrapError(options, mount);
      expect(error).toBeInstanceOf(YosaiConfigurationError);
      expect((error as Error).message).toContain(`\`${option}\``);
    }
  });

  it('the message says why, e.g. how to wrap a cache-manager Cache', async () => {
    const error = await bootstrapError({ store: createCache() as never });
    expect((error as Error).message).toContain('new CacheManagerSessionStore(cache)');
    const idle = await bootstrapError({ idleTimeoutMs: 120_000, absoluteTimeoutMs: 60_000 });
    expect((idle as Error).message).toMatch(/idleTimeoutMs.*absoluteTimeoutMs/s);
  });

  it.each<[string, YosaiModuleOptions]>([
    ['no options', {}],
    ['idle equal to absolute', { idleTimeoutMs: 60_000, absoluteTimeoutMs: 60_000 }],
    ['touch interval 0 (write on every access)', { touchIntervalMs: 0 }],
    ['hostPrefix with secure', { cookie: { hostPrefix: true, secure: true } }],
    ['header transport only', { cookie: false, header: {} }],
    ['CSRF off', { csrf: { enabled: false } }],
    [
      'trusted origins',
      { csrf: { trustedOrigins: ['https://front.example.com', 'http://localhost:5173/'] } },
    ],
    ['a SessionStore', { store: CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 }) }],
    ['a realm that only authorizes', { realm: { getAuthorizationInfo: () => null } }],
    [
      "the 'all' strategy and no authorization cache TTL",
      { authenticationStrategy: 'all', authorizationCacheTtlMs: 0 },
    ],
  ])('%s is accepted', async (_, options) => {
    expect(await bootstrapError(options)).toBeUndefined();
    expect(await bootstrapError(options, 'forRootAsync')).toBeUndefined();
  });

  it('isGlobal is accepted and makes SessionManager injectable everywhere', async () => {
    @Module({})
    class Feature {}
    @Module({ imports: [YosaiModule.forRoot({ isGlobal: true }), Feature] })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    try {
      expect(moduleRef.select(Feature).get(SessionManager, { strict: false })).toBeInstanceOf(SessionManager);
    } finally {
      await moduleRef.close();
    }
  });
});

describe('cookie.hostPrefix defaults to secure === true', () => {
  it.each<[string, YosaiModuleOptions, boolean]>([
    ['the defaults (secure: true)', {}, true],
    ['secure: true', { cookie: { secure: true } }, true],
    ["secure: 'auto'", { cookie: { secure: 'auto' } }, false],
    ['secure: false', { cookie: { secure: false } }, false],
    ['secure: true, hostPrefix: false', { cookie: { secure: true, hostPrefix: false } }, false],
  ])('%s gives hostPrefix %s', (_, options, expected) => {
    expect(resolveYosaiOptions(options).cookie?.hostPrefix).toBe(expected);
  });
});

describe('csrf and clearSiteDataOnLogout', () => {
  it('are on and off by default; trusted origins are kept as browsers send them', () => {
    const defaults = resolveYosaiOptions({});
    expect(defaults.csrf.enabled).toBe(true);
    expect(defaults.clearSiteDataOnLogout).toBe(false);
    const set = resolveYosaiOptions({ csrf: { trustedOrigins: ['HTTPS://Front.Example.com:443/'] } });
    expect([...set.csrf.trustedOrigins]).toEqual(['https://front.example.com']);
  });
});

describe('guestIdleTimeoutMs', () => {
  it('defaults to 15 minutes, capped by idleTimeoutMs', () => {
    expect(resolveYosaiOptions({}).guestIdleTimeoutMs).toBe(15 * 60_000);
    expect(resolveYosaiOptions({ idleTimeoutMs: 5 * 60_000 }).guestIdleTimeoutMs).toBe(5 * 60_000);
  });

  it('defaults to idleTimeoutMs when the touch interval is 15 minutes or more, so such a configuration stays valid', () => {
    const options = resolveYosaiOptions({ idleTimeoutMs: 60 * 60_000, touchIntervalMs: 20 * 60_000 });
    expect(options.guestIdleTimeoutMs).toBe(60 * 60_000);
  });

  it('takes a value up to idleTimeoutMs', () => {
    expect(resolveYosaiOptions({ guestIdleTimeoutMs: 30 * 60_000 }).guestIdleTimeoutMs).toBe(30 * 60_000);
    expect(resolveYosaiOptions({ guestIdleTimeoutMs: 2 * 60_000 }).guestIdleTimeoutMs).toBe(2 * 60_000);
  });
});

describe('maxAttributes and maxRecordBytes', () => {
  it('default to 100 and 64 KiB, and take values within their bounds', () => {
    expect(resolveYosaiOptions({})).toMatchObject({ maxAttributes: 100, maxRecordBytes: 65_536 });
    expect(resolveYosaiOptions({ maxAttributes: 5, maxRecordBytes: 1024 })).toMatchObject({
      maxAttributes: 5,
      maxRecordBytes: 1024,
    });
  });
});

describe('principalIndex and maxSessionsPerPrincipal', () => {
  it('are off by default; a cap turns the index on, with evict-oldest unless refuse is asked for', () => {
    expect(resolveYosaiOptions({})).toMatchObject({
      principalIndex: false,
      maxSessionsPerPrincipal: null,
      maxSessionsPerPrincipalPolicy: 'evict-oldest',
    });
    expect(resolveYosaiOptions({ principalIndex: true })).toMatchObject({ principalIndex: true });
    expect(resolveYosaiOptions({ maxSessionsPerPrincipal: 3 })).toMatchObject({
      principalIndex: true,
      maxSessionsPerPrincipal: 3,
      maxSessionsPerPrincipalPolicy: 'evict-oldest',
    });
    expect(
      resolveYosaiOptions({ maxSessionsPerPrincipal: 1, maxSessionsPerPrincipalPolicy: 'refuse' }),
    ).toMatchObject({ maxSessionsPerPrincipal: 1, maxSessionsPerPrincipalPolicy: 'refuse' });
  });
});

describe('password hashing, login throttling and the verification cap', () => {
  it('default to OWASP-level scrypt, throttling on (5 per username, 50 per address, 15 min), 2 verifications at once and refusals held 1 s', () => {
    const resolved = resolveYosaiOptions({});
    expect(resolved.passwordHashing).toEqual({ logN: 15, r: 8, p: 3, allowWeakParameters: false });
    expect(resolved.loginThrottle).toEqual({
      enabled: true,
      maxFailures: 5,
      maxFailuresPerAddress: 50,
      lockMs: 900_000,
    });
    expect(resolved.passwordVerification).toEqual({
      maxConcurrent: 2,
      maxWaitMs: 2_000,
      maxQueued: 64,
      refusalDelayMs: 1_000,
    });
  });

  it.each([
    { logN: 17, r: 8, p: 1 },
    { logN: 16, r: 8, p: 2 },
    { logN: 15, r: 8, p: 3 },
    { logN: 14, r: 8, p: 5 },
    { logN: 13, r: 8, p: 10 },
  ])("accepts OWASP's listed scrypt set %o", (parameters) => {
    expect(resolveYosaiOptions({ passwordHashing: parameters }).passwordHashing).toMatchObject(parameters);
  });

  it('refuses weaker scrypt with a message that says why and how, unless allowWeakParameters', () => {
    expect(() => resolveYosaiOptions({ passwordHashing: { logN: 10, r: 8, p: 1 } })).toThrow(
      /below OWASP's scrypt floor.*allowWeakParameters: true/s,
    );
    const weak = { logN: 10, r: 8, p: 1, allowWeakParameters: true };
    expect(resolveYosaiOptions({ passwordHashing: weak }).passwordHashing).toEqual(weak);
  });
});
