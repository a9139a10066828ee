// The principal index and SessionRegistry, on both stores with two instances each: two managers over one in-memory
// store, and two managers each over its own connection to one namespace of the shared Redis. Listing, stopping one,
// all, all but one (reason `revoked`); the index never lists a session that ended (logout, expiry on a read, login
// replacement, eviction); `maxSessionsPerPrincipal` exact under concurrent logins on both instances, with either
// policy; Redis keys back to none after every session ended; the bootstrap error for a store without the index.
import {
  CacheManagerSessionStore,
  ManualClock,
  SessionRegistry,
  TooManySessionsError,
  YosaiConfigurationError,
  YosaiModule,
  type SessionManager,
  type SessionStore,
  type YosaiModuleOptions,
} from '../src/index.js';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { CASES } from './support/cookies.js';
import { createTestApp, sessionCookie, USERS } from './support/test-app.js';
import { createManagerHarness, type ManagerHarness } from './support/manager-module.js';
import { redisAvailable, redisSessionStore, redisStorePair } from './support/redis.js';
import { principalBucket } from '../src/session/session-token.js';
import { principalHash } from '../src/store/session-tag.js';

const hasRedis = await redisAvailable('session registry (Redis)');
const RUN = `${process.pid}-${Date.now()}`;
const IDLE = 60_000;

interface Backing {
  /** One store per instance (the same object in memory: one process's store). */
  stores(): [SessionStore, SessionStore];
  /** Keys this backing holds in Redis (none for memory). */
  keys(): Promise<string[]>;
  /** Redis only: a key's TTL in milliseconds. */
  pttl?(key: string): Promise<number>;
  /** Redis only: adds a member to a sorted set of the namespace (`key` without the namespace). */
  zadd?(key: string, member: string): Promise<void>;
  close(): Promise<void>;
}

let namespaces = 0;
function memory(): Backing {
  const store = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
  return { stores: () => [store, store], keys: async () => [], close: () => store.close() };
}
function redis(): Backing {
  const namespace = `yosai-e2e-registry-${RUN}-${namespaces++}`;
  const pair = redisStorePair(namespace);
  return {
    stores: () => [pair.a, pair.b],
    keys: async () => (await pair.client()).keys(`${namespace}::*`),
    pttl: async (key) => (await pair.client()).pTTL(key),
    zadd: async (key, member) => {
      await (await pair.client()).zAdd(`${namespace}::${key}`, { score: 0, value: member });
    },
    close: pair.close,
  };
}

const BACKINGS: [string, () => Backing][] = [['memory', memory]];
if (hasRedis) BACKINGS.push(['redis', redis]);

