// Issue 12: login throttling per username and per client address, the cap on concurrent password verifications,
// and the rehash of weak password hashes at login. Over HTTP on Express and Fastify where HTTP is involved, with a
// ManualClock for the locks and a gated hasher for the cap (no timing).
import request from 'supertest';
import {
  AuthenticationError,
  CacheManagerSessionStore,
  IncorrectCredentialsError,
  LoginThrottledError,
  LOGIN_THROTTLED_MESSAGE,
  PasswordHasher,
  Realm,
  SessionStore,
  SubjectFactory,
  UsernamePasswordToken,
  YOSAI_LOGIN_FAILED,
  YOSAI_LOGIN_SUCCEEDED,
  type Account,
  type SessionWriteHints,
  type YosaiModuleOptions,
} from '../src/index.js';
import { ManualClock } from '../src/testing/index.js';
import { CapturingLogger } from './support/capturing-logger.js';
import { VerificationLimiter } from '../src/auth/verification-limiter.js';
import { GatedHasher, until } from './support/gated-hasher.js';
import { createTestApp, PLATFORMS, TEST_HASHING, USERS, type TestApp } from './support/test-app.js';

/** A realm over username → password that counts its look-ups: a refused attempt must not reach it. */
class CountingRealm extends Realm {
  lookups = 0;
  readonly accounts = new Map<string, Account>();
  upgrades: [string, string][] = [];
  upgradeFails = false;

  static async create<R extends CountingRealm>(
    this: new () => R,
    users: Record<string, string>,
    hashing = TEST_HASHING,
  ): Promise<R> {
    const realm = new this();
    const hasher = new PasswordHasher(hashing);
    for (const [name, password] of Object.entries(users)) {
      realm.accounts.set(name, { identifiers: [name], credentials: await hasher.hash(password) });
    }
    return realm;
  }
  findAccount(username: string) {
    this.lookups++;
    return this.accounts.get(username) ?? null;
  }
}

/** A CountingRealm that stores upgraded hashes (as an app's user table would). */
class UpgradingRealm extends CountingRealm {
  upgradeCredentials(username: string, credentials: string) {
    this.upgrades.push([username, credentials]);
    if (this.upgradeFails) throw new Error('users table is read-only');
    const account = this.accounts.get(username)!;
    this.accounts.set(username, { ...account, credentials });
  }
}

const LOCK_MS = 60_000;

