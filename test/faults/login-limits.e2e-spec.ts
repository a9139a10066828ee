// The login limits of issue 12 under attack conditions: concurrent failures from two instances on one store (the
// count must be exact, on Redis and in memory), the verification cap overflowing over HTTP, and the store failing
// while a login is being throttled (fail closed: 503, no password checked).
import request from 'supertest';
import {
  AuthenticationError,
  CacheManagerSessionStore,
  LOGIN_THROTTLED_MESSAGE,
  LoginThrottledError,
  PasswordHasher,
  Realm,
  SessionStore,
  SubjectFactory,
  UsernamePasswordToken,
  type Account,
  type SessionWriteHints,
} from '../../src/index.js';
import { GatedHasher, until } from '../support/gated-hasher.js';
import { redisAvailable, redisStorePair } from '../support/redis.js';
import { createTestApp, PLATFORMS, TEST_HASHING, USERS, type TestApp } from '../support/test-app.js';

/** One realm shared by both instances, counting look-ups: each look-up is one password checked. */
class CountingRealm extends Realm {
  lookups = 0;
  private readonly accounts = new Map<string, Account>();
  static async create(): Promise<CountingRealm> {
    const realm = new CountingRealm();
    const hasher = new PasswordHasher(TEST_HASHING);
    for (const [name, password] of Object.entries(USERS)) {
      realm.accounts.set(name, { identifiers: [name], credentials: await hasher.hash(password) });
    }
    return realm;
  }
  findAccount(username: string) {
    this.lookups++;
    return this.accounts.get(username) ?? null;
  }
}

type Outcome = string; // 'checked', 'throttled', 'signed in', or an unexpected error's name

async function outcome(attempt: Promise<void>): Promise<Outcome> {
  try {
    await attempt;
    return 'signed in';
  } catch (error) {
    if (error instanceof AuthenticationError) return 'checked';
    if (error instanceof LoginThrottledError) return 'throttled';
    return (error as Error).name;
  }
}

describe.each(['memory', 'redis'] as const)(
  'login throttle across two instances on one store (%s)',
  (kind) => {
    let a: TestApp;
    let b: TestApp;
    let realm: CountingRealm;
    let run = true;
    const closers: (() => Promise<void>)[] = [];

    beforeAll(async () => {
      let storeA: SessionStore;
      let storeB: SessionStore;
      if (kind === 'memory') {
        storeA = storeB = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
        closers.push(() => storeA.close!());
      } else {
        if (!(await redisAvailable('login throttle across two instances (redis)'))) {
          run = false;
          return;
        }
        const pair = redisStorePair(`yosai-faults-throttle-${process.pid}-${Date.now()}`);
        storeA = pair.a;
        storeB = pair.b;
        closers.push(pair.close);
      }
      realm = await CountingRealm.create();
      const yosai = { realm, loginThrottle: { maxFailures: 5, maxFailuresPerAddress: 7 } };
      a = await createTestApp({ platform: 'express', yosai: { ...yosai, store: storeA } });
      b = await createTestApp({ platform: 'express', yosai: { ...yosai, store: storeB } });
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      for (const close of closers) await close();
    });

    const instances = () => [a.app.get(SubjectFactory), b.app.get(SubjectFactory)];

    it('40 concurrent wrong passwords for one username, split over both: exactly maxFailures are checked', async () => {
      if (!run) return;
      const factories = instances();
      const before = realm.lookups;
      const outcomes = await Promise.all(
        Array.from({ length: 40 }, async (_, i) =>
          outcome(
            (await factories[i % 2].fromToken(null)).login(
              new UsernamePasswordToken('thedude', `wrong-${i}`),
            ),
          ),
        ),
      );
      expect(outcomes.filter((o) => o === 'checked')).toHaveLength(5);
      expect(outcomes.filter((o) => o === 'throttled')).toHaveLength(35);
      expect(realm.lookups - before).toBe(5);
      // Locked on both instances, the right password included.
      for (const factory of factories) {
        expect(
          await outcome(
            (await factory.fromToken(null)).login(new UsernamePasswordToken('thedude', USERS.thedude)),
          ),
        ).toBe('throttled');
      }
    });

    it('40 concurrent failures on different usernames from one address: exactly maxFailuresPerAddress are checked', async () => {
      if (!run) return;
      const factories = instances();
      const before = realm.lookups;
      const outcomes = await Promise.all(
        Array.from({ length: 40 }, async (_, i) =>
          outcome(
            (await factories[i % 2].fromToken(null, { host: '198.51.100.23' })).login(
              new UsernamePasswordToken(`user-${i}`, 'x'),
            ),
          ),
        ),
      );
      expect(outcomes.filter((o) => o === 'checked')).toHaveLength(7);
      expect(outcomes.filter((o) => o === 'throttled')).toHaveLength(33);
      expect(realm.lookups - before).toBe(7);
    });
  },
);