describe.each(BACKINGS)('SessionRegistry over %s, two instances', (_name, make) => {
  let backing: Backing;
  let one: ManagerHarness;
  let two: ManagerHarness;
  let clock: ManualClock;

  async function setUp(yosai: YosaiModuleOptions = {}) {
    backing = make();
    clock = new ManualClock(Date.now());
    const [a, b] = backing.stores();
    const common = {
      clock,
      idleTimeoutMs: IDLE,
      touchIntervalMs: 1_000,
      expiredRecordGraceMs: 0,
      principalIndex: true,
      ...yosai,
    };
    one = await createManagerHarness({ store: a, yosai: common });
    two = await createManagerHarness({ store: b, yosai: common });
  }
  afterEach(async () => {
    await one?.close();
    await two?.close();
    await backing?.close();
  });

  const registry = (h: ManagerHarness) => h.moduleRef.get(SessionRegistry);
  const login = (m: SessionManager, user: string, host = '10.0.0.1') =>
    m.startSession({ identifiers: [user], authenticated: true, host });
  const listed = async (h: ManagerHarness, user: string) => (await registry(h).list(user)).map((s) => s.id);
  const reasons = (h: ManagerHarness, name: string) =>
    h.events.named(name).map((p) => `${String(p.sessionId)}:${String(p.reason)}`);

  it('lists a principal’s sessions from either instance, oldest first, with their metadata', async () => {
    await setUp();
    const first = await login(one.manager, 'thedude', '10.0.0.1');
    await first.session.setAttribute('userAgent', 'Mozilla/5.0 (bowling)');
    clock.advance(1_000);
    const second = await login(two.manager, 'thedude', '10.0.0.2');
    await login(one.manager, 'walter');
    await one.manager.startSession(); // a guest: in nobody's index

    const onOne = await registry(one).list('thedude');
    expect(onOne.map((s) => s.id)).toEqual([first.session.id, second.session.id]);
    expect(await listed(two, 'thedude')).toEqual([first.session.id, second.session.id]);
    expect(onOne[0]).toEqual({
      id: first.session.id,
      startedAt: first.session.startedAt,
      lastAccessedAt: first.session.lastAccessedAt,
      expiresAt: first.session.lastAccessedAt + IDLE,
      host: '10.0.0.1',
      identifiers: ['thedude'],
      authenticated: true,
      userAgent: 'Mozilla/5.0 (bowling)',
    });
    expect(onOne[1]).toMatchObject({ host: '10.0.0.2', userAgent: null });
    expect(await listed(one, 'donny')).toEqual([]);
  });

  it('lists sessions started within one millisecond in the order they started', async () => {
    await setUp();
    const started: string[] = [];
    // Sequential starts on alternating instances: on Redis several land in one millisecond of the index's clock.
    for (let i = 0; i < 30; i++)
      started.push((await login(i % 2 ? two.manager : one.manager, 'bunny')).session.id);
    expect(await listed(one, 'bunny')).toEqual(started);
  });

  it('stops one (only the principal’s own), all but the current one, and all: reason revoked, once each', async () => {
    await setUp();
    const s = [];
    for (let i = 0; i < 4; i++) s.push(await login(i % 2 ? two.manager : one.manager, 'thedude'));
    const walter = await login(one.manager, 'walter');

    // Another principal's id, or an unknown one, is not stopped (and tells nothing).
    expect(await registry(two).stop('thedude', walter.session.id)).toBe(false);
    expect(await registry(two).stop('thedude', 'no-such-session')).toBe(false);
    expect(await listed(one, 'walter')).toEqual([walter.session.id]);

    expect(await registry(two).stop('thedude', s[0].session.id)).toBe(true);
    expect(await registry(one).stop('thedude', s[0].session.id)).toBe(false);
    expect((await one.manager.resolve(s[0].token)).status).toBe('unknown');

    expect(await registry(one).stopOthers('thedude', s[1].session)).toBe(2);
    expect(await listed(two, 'thedude')).toEqual([s[1].session.id]);
    expect((await two.manager.resolve(s[1].token)).status).toBe('valid');
    expect((await two.manager.resolve(s[2].token)).status).toBe('unknown');

    await login(two.manager, 'thedude');
    expect(await registry(two).stopAll('thedude')).toBe(2);
    expect(await listed(one, 'thedude')).toEqual([]);
    expect((await one.manager.resolve(s[1].token)).status).toBe('unknown');

    const stopped = [...reasons(one, 'yosai.session.stopped'), ...reasons(two, 'yosai.session.stopped')];
    expect(stopped).toHaveLength(5);
    expect(new Set(stopped).size).toBe(5);
    expect(stopped.every((e) => e.endsWith(':revoked'))).toBe(true);
  });

  it('stop answers false for an id that is not a session id, and the principal’s sessions stay', async () => {
    await setUp();
    // A principal in bucket 0: an id without a bucket of its own (no two base64url characters first) maps there.
    const user = Array.from({ length: 10_000 }, (_, i) => `user${i}`).find((u) => principalBucket(u) === 0)!;
    const mine = await login(one.manager, user);
    const crafted = [
      `p:${principalHash(user)}`, // the principal's index, by the key the store would build for it
      ':expiry:3',
      ':lease',
      `${mine.session.id}x`,
      mine.session.id.slice(1),
      `${mine.session.id.slice(0, 42)}=`,
    ];
    for (const id of crafted) expect(await registry(two).stop(user, id)).toBe(false);
    expect(await listed(one, user)).toEqual([mine.session.id]);
    expect((await one.manager.resolve(mine.token)).status).toBe('valid');
  });

  it('no index entry outlives its session: logout, login replacement, expiry found by a read or a listing', async () => {
    await setUp();
    const a = await login(one.manager, 'thedude');
    const b = await login(two.manager, 'thedude');
    const c = await login(one.manager, 'thedude');
    const guest = await two.manager.startSession();

    await one.manager.stop(a.session, 'logout');
    expect(await listed(two, 'thedude')).toEqual([b.session.id, c.session.id]);

    // A login from the guest session: the new session joins, and re-login of b replaces b.
    const fromGuest = await two.manager.replaceSession(guest.session, {
      identifiers: ['thedude'],
      authenticated: true,
    });
    const b2 = await one.manager.replaceSession(b.session, { identifiers: ['thedude'], authenticated: true });
    expect(await listed(one, 'thedude')).toEqual([c.session.id, fromGuest.session.id, b2.session.id]);

    // A login as someone else leaves the old principal's index.
    const asWalter = await one.manager.replaceSession(c.session, {
      identifiers: ['walter'],
      authenticated: true,
    });
    expect(await listed(two, 'thedude')).toEqual([fromGuest.session.id, b2.session.id]);
    expect(await listed(two, 'walter')).toEqual([asWalter.session.id]);

    // Keep one active; let the other pass its idle timeout. A read expires it (one event), and it leaves the index.
    clock.advance(IDLE / 2);
    expect((await two.manager.resolve(b2.token)).status).toBe('valid');
    clock.advance(IDLE / 2 + 1);
    expect((await one.manager.resolve(fromGuest.token)).status).toBe('expired');
    expect(await listed(two, 'thedude')).toEqual([b2.session.id]);

    // A listing that finds an expired one expires it too: exactly one `expired` event across both instances.
    clock.advance(IDLE + 1);
    expect(await listed(one, 'thedude')).toEqual([]);
    expect(await listed(two, 'thedude')).toEqual([]);
    const expired = [...reasons(one, 'yosai.session.expired'), ...reasons(two, 'yosai.session.expired')];
    expect(expired.sort()).toEqual([`${b2.session.id}:idle`, `${fromGuest.session.id}:idle`].sort());
  });

  it('the index stays consistent under concurrent starts, stops, revocations and expiries on both instances', async () => {
    await setUp();
    const users = ['thedude', 'walter', 'donny'];
    const managers = [one.manager, two.manager];
    const pick = <T>(list: T[], i: number) => list[i % list.length];
    const issued = await Promise.all(
      Array.from({ length: 30 }, (_, i) => login(pick(managers, i), pick(users, i))),
    );
    // At once: logouts on either instance, revocations by id, "sign out the others" for donny, and more logins.
    const donnyKeeps = issued.find((s) => s.session.identifiers![0] === 'donny')!;
    const more = await Promise.all([
      ...issued.slice(0, 8).map((s, i) => pick(managers, i + 1).stop(s.session, 'logout')),
      ...issued
        .slice(8, 14)
        .map((s, i) => registry(pick([one, two], i)).stop(s.session.identifiers![0], s.session.id)),
      registry(two).stopOthers('donny', donnyKeeps.session),
      ...Array.from({ length: 9 }, (_, i) => login(pick(managers, i), pick(users, i))),
    ]);
    const all = [
      ...issued,
      ...more.filter((r): r is Awaited<ReturnType<typeof login>> => !!r && typeof r === 'object'),
    ];
    // Half the idle timeout later, every other session is used; the rest then pass their idle timeout and are
    // found expired by both instances at once.
    clock.advance(IDLE / 2);
    await Promise.all(all.filter((_, i) => i % 2 === 0).map((s) => one.manager.resolve(s.token)));
    clock.advance(IDLE / 2 + 1);
    await Promise.all(all.flatMap((s) => [one.manager.resolve(s.token), two.manager.resolve(s.token)]));

    const valid = new Set<string>();
    for (const s of all) if ((await one.manager.resolve(s.token)).status === 'valid') valid.add(s.session.id);
    expect(valid.size).toBeGreaterThan(0);
    for (const user of users) {
      const expected = all
        .filter((s) => s.session.identifiers![0] === user && valid.has(s.session.id))
        .map((s) => s.session.id)
        .sort();
      expect((await listed(one, user)).sort()).toEqual(expected);
      // The store's own index holds nothing more (no entry of an ended session left behind).
      expect([...(await one.store.principalIndex!.list(user))].sort()).toEqual(expected);
    }
    const expired = [...reasons(one, 'yosai.session.expired'), ...reasons(two, 'yosai.session.expired')];
    expect(new Set(expired).size).toBe(expired.length);
    const stopped = [...reasons(one, 'yosai.session.stopped'), ...reasons(two, 'yosai.session.stopped')];
    expect(new Set(stopped).size).toBe(stopped.length);
    expect(expired.length + stopped.length + valid.size).toBe(all.length);
  });

  // Redis keys and their TTLs: registered for Redis only (memory has no keys to look at).
  if (_name === 'redis') {
    it('Redis: the index carries a TTL at least as long as its records, and the keys are gone once sessions end', async () => {
      await setUp();
      expect(await backing.keys()).toEqual([]);
      const a = await login(one.manager, 'thedude');
      const b = await login(two.manager, 'thedude');
      const keys = await backing.keys();
      // Two records and the index (no expiry queue: the harness wraps the store, so the sweeper is off).
      expect(keys).toHaveLength(3);
      const index = keys.find((k) => k.includes('}p:'))!;
      const record = keys.find((k) => k.endsWith(a.session.id))!;
      // One slot: the index and the records share the principal's `{bucket}` tag.
      expect(index.slice(0, index.indexOf('}') + 1)).toBe(record.slice(0, record.indexOf('}') + 1));
      const pttl = backing.pttl!;
      expect(await pttl(index)).toBeGreaterThanOrEqual((await pttl(record)) - 50);
      // A write that extends a record's TTL (the idle timeout slides) extends the index's too.
      clock.advance(IDLE / 2);
      await a.session.touch();
      expect(await pttl(record)).toBeGreaterThan(IDLE - 1_000);
      expect(await pttl(index)).toBeGreaterThanOrEqual((await pttl(record)) - 50);
      await one.manager.stop(a.session, 'logout');
      await registry(two).stop('thedude', b.session.id);
      expect(await backing.keys()).toEqual([]);
    });

    it('Redis: a member of an index that is not a session id is not listed, and takes no place under the cap', async () => {
      await setUp({ maxSessionsPerPrincipal: 1 });
      const first = await login(one.manager, 'thedude');
      const hashed = principalHash('thedude');
      const index = (await backing.keys()).find((k) => k.includes('}p:'))!;
      // `p:<hash>` names a key that exists (the index itself), so only its shape tells it from a session.
      await backing.zadd!(index.slice(index.indexOf('::') + 2), `p:${hashed}`);
      expect(await listed(one, 'thedude')).toEqual([first.session.id]);
      const second = await login(two.manager, 'thedude');
      expect(await listed(one, 'thedude')).toEqual([second.session.id]);
      expect(reasons(two, 'yosai.session.stopped')).toEqual([`${first.session.id}:evicted`]);
    });

    it('Redis: abandoned sessions and their index vanish by TTL alone', async () => {
      // Real TTLs of about a second: the store's TTLs follow the timeouts, not the clock.
      // Without the expiry sweeper: its longer TTLs would keep records past the wait, and its queue is not kept.
      await setUp({ idleTimeoutMs: 1_000, touchIntervalMs: 100, expirySweepIntervalMs: 0 });
      await login(one.manager, 'thedude');
      await login(two.manager, 'thedude');
      expect(await backing.keys()).toHaveLength(3);
      await new Promise((resolve) => setTimeout(resolve, 1_300));
      expect(await backing.keys()).toEqual([]);
    });
  }

  describe('maxSessionsPerPrincipal', () => {
    it('evict-oldest (the default): the oldest sessions stop with reason evicted, from either instance', async () => {
      await setUp({ maxSessionsPerPrincipal: 2 });
      const a = await login(one.manager, 'thedude');
      const b = await login(two.manager, 'thedude');
      await login(one.manager, 'walter');
      const c = await login(two.manager, 'thedude');
      expect(await listed(one, 'thedude')).toEqual([b.session.id, c.session.id]);
      expect((await one.manager.resolve(a.token)).status).toBe('unknown');
      expect(reasons(two, 'yosai.session.stopped')).toEqual([`${a.session.id}:evicted`]);
      expect(reasons(one, 'yosai.session.stopped')).toEqual([]);
    });

    it('refuse: a login over the cap throws TooManySessionsError and writes nothing; the replaced session stays', async () => {
      await setUp({ maxSessionsPerPrincipal: 2, maxSessionsPerPrincipalPolicy: 'refuse' });
      const mine = await login(one.manager, 'thedude');
      await login(two.manager, 'thedude');
      await expect(login(one.manager, 'thedude')).rejects.toBeInstanceOf(TooManySessionsError);
      const guest = await two.manager.startSession();
      await expect(
        two.manager.replaceSession(guest.session, { identifiers: ['thedude'], authenticated: true }),
      ).rejects.toBeInstanceOf(TooManySessionsError);
      expect((await two.manager.resolve(guest.token)).status).toBe('valid');
      expect(await listed(one, 'thedude')).toHaveLength(2);
      // Signing in again from one of its own sessions replaces that one: not over the cap.
      const again = await one.manager.replaceSession(mine.session, {
        identifiers: ['thedude'],
        authenticated: true,
      });
      expect(await listed(two, 'thedude')).toHaveLength(2);
      expect(await listed(two, 'thedude')).toContain(again.session.id);
    });

    // The store keeps a record past its timeouts (until the sweeper or its TTL removes it), and its index counted it.
    it('refuse: a session past its idle timeout takes no place, though the store still holds it', async () => {
      await setUp({ maxSessionsPerPrincipal: 1, maxSessionsPerPrincipalPolicy: 'refuse' });
      const old = await login(one.manager, 'thedude');
      clock.advance(IDLE + 1);
      const fresh = await login(two.manager, 'thedude');
      expect(await listed(one, 'thedude')).toEqual([fresh.session.id]);
      expect(reasons(two, 'yosai.session.expired')).toEqual([`${old.session.id}:idle`]);
      // And when signing in from a guest session (refused before the guest session would be replaced).
      clock.advance(IDLE + 1);
      const guest = await one.manager.startSession();
      const replaced = await one.manager.replaceSession(guest.session, {
        identifiers: ['thedude'],
        authenticated: true,
      });
      expect(await listed(two, 'thedude')).toEqual([replaced.session.id]);
      // A live session still counts.
      await expect(login(two.manager, 'thedude')).rejects.toBeInstanceOf(TooManySessionsError);
    });

    it.each(['evict-oldest', 'refuse'] as const)(
      '%s is exact under 24 concurrent logins on two instances',
      async (policy) => {
        await setUp({ maxSessionsPerPrincipal: 3, maxSessionsPerPrincipalPolicy: policy });
        const results = await Promise.allSettled(
          Array.from({ length: 24 }, (_, i) => login(i % 2 ? two.manager : one.manager, 'thedude')),
        );
        const started = results.filter((r) => r.status === 'fulfilled');
        const live = await listed(one, 'thedude');
        expect(live).toHaveLength(3);
        const evicted = [...reasons(one, 'yosai.session.stopped'), ...reasons(two, 'yosai.session.stopped')];
        if (policy === 'refuse') {
          expect(started).toHaveLength(3);
          for (const r of results) {
            if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(TooManySessionsError);
          }
          expect(evicted).toEqual([]);
        } else {
          expect(started).toHaveLength(24);
          expect(evicted).toHaveLength(21);
          expect(new Set(evicted).size).toBe(21);
          expect(evicted.every((e) => e.endsWith(':evicted'))).toBe(true);
        }
        const ids = new Set(started.map((r) => r.value.session.id));
        for (const id of live) expect(ids.has(id)).toBe(true);
      },
    );
  });
});