describe.each(PLATFORMS)('login throttling over HTTP (%s)', (platform) => {
  let t: TestApp;
  let realm: CountingRealm;
  const clock = new ManualClock();
  const login = (username: string, password: string) =>
    request(t.app.getHttpServer()).post('/login').send({ username, password });

  beforeAll(async () => {
    realm = await CountingRealm.create(USERS);
    t = await createTestApp({
      platform,
      yosai: { realm, clock, loginThrottle: { maxFailures: 3, lockMs: LOCK_MS } },
    });
  });
  afterAll(() => t.close());
  beforeEach(() => {
    // Every test starts after any lock an earlier one left has passed.
    clock.advance(LOCK_MS + 1);
    t.events.clear();
  });

  it('after maxFailures for a username, attempts get 429 with Retry-After, even with the right password, unchecked', async () => {
    for (let i = 0; i < 3; i++) await login('thedude', `wrong-${i}`).expect(401);
    const lookups = realm.lookups;
    const refused = await login('thedude', USERS.thedude).expect(429);
    expect(refused.body).toEqual({ statusCode: 429, message: LOGIN_THROTTLED_MESSAGE });
    expect(refused.headers['retry-after']).toBe(String(LOCK_MS / 1000));
    expect(refused.headers['set-cookie']).toBeUndefined();
    expect(realm.lookups).toBe(lookups); // the password was not checked

    // The lock is bounded: attempts while locked do not extend it, and it passes after lockMs.
    clock.advance(LOCK_MS / 2);
    const later = await login('thedude', 'wrong-again').expect(429);
    expect(later.headers['retry-after']).toBe(String(LOCK_MS / 2000));
    clock.advance(LOCK_MS / 2);
    await login('thedude', USERS.thedude).expect(200);
    expect(realm.lookups).toBe(lookups + 1);
  });

  it('a success before the limit resets the username count; other usernames are not affected', async () => {
    await login('walter', 'wrong-1').expect(401);
    await login('walter', 'wrong-2').expect(401);
    await login('walter', USERS.walter).expect(200);
    await login('walter', 'wrong-3').expect(401);
    await login('walter', 'wrong-4').expect(401);
    await login('walter', 'wrong-5').expect(401); // a third failure since the success: now locked
    await login('walter', USERS.walter).expect(429);
    await login('thedude', USERS.thedude).expect(200);
  });

  it('unknown usernames are counted the same way (a lock tells nothing about existence), case-insensitively', async () => {
    for (let i = 0; i < 3; i++) await login(i % 2 ? 'Donny' : 'donny', 'x').expect(401);
    await login('DONNY', 'x').expect(429);
  });

  it('failures long apart are forgotten: a failure is remembered for lockMs', async () => {
    await login('thedude', 'wrong-1').expect(401);
    await login('thedude', 'wrong-2').expect(401);
    clock.advance(LOCK_MS);
    await login('thedude', 'wrong-3').expect(401);
    await login('thedude', 'wrong-4').expect(401);
    await login('thedude', USERS.thedude).expect(200);
  });

  it('login events carry the client address, and a refused attempt is a failure with reason throttled', async () => {
    for (let i = 0; i < 3; i++) await login('thedude', 'nope').expect(401);
    await login('thedude', USERS.thedude).expect(429);
    clock.advance(LOCK_MS + 1);
    await login('thedude', USERS.thedude).expect(200);
    const failed = t.events.named(YOSAI_LOGIN_FAILED);
    expect(failed.map((e) => e.reason)).toEqual(['credentials', 'credentials', 'credentials', 'throttled']);
    const [succeeded] = t.events.named(YOSAI_LOGIN_SUCCEEDED);
    for (const event of [...failed, succeeded]) expect(event.clientAddress).toMatch(/127\.0\.0\.1|::1/);
    expect(JSON.stringify(t.events.events)).not.toContain(USERS.thedude);
  });
});

describe.each(PLATFORMS)('refusals held back over HTTP (%s)', (platform) => {
  const DELAY_MS = 1_500;
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({
      platform,
      yosai: {
        realm: await CountingRealm.create(USERS),
        loginThrottle: { maxFailures: 1, lockMs: LOCK_MS },
        // At most 4 × maxQueued = 4 refusals held at once.
        passwordVerification: { maxQueued: 1, refusalDelayMs: DELAY_MS },
      },
    });
  });
  afterAll(() => t.close());

  it('a 429 is answered after refusalDelayMs, at most 4 × maxQueued at once; the others at once', async () => {
    const server = t.app.getHttpServer();
    await request(server).post('/login').send({ username: 'thedude', password: 'wrong' }).expect(401);
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        request(server)
          .post('/login')
          .send({ username: 'thedude', password: USERS.thedude })
          .then((response) => ({ response, ms: performance.now() - started })),
      ),
    );
    for (const { response } of answers) {
      expect(response.status).toBe(429);
      expect(response.headers['retry-after']).toBe(String(LOCK_MS / 1000));
    }
    const times = answers.map((a) => a.ms).sort((a, b) => a - b);
    // Two answered before any held one could be (the timer's delay is a lower bound), four after it.
    expect(times.filter((ms) => ms < DELAY_MS)).toHaveLength(2);
    expect(times.slice(2).every((ms) => ms >= DELAY_MS)).toBe(true);
  });
});

