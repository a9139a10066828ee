import request from 'supertest';
import { bucketTag, sessionBucketOf } from '../src/store/session-tag.js';
import { ManualClock } from '../src/index.js';
import { CASES, clearsCookie, sessionIdOf } from './support/cookies.js';
import { redisAvailable, redisSessionStore } from './support/redis.js';
import {
  createTestApp,
  sessionCookie,
  USERS,
  type Mount,
  type Platform,
  type TestApp,
} from './support/test-app.js';

const available = await redisAvailable('two-instances.e2e-spec (two apps sharing one Redis)');
const NAMESPACE = `yosai-e2e-two-instances-${process.pid}-${Date.now()}`;
const IDLE = 60_000;

type Server = Parameters<typeof request>[0];

/** A on the given platform and mount; B on the other platform and the other mount. */
const PAIRS = CASES.map(([platform, mount]): [Platform, Mount, Platform, Mount] => [
  platform,
  mount,
  platform === 'express' ? 'fastify' : 'express',
  mount === 'forRoot' ? 'forRootAsync' : 'forRoot',
]);

(available ? describe.each(PAIRS) : describe.skip.each(PAIRS))(
  'Two app instances sharing one Redis (A: %s %s, B: %s %s)',
  (platformA, mountA, platformB, mountB) => {
    const namespace = `${NAMESPACE}-${platformA}-${mountA}`;
    const clock = new ManualClock(Date.now());
    let storeA: ReturnType<typeof redisSessionStore>;
    let storeB: ReturnType<typeof redisSessionStore>;
    let a: TestApp;
    let b: TestApp;
    let serverA: Server;
    let serverB: Server;

    beforeAll(async () => {
      // Each instance has its own connection, as two processes would.
      storeA = redisSessionStore(namespace);
      storeB = redisSessionStore(namespace);
      const common = { clock, idleTimeoutMs: IDLE, touchIntervalMs: 1_000 };
      a = await createTestApp({
        platform: platformA,
        mount: mountA,
        yosai: { ...common, store: storeA.store },
      });
      b = await createTestApp({
        platform: platformB,
        mount: mountB,
        yosai: { ...common, store: storeB.store },
      });
      serverA = a.app.getHttpServer() as Server;
      serverB = b.app.getHttpServer() as Server;
    });
    afterAll(async () => {
      await Promise.all([a?.close(), b?.close()]);
      await Promise.all([storeA?.close(), storeB?.close()]);
    });
    beforeEach(() => {
      a.events.clear();
      b.events.clear();
    });

    it('a session started on A is served by B; logout on B ends it on A at its very next request', async () => {
      expect(storeA.store.kind).toBe('redis');
      const put = await request(serverA)
        .put('/attr/cart')
        .send({ value: ['rug'] })
        .expect(200);
      const guest = sessionCookie(put.headers)!;
      expect(guest).toMatch(/^[A-Za-z0-9_-]{43}$/);
      await request(serverB)
        .get('/attr/cart')
        .set('Cookie', `sid=${guest}`)
        .expect(200, { value: ['rug'] });

      const login = await request(serverB)
        .post('/login')
        .set('Cookie', `sid=${guest}`)
        .send({ username: 'thedude', password: USERS.thedude })
        .expect(200);
      const user = sessionCookie(login.headers)!;
      expect(user).not.toBe(guest);
      // A sees B's login at once, and the pre-login token is dead on A too.
      await request(serverA)
        .get('/protected')
        .set('Cookie', `sid=${user}`)
        .expect(200, { username: 'thedude' });
      await request(serverA)
        .get('/attr/cart')
        .set('Cookie', `sid=${user}`)
        .expect(200, { value: ['rug'] });
      await request(serverA).get('/protected').set('Cookie', `sid=${guest}`).expect(401);

      // An attribute written on A is read on B.
      await request(serverA).put('/attr/lane').set('Cookie', `sid=${user}`).send({ value: 7 }).expect(200);
      await request(serverB).get('/attr/lane').set('Cookie', `sid=${user}`).expect(200, { value: 7 });

      const out = await request(serverB).post('/logout').set('Cookie', `sid=${user}`).expect(204);
      expect(clearsCookie(out.headers)).toBe(true);
      expect(b.events.named('yosai.session.stopped')).toEqual([
        expect.objectContaining({ reason: 'regenerated' }),
        expect.objectContaining({ reason: 'logout', identifiers: ['thedude'], sessionId: sessionIdOf(user) }),
      ]);

      const onA = await request(serverA).get('/whoami').set('Cookie', `sid=${user}`).expect(200);
      expect(onA.body).toEqual({
        authenticated: false,
        identifiers: [],
        sessionId: null,
        tokenStatus: 'unknown',
      });
      expect(clearsCookie(onA.headers)).toBe(true);
      await request(serverA).get('/protected').set('Cookie', `sid=${user}`).expect(401);
    });

    it('the record in Redis is a hash keyed by the hashed id (hash-tagged by its bucket) and holds no token', async () => {
      const put = await request(serverA).put('/attr/x').send({ value: 1 }).expect(200);
      const token = sessionCookie(put.headers)!;
      const client = await storeA.adapter.getClient();
      const id = sessionIdOf(token);
      const key = `${namespace}::yosai:sess:{${bucketTag(sessionBucketOf(id))}}${id}`;
      const fields = await client.hGetAll(key);
      expect(fields).toMatchObject({ 'a:x': '1', v: '2', n: '1' });
      expect(JSON.stringify(fields)).not.toContain(token);
      expect(await client.exists(`${namespace}::yosai:sess:${id}`)).toBe(0);
      const ttl = await client.pTTL(key);
      expect(ttl).toBeGreaterThan(0);
    });

    it('an expired session seen by both instances at once is reported exactly once', async () => {
      const login = await request(serverA)
        .post('/login')
        .send({ username: 'walter', password: USERS.walter })
        .expect(200);
      const token = sessionCookie(login.headers)!;
      clock.advance(IDLE + 1);
      const results = await Promise.all([
        request(serverA).get('/whoami').set('Cookie', `sid=${token}`),
        request(serverB).get('/whoami').set('Cookie', `sid=${token}`),
        request(serverA).get('/whoami').set('Cookie', `sid=${token}`),
        request(serverB).get('/whoami').set('Cookie', `sid=${token}`),
      ]);
      for (const res of results) {
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ authenticated: false, sessionId: null });
      }
      const expired = [
        ...a.events.named('yosai.session.expired'),
        ...b.events.named('yosai.session.expired'),
      ];
      expect(expired).toEqual([
        expect.objectContaining({ sessionId: sessionIdOf(token), identifiers: ['walter'], reason: 'idle' }),
      ]);
    });
  },
);