// README: a `{…}` hash tag in the namespace or the prefix puts every session in one slot ("correct but gives up
// spreading"). The scripts must still find each key's own `{bucket}` tag, the one right before the id.
(hasRedis ? describe : describe.skip)(
  'SessionRegistry on Redis with a `{…}` hash tag in the key names',
  () => {
    const tagged: [string, { namespace: string; prefix?: string }][] = [
      ['the prefix', { namespace: `yosai-e2e-registry-${RUN}-tagprefix`, prefix: 'app:{s}:' }],
      ['the namespace', { namespace: `yosai-e2e-registry-${RUN}-{tagns}` }],
    ];
    let harness: ManagerHarness | undefined;
    let opened: ReturnType<typeof redisSessionStore> | undefined;
    afterEach(async () => {
      if (opened) {
        const client = await opened.adapter.getClient();
        const keys = await client.keys(`${opened.keyv.namespace}::*`);
        if (keys.length) await client.del(keys);
      }
      // The harness closes the store, and with it the connection.
      if (harness) await harness.close();
      else await opened?.close();
      harness = opened = undefined;
    });

    async function setUp(where: { namespace: string; prefix?: string }, yosai: YosaiModuleOptions = {}) {
      opened = redisSessionStore(where.namespace, undefined, where.prefix ? { prefix: where.prefix } : {});
      harness = await createManagerHarness({
        store: opened.store,
        yosai: { principalIndex: true, ...yosai },
      });
      return harness;
    }
    const login = (h: ManagerHarness) =>
      h.manager.startSession({ identifiers: ['walter'], authenticated: true });

    it.each(tagged)('with one in %s, a principal’s sessions are listed and stopped', async (_, where) => {
      const h = await setUp(where);
      const a = await login(h);
      const b = await login(h);
      const registry = h.moduleRef.get(SessionRegistry);
      expect((await registry.list('walter')).map((s) => s.id)).toEqual([a.session.id, b.session.id]);
      expect(await registry.stop('walter', a.session.id)).toBe(true);
      expect((await registry.list('walter')).map((s) => s.id)).toEqual([b.session.id]);
      await h.manager.stop(b.session, 'logout');
      expect(await registry.list('walter')).toEqual([]);
      // Nothing left behind: the records and the index are gone with the sessions.
      const client = await opened!.adapter.getClient();
      expect(await client.keys(`${where.namespace}::*`)).toEqual([]);
    });

    it.each(tagged)(
      'with one in %s, maxSessionsPerPrincipal: 1 lets a second login in and evicts the first',
      async (_, where) => {
        const h = await setUp(where, { maxSessionsPerPrincipal: 1 });
        const first = await login(h);
        const second = await login(h);
        expect((await h.moduleRef.get(SessionRegistry).list('walter')).map((s) => s.id)).toEqual([
          second.session.id,
        ]);
        expect((await h.manager.resolve(first.token)).status).toBe('unknown');
        expect(h.events.named('yosai.session.stopped').map((e) => e.reason)).toEqual(['evicted']);
      },
    );
  },
);