describe('login throttling per client address (SubjectFactory.fromToken with a host)', () => {
  let t: TestApp;
  let subjects: SubjectFactory;
  const clock = new ManualClock();
  const attempt = async (host: string, username: string, password: string) =>
    (await subjects.fromToken(null, { host })).login(new UsernamePasswordToken(username, password));

  beforeAll(async () => {
    t = await createTestApp({
      platform: 'express',
      yosai: { clock, loginThrottle: { maxFailures: 100, maxFailuresPerAddress: 4, lockMs: LOCK_MS } },
    });
    subjects = t.app.get(SubjectFactory);
  });
  afterAll(() => t.close());
  beforeEach(() => clock.advance(LOCK_MS + 1));

  it('failures on many usernames from one address lock that address only', async () => {
    for (const name of ['a', 'b', 'c', 'd']) {
      await expect(attempt('203.0.113.7', name, 'x')).rejects.toBeInstanceOf(AuthenticationError);
    }
    const refused = await attempt('203.0.113.7', 'thedude', USERS.thedude).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LoginThrottledError);
    expect((refused as LoginThrottledError).scope).toBe('address');
    expect((refused as LoginThrottledError).retryAfterMs).toBe(LOCK_MS);
    await attempt('203.0.113.8', 'thedude', USERS.thedude); // another address
  });

  it('an IPv6 client is counted per /64; an IPv4-mapped address as the IPv4 address', async () => {
    await expect(attempt('2001:db8:1:2::1', 'e', 'x')).rejects.toThrow();
    await expect(attempt('2001:db8:1:2:ffff::9', 'f', 'x')).rejects.toThrow();
    await expect(attempt('2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd', 'g', 'x')).rejects.toThrow();
    await expect(attempt('2001:db8:1:2::77', 'h', 'x')).rejects.toThrow();
    await expect(attempt('2001:db8:1:2::1234', 'thedude', USERS.thedude)).rejects.toBeInstanceOf(
      LoginThrottledError,
    );
    await attempt('2001:db8:1:3::1', 'thedude', USERS.thedude); // the next /64

    for (const name of ['i', 'j', 'k', 'l'])
      await expect(attempt('::ffff:198.51.100.4', name, 'x')).rejects.toThrow();
    await expect(attempt('198.51.100.4', 'thedude', USERS.thedude)).rejects.toBeInstanceOf(
      LoginThrottledError,
    );
  });

  it('a success gives the address its place back; it does not reset the address count', async () => {
    for (const name of ['m', 'n', 'o']) await expect(attempt('203.0.113.9', name, 'x')).rejects.toThrow();
    await attempt('203.0.113.9', 'walter', USERS.walter);
    await attempt('203.0.113.9', 'walter', USERS.walter);
    await expect(attempt('203.0.113.9', 'p', 'x')).rejects.toBeInstanceOf(AuthenticationError);
    await expect(attempt('203.0.113.9', 'walter', USERS.walter)).rejects.toBeInstanceOf(LoginThrottledError);
  });

  it('loginThrottle.enabled: false turns it off', async () => {
    const off = await createTestApp({
      platform: 'express',
      yosai: { loginThrottle: { enabled: false, maxFailures: 1 } },
    });
    try {
      const factory = off.app.get(SubjectFactory);
      for (let i = 0; i < 5; i++) {
        await expect(
          (await factory.fromToken(null, { host: '203.0.113.10' })).login(
            new UsernamePasswordToken('thedude', 'x'),
          ),
        ).rejects.toBeInstanceOf(IncorrectCredentialsError);
      }
      await (await factory.fromToken(null)).login(new UsernamePasswordToken('thedude', USERS.thedude));
    } finally {
      await off.close();
    }
  });
});

/**
 * An app of its own (a fresh memory of failures) with a gated hasher, two slots and eight waiting places, and a login
 * that answers what became of it: `signed in`, `throttled:<scope>`, or the error's name.
 */
async function queueApp() {
  const gated = new GatedHasher();
  const own = await createTestApp({
    platform: 'express',
    yosai: {
      loginThrottle: { enabled: false },
      passwordVerification: { maxConcurrent: 2, maxQueued: 8, maxWaitMs: 60_000, refusalDelayMs: 0 },
    },
    hasher: gated,
  });
  const factory = own.app.get(SubjectFactory);
  const login = async (host: string, username: string, password: string) =>
    (await factory.fromToken(null, { host })).login(new UsernamePasswordToken(username, password)).then(
      () => 'signed in',
      (e: unknown) => (e instanceof LoginThrottledError ? `throttled:${e.scope}` : (e as Error).name),
    );
  return { gated, own, limiter: own.app.get(VerificationLimiter), login };
}