describe.each(PLATFORMS)('verification cap overflow over HTTP (%s)', (platform) => {
  let t: TestApp;
  const hasher = new GatedHasher();

  beforeAll(async () => {
    t = await createTestApp({
      platform,
      hasher,
      yosai: { passwordVerification: { maxConcurrent: 1, maxQueued: 0 } },
    });
  });
  afterAll(() => t.close());

  it('with every slot busy and no queue, a login gets 429 with Retry-After at once, unchecked', async () => {
    hasher.close();
    const server = t.app.getHttpServer();
    const held = request(server)
      .post('/login')
      .send({ username: 'walter', password: 'held' })
      .then((r) => r);
    await until(() => hasher.waiting === 1);
    const refused = await request(server)
      .post('/login')
      .send({ username: 'thedude', password: USERS.thedude });
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.body).toEqual({ statusCode: 429, message: LOGIN_THROTTLED_MESSAGE });
    expect(hasher.started).not.toContain(USERS.thedude);
    hasher.open();
    expect((await held).status).toBe(401);
    await request(server).post('/login').send({ username: 'thedude', password: USERS.thedude }).expect(200);
  });
});

/** A store over the in-memory one that can be made to fail (reject) or hang, on throttle counters only or on all. */
class FaultyStore extends SessionStore {
  mode: 'ok' | 'down' | 'hang' | 'writes down' = 'ok';
  readonly inner = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
  private fault<T>(id: string, write: boolean, op: () => Promise<T>): Promise<T> {
    const throttle = id.startsWith('yosai-login-throttle:');
    if (this.mode === 'down' || (this.mode === 'writes down' && write && throttle)) {
      return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
    }
    if (this.mode === 'hang') return new Promise<T>(() => undefined);
    return op();
  }
  get(id: string) {
    return this.fault(id, false, () => this.inner.get(id));
  }
  set(id: string, value: string, ttlMs: number, hints?: SessionWriteHints) {
    return this.fault(id, true, () => this.inner.set(id, value, ttlMs, hints));
  }
  compareAndSet(id: string, expected: string, value: string, ttlMs: number) {
    return this.fault(id, true, () => this.inner.compareAndSet(id, expected, value, ttlMs));
  }
  setIfAbsent(id: string, value: string, ttlMs: number) {
    return this.fault(id, true, () => this.inner.setIfAbsent!(id, value, ttlMs));
  }
  delete(id: string) {
    return this.fault(id, true, () => this.inner.delete(id));
  }
}

describe.each(PLATFORMS)('the store fails while a login is throttled (%s): fail closed', (platform) => {
  let t: TestApp;
  let realm: CountingRealm;
  const store = new FaultyStore();

  beforeAll(async () => {
    realm = await CountingRealm.create();
    t = await createTestApp({ platform, yosai: { realm, store, storeTimeoutMs: 100 } });
  });
  afterAll(async () => {
    store.mode = 'ok';
    await t.close();
    await store.inner.close();
  });
  afterEach(() => (store.mode = 'ok'));

  it.each(['down', 'writes down', 'hang'] as const)(
    'store %s: the login is refused with 503, and no password is checked',
    async (mode) => {
      store.mode = mode;
      const before = realm.lookups;
      const res = await request(t.app.getHttpServer())
        .post('/login')
        .send({ username: 'thedude', password: USERS.thedude });
      expect(res.status).toBe(503);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(realm.lookups).toBe(before);
      store.mode = 'ok';
      await request(t.app.getHttpServer())
        .post('/login')
        .send({ username: 'thedude', password: USERS.thedude })
        .expect(200);
    },
  );
});