describe('a store without the principal index', () => {
  const plain = () => {
    const inner = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
    // The four required operations only, as a store of the app's own might have.
    const store = {
      get: (id: string) => inner.get(id),
      set: (id: string, v: string, ttl: number) => inner.set(id, v, ttl),
      compareAndSet: (id: string, e: string, v: string, ttl: number) => inner.compareAndSet(id, e, v, ttl),
      delete: (id: string) => inner.delete(id),
    } as unknown as SessionStore;
    return { store, inner };
  };

  it.each([{ maxSessionsPerPrincipal: 3 }, { principalIndex: true }])(
    '%j stops the bootstrap with a message that names the option and the capability',
    async (option) => {
      const { store, inner } = plain();
      const compile = Test.createTestingModule({
        imports: [YosaiModule.forRoot({ store, cookie: { secure: false }, ...option })],
      }).compile();
      await expect(compile).rejects.toThrow(YosaiConfigurationError);
      await expect(compile).rejects.toThrow(
        new RegExp(`\`${Object.keys(option)[0]}\` needs a session store with the principal index`),
      );
      await inner.close();
    },
  );

  it('without the option, SessionRegistry rejects with a message naming it; sessions work as before', async () => {
    const { store, inner } = plain();
    const h = await createManagerHarness({ store });
    try {
      const issued = await h.manager.startSession({ identifiers: ['thedude'], authenticated: true });
      expect((await h.manager.resolve(issued.token)).status).toBe('valid');
      await expect(h.moduleRef.get(SessionRegistry).list('thedude')).rejects.toThrow(
        /`principalIndex: true`/,
      );
    } finally {
      await h.close();
      await inner.close();
    }
  });
});