describe('the cap on concurrent password verifications', () => {
  let t: TestApp;
  let subjects: SubjectFactory;
  const hasher = new GatedHasher();
  const options: YosaiModuleOptions = {
    loginThrottle: { enabled: false },
    passwordVerification: { maxConcurrent: 2, maxQueued: 8, maxWaitMs: 60_000, refusalDelayMs: 0 },
  };
  const attempt = async (host: string, password: string) =>
    (await subjects.fromToken(null, { host })).login(new UsernamePasswordToken('thedude', password));

  beforeAll(async () => {
    t = await createTestApp({ platform: 'express', yosai: options, hasher });
    subjects = t.app.get(SubjectFactory);
  });
  afterAll(() => t.close());
  afterEach(() => hasher.open());

  it('runs at most maxConcurrent at once; the next ones wait; beyond maxQueued they are refused at once', async () => {
    hasher.close();
    hasher.maxActive = 0;
    const outcomes = Array.from({ length: 12 }, (_, i) =>
      attempt(`198.51.100.${i}`, `junk-${i}`).then(
        () => 'signed in',
        (e: unknown) => (e instanceof LoginThrottledError ? `throttled:${e.scope}` : (e as Error).name),
      ),
    );
    await until(() => hasher.waiting === 2);
    // 2 running (held at the gate), 8 queued, and the 11th and 12th refused without waiting.
    const refusedAtOnce = await Promise.all([outcomes[10], outcomes[11]]);
    expect(refusedAtOnce).toEqual(['throttled:capacity', 'throttled:capacity']);
    expect(hasher.active).toBe(2);
    hasher.open();
    const all = await Promise.all(outcomes);
    expect(all.filter((o) => o === 'IncorrectCredentialsError')).toHaveLength(10);
    expect(hasher.maxActive).toBe(2);
  });

  it('one address holds at most a quarter of the queue, and the address with the fewest verifications running is served first', async () => {
    hasher.close();
    hasher.started.length = 0;
    const flood = Array.from({ length: 5 }, (_, i) =>
      attempt('203.0.113.66', `flood-${i}`).catch((e: unknown) => e),
    );
    await until(() => hasher.waiting === 2);
    // 2 running, 2 queued (8 / 4), and the fifth refused although the queue has room.
    expect(await flood[4]).toBeInstanceOf(LoginThrottledError);
    const real = attempt('192.0.2.1', USERS.thedude);
    const limiter = t.app.get(VerificationLimiter);
    await until(() => limiter.queued === 3);
    // A slot frees: the other address goes first (no verification running), though the flood waited longer.
    hasher.passOne();
    await until(() => hasher.started.length === 3);
    hasher.passOne();
    await until(() => hasher.started.length === 4);
    expect(hasher.started).toEqual(['flood-0', 'flood-1', USERS.thedude, 'flood-2']);
    hasher.open();
    await real;
    await Promise.all(flood);
  });

  it("a login whose address and username had no failures goes first, and takes a full queue's newest place from guesses", async () => {
    const { gated, own, limiter, login } = await queueApp();
    // Guesses at walter's password, each from an address of its own (a flood from many addresses).
    const guess = (i: number) => login(`198.51.100.${i}`, 'walter', `guess-${i}`);
    const before = gated.started.length; // the realm's own hashes at start-up
    try {
      gated.close();
      const judged = [guess(0), guess(1)];
      await until(() => gated.waiting === 2);
      gated.passOne();
      gated.passOne();
      expect(await Promise.all(judged)).toEqual(['IncorrectCredentialsError', 'IncorrectCredentialsError']);
      // walter's username has failed now. Two more guesses run (held), eight wait: the queue is full.
      const guesses = Array.from({ length: 10 }, (_, i) => guess(i + 2));
      await until(() => gated.waiting === 2 && limiter.queued === 8);
      // One more guess finds no place; a login from a clean address for a clean username takes the newest guess's.
      expect(await guess(12)).toBe('throttled:capacity');
      const real = login('192.0.2.77', 'thedude', USERS.thedude);
      expect(await guesses[9]).toBe('throttled:capacity');
      expect(limiter.queued).toBe(8);
      // The next free slot goes to it, ahead of the six guesses that waited longer (each from an idle address).
      gated.passOne();
      await until(() => gated.started.length === before + 5);
      expect(gated.started.slice(before)).toEqual([
        'guess-0',
        'guess-1',
        'guess-2',
        'guess-3',
        USERS.thedude,
      ]);
      gated.open();
      expect(await real).toBe('signed in');
      expect(await Promise.all(guesses.slice(0, 9))).toEqual(Array(9).fill('IncorrectCredentialsError'));
    } finally {
      gated.open();
      await own.close();
    }
  });

  it('while a login with no recent failures is verified, logins with failures wait even for a free slot', async () => {
    const { gated, own, limiter, login } = await queueApp();
    try {
      // walter's username and the guessing address fail once: their next attempts are of the last class.
      expect(await login('198.51.100.1', 'walter', 'guess-0')).toBe('IncorrectCredentialsError');
      gated.close();
      const real = login('192.0.2.77', 'thedude', USERS.thedude);
      await until(() => gated.waiting === 1);
      const guess = login('198.51.100.1', 'walter', 'guess-1');
      await until(() => limiter.queued === 1);
      // One slot is free, but the guess waits; another clean login takes the free slot at once.
      expect(limiter.active).toBe(1);
      const second = login('192.0.2.78', 'walter-fan', 'no such user');
      await until(() => gated.waiting === 2);
      expect(limiter.queued).toBe(1);
      gated.passOne();
      gated.passOne();
      // Both clean logins ended: the guess starts.
      await until(() => limiter.queued === 0 && gated.waiting === 1);
      gated.open();
      expect(await real).toBe('signed in');
      expect(await second).toBe('UnknownAccountError');
      expect(await guess).toBe('IncorrectCredentialsError');
    } finally {
      gated.open();
      await own.close();
    }
  });

  it('a login that waits longer than maxWaitMs is refused with scope capacity', async () => {
    const gated = new GatedHasher();
    const short = await createTestApp({
      platform: 'express',
      yosai: { passwordVerification: { maxConcurrent: 1, maxWaitMs: 5, maxQueued: 4 } },
      hasher: gated,
    });
    try {
      const factory = short.app.get(SubjectFactory);
      gated.close();
      const first = (await factory.fromToken(null, { host: '192.0.2.9' })).login(
        new UsernamePasswordToken('thedude', 'held'),
      );
      await until(() => gated.waiting === 1);
      const second = await (
        await factory.fromToken(null, { host: '192.0.2.10' })
      )
        .login(new UsernamePasswordToken('thedude', 'waits'))
        .catch((e: unknown) => e);
      expect(second).toBeInstanceOf(LoginThrottledError);
      expect((second as LoginThrottledError).scope).toBe('capacity');
      gated.open();
      await expect(first).rejects.toBeInstanceOf(IncorrectCredentialsError);
    } finally {
      await short.close();
    }
  });
});

