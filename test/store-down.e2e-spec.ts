import request from 'supertest';
import { CASES, forgedToken } from './support/cookies.js';
import { OwnRedis, redisSessionStore } from './support/redis.js';
import { createTestApp, sessionCookie, USERS, type TestApp } from './support/test-app.js';

/**
 * Fail closed: when the store is down, a request that presents a token gets 503 (never "anonymous"),
 * within the configured store timeout; a request without a token never touches the store and works.
 * Ports 6395-6398 host throw-away redis-servers (one per case); nothing listens on 6399.
 */
const STORE_TIMEOUT_MS = 300;
/** Generous: the point is "does not hang" (Jest's own timeout is 30 s), not speed. */
const BOUND_MS = 5_000;
const CLOSED_PORT_URL = 'redis://127.0.0.1:6399';

type Server = Parameters<typeof request>[0];

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await fn();
  return [result, performance.now() - started];
}

describe.each(CASES.map(([p, m], i) => [p, m, 6395 + i] as const))(
  'Store down (%s, %s, redis on port %d)',
  (platform, mount, port) => {
    describe('Redis killed while the app runs', () => {
      const redis = new OwnRedis(port);
      let store: ReturnType<typeof redisSessionStore>;
      let t: TestApp;
      let server: Server;

      beforeAll(async () => {
        await redis.start();
        store = redisSessionStore(`yosai-e2e-store-down-${port}`, redis.url);
        t = await createTestApp({
          platform,
          mount,
          yosai: { store: store.store, storeTimeoutMs: STORE_TIMEOUT_MS },
        });
        server = t.app.getHttpServer() as Server;
      });
      afterAll(async () => {
        await t?.close();
        await redis.stop();
        // The client is still trying to reconnect to the dead server: a polite QUIT would wait forever.
        await store?.adapter.disconnect(true).catch(() => undefined);
      });

      it('gives 503 to requests with a token and keeps serving requests without one', async () => {
        const login = await request(server)
          .post('/login')
          .send({ username: 'thedude', password: USERS.thedude })
          .expect(200);
        const token = sessionCookie(login.headers)!;
        await request(server).get('/protected').set('Cookie', `sid=${token}`).expect(200);

        await redis.stop();

        // Independent requests, sent together so the suite waits for the store timeout once.
        const [[res, elapsed], guestOnly, forged, put, anon, anonGuest, garbage] = await Promise.all([
          timed(() => request(server).get('/whoami').set('Cookie', `sid=${token}`)),
          // Fail closed on every route, including the ones guests may see.
          request(server).get('/guest-only').set('Cookie', `sid=${token}`),
          request(server).get('/whoami').set('Cookie', `sid=${forgedToken()}`),
          // Starting a session needs the store: that fails closed too, and sets no cookie.
          request(server).put('/attr/k').send({ value: 1 }),
          // No token, or a token that cannot be ours: no store access, so no failure.
          request(server).get('/whoami'),
          request(server).get('/guest-only'),
          request(server).get('/whoami').set('Cookie', 'sid=garbage'),
        ]);
        expect(res.status).toBe(503);
        expect(elapsed).toBeLessThan(BOUND_MS);
        expect(JSON.stringify(res.body)).not.toContain(token);
        expect(res.headers['set-cookie']).toBeUndefined();
        expect([guestOnly.status, forged.status, put.status]).toEqual([503, 503, 503]);
        expect(sessionCookie(put.headers)).toBeUndefined();
        expect([anon.status, anonGuest.status, garbage.status]).toEqual([200, 200, 200]);
        expect(anon.body).toMatchObject({ authenticated: false, tokenStatus: 'none' });
      });
    });

    it('a store pointing at a closed port: 503 with a token, 200 without', async () => {
      const store = redisSessionStore(`yosai-e2e-store-closed-${port}`, CLOSED_PORT_URL);
      const t = await createTestApp({
        platform,
        mount,
        yosai: { store: store.store, storeTimeoutMs: STORE_TIMEOUT_MS },
      });
      try {
        const server = t.app.getHttpServer() as Server;
        const [[res, elapsed], protectedRoute, login, anon, anonProtected] = await Promise.all([
          timed(() => request(server).get('/whoami').set('Cookie', `sid=${forgedToken()}`)),
          request(server).get('/protected').set('Cookie', `sid=${forgedToken()}`),
          request(server).post('/login').send({ username: 'thedude', password: USERS.thedude }),
          request(server).get('/whoami'),
          request(server).get('/protected'),
        ]);
        expect(res.status).toBe(503);
        expect(elapsed).toBeLessThan(BOUND_MS);
        expect([protectedRoute.status, login.status]).toEqual([503, 503]);
        expect(sessionCookie(login.headers)).toBeUndefined();
        expect([anon.status, anonProtected.status]).toEqual([200, 401]);
      } finally {
        await t.close();
        await store.adapter.disconnect(true).catch(() => undefined);
      }
    });
  },
);