describe('principalIndex off (the default)', () => {
  it('a capable store keeps no index, and SessionRegistry says which option to set', async () => {
    const store = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
    const h = await createManagerHarness({ store });
    try {
      await h.manager.startSession({ identifiers: ['thedude'], authenticated: true });
      expect(await store.principalIndex!.list('thedude')).toEqual([]);
      await expect(h.moduleRef.get(SessionRegistry).stopAll('thedude')).rejects.toThrow(
        /`principalIndex: true`/,
      );
    } finally {
      await h.close();
    }
  });
});

describe('the in-memory store with maxSessions', () => {
  it('a session the store evicts to make room leaves its principal index with it', async () => {
    const store = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0, maxSessions: 3 });
    const h = await createManagerHarness({ store, yosai: { principalIndex: true } });
    try {
      const registry = h.moduleRef.get(SessionRegistry);
      const started = [];
      for (let i = 0; i < 5; i++) {
        started.push(await h.manager.startSession({ identifiers: [i % 2 ? 'walter' : 'thedude'] }));
      }
      // Five sessions in a store of three: the two least recently written were evicted.
      expect((await registry.list('thedude')).map((s) => s.id)).toEqual([
        started[2].session.id,
        started[4].session.id,
      ]);
      expect((await registry.list('walter')).map((s) => s.id)).toEqual([started[3].session.id]);
      expect(h.events.named('yosai.session.stopped').map((e) => e.reason)).toEqual(['evicted', 'evicted']);
    } finally {
      await h.close();
    }
  });
});