/** A store without the optional setIfAbsent (as a store of an app's own may be). */
class PlainStore extends SessionStore {
  readonly inner = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
  get(id: string) {
    return this.inner.get(id);
  }
  set(id: string, value: string, ttlMs: number, hints?: SessionWriteHints) {
    return this.inner.set(id, value, ttlMs, hints);
  }
  compareAndSet(id: string, expected: string, value: string, ttlMs: number) {
    return this.inner.compareAndSet(id, expected, value, ttlMs);
  }
  delete(id: string) {
    return this.inner.delete(id);
  }
}

describe('login throttling on a store without setIfAbsent', () => {
  it('counts and locks the same way', async () => {
    const store = new PlainStore();
    const t = await createTestApp({
      platform: 'express',
      yosai: { store, loginThrottle: { maxFailures: 3 } },
    });
    try {
      const subjects = t.app.get(SubjectFactory);
      const attempt = async (password: string) =>
        (await subjects.fromToken(null)).login(new UsernamePasswordToken('walter', password));
      await expect(attempt('x')).rejects.toBeInstanceOf(IncorrectCredentialsError);
      await attempt(USERS.walter); // resets
      for (let i = 0; i < 3; i++)
        await expect(attempt('x')).rejects.toBeInstanceOf(IncorrectCredentialsError);
      await expect(attempt(USERS.walter)).rejects.toBeInstanceOf(LoginThrottledError);
    } finally {
      await t.close();
      await store.inner.close();
    }
  });
});