describe.each(CASES)('SessionRegistry over HTTP on %s (%s)', (platform, mount) => {
  type Server = Parameters<typeof request>[0];

  it('lists the caller’s sessions, signs out another device of its own (its next request is a guest), 404 otherwise', async () => {
    const t = await createTestApp({ platform, mount, yosai: { principalIndex: true } });
    try {
      const server = t.app.getHttpServer() as Server;
      const signIn = async (username: 'thedude' | 'walter') => {
        const res = await request(server)
          .post('/login')
          .send({ username, password: USERS[username] })
          .expect(200);
        return { token: sessionCookie(res.headers)!, id: (res.body as { sessionId: string }).sessionId };
      };
      const laptop = await signIn('thedude');
      const phone = await signIn('thedude');
      const walter = await signIn('walter');

      await request(server).get('/sessions').expect(401);
      const listed = await request(server).get('/sessions').set('Cookie', `sid=${phone.token}`).expect(200);
      expect(listed.body).toEqual([
        { id: laptop.id, current: false },
        { id: phone.id, current: true },
      ]);

      for (const id of [walter.id, 'A'.repeat(43)]) {
        await request(server).delete(`/sessions/${id}`).set('Cookie', `sid=${phone.token}`).expect(404);
      }
      await request(server).get('/protected').set('Cookie', `sid=${walter.token}`).expect(200);

      await request(server).delete(`/sessions/${laptop.id}`).set('Cookie', `sid=${phone.token}`).expect(204);
      const after = await request(server).get('/whoami').set('Cookie', `sid=${laptop.token}`).expect(200);
      expect(after.body).toMatchObject({ authenticated: false, tokenStatus: 'unknown' });
      expect(sessionCookie(after.headers)).toBe('');
      await request(server).get('/protected').set('Cookie', `sid=${phone.token}`).expect(200);
      const revoked = t.events.events.filter((e) => e.name === 'yosai.session.stopped');
      expect(revoked.map((e) => [e.payload.sessionId, e.payload.reason])).toContainEqual([
        laptop.id,
        'revoked',
      ]);
    } finally {
      await t.close();
    }
  });
});