describe('the throttle and the cap together', () => {
  it('a login the cap refuses was not judged: it does not count towards the username lock', async () => {
    const gated = new GatedHasher();
    const t = await createTestApp({
      platform: 'express',
      yosai: {
        loginThrottle: { maxFailures: 2 },
        passwordVerification: { maxConcurrent: 1, maxQueued: 0 },
      },
      hasher: gated,
    });
    try {
      const subjects = t.app.get(SubjectFactory);
      const attempt = async (username: string, password: string) =>
        (await subjects.fromToken(null)).login(new UsernamePasswordToken(username, password));
      gated.close();
      const held = attempt('walter', 'held');
      await until(() => gated.waiting === 1);
      for (let i = 0; i < 3; i++) {
        const refused = await attempt('thedude', `try-${i}`).catch((e: unknown) => e);
        expect(refused).toMatchObject({ scope: 'capacity' });
      }
      gated.open();
      await expect(held).rejects.toBeInstanceOf(IncorrectCredentialsError);
      await attempt('thedude', USERS.thedude); // not locked: none of the three refusals counted
    } finally {
      await t.close();
    }
  });
});

describe('rehash on login (Realm.upgradeCredentials)', () => {
  const CONFIGURED = { logN: 11, r: 8, p: 1, allowWeakParameters: true };

  it('an old cheap hash signs in, the hook gets a hash at the configured cost, and the next login verifies against it', async () => {
    const realm = await UpgradingRealm.create(USERS); // hashed at logN 10
    const t = await createTestApp({ platform: 'express', yosai: { realm, passwordHashing: CONFIGURED } });
    try {
      const subjects = t.app.get(SubjectFactory);
      await expect(
        (await subjects.fromToken(null)).login(new UsernamePasswordToken('thedude', 'wrong')),
      ).rejects.toBeInstanceOf(IncorrectCredentialsError);
      expect(realm.upgrades).toEqual([]); // only a successful login rehashes
      await (await subjects.fromToken(null)).login(new UsernamePasswordToken('thedude', USERS.thedude));
      expect(realm.upgrades).toHaveLength(1);
      const [username, credentials] = realm.upgrades[0];
      expect(username).toBe('thedude');
      expect(credentials).toMatch(/^\$scrypt\$ln=11,r=8,p=1\$/);
      expect(realm.accounts.get('thedude')!.credentials).toBe(credentials);

      const next = await subjects.fromToken(null);
      await next.login(new UsernamePasswordToken('thedude', USERS.thedude));
      expect(next.primaryIdentifier).toBe('thedude');
      expect(realm.upgrades).toHaveLength(1); // the new hash is at the configured cost: no second upgrade
    } finally {
      await t.close();
    }
  });

  it('a hook that throws is logged (without the hash or the password) and the login goes ahead', async () => {
    const realm = await UpgradingRealm.create(USERS);
    realm.upgradeFails = true;
    const logger = new CapturingLogger();
    const t = await createTestApp({ platform: 'express', yosai: { realm, passwordHashing: CONFIGURED } });
    t.app.useLogger(logger);
    try {
      const subject = await t.app.get(SubjectFactory).fromToken(null);
      await subject.login(new UsernamePasswordToken('walter', USERS.walter));
      expect(subject.primaryIdentifier).toBe('walter');
      expect(realm.upgrades).toHaveLength(1);
      const warning = logger.lines
        .map((line) => line.text)
        .find((text) => text.includes('could not upgrade'));
      expect(warning).toBeDefined();
      expect(warning).not.toContain('$scrypt$');
      expect(warning).not.toContain(USERS.walter);
    } finally {
      await t.close();
    }
  });
});
