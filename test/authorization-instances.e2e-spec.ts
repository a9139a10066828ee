import request from 'supertest';
import { CacheManagerSessionStore, ManualClock } from '../src/index.js';
import { createAuthzApp, PASSWORDS, type AuthzApp } from './support/authz-app.js';
import { CountingStore } from './support/counting-store.js';
import { redisAvailable, redisSessionStore } from './support/redis.js';
import { sessionCookie } from './support/test-app.js';

type Server = Parameters<typeof request>[0];

const available = await redisAvailable('authorization-instances.e2e-spec (two apps sharing one Redis)');
const NAMESPACE = `yosai-e2e-authz-${process.pid}-${Date.now()}`;
const TTL = 30_000;

async function login(server: Server, username: string): Promise<string> {
  const res = await request(server)
    .post('/login')
    .send({ username, password: PASSWORDS[username] })
    .expect(200);
  return `sid=${sessionCookie(res.headers)}`;
}

(available ? describe : describe.skip)(
  'invalidateAuthorization across two instances sharing one Redis (A: express, B: fastify)',
  () => {
    const clock = new ManualClock(Date.now());
    let storeA: ReturnType<typeof redisSessionStore>;
    let storeB: ReturnType<typeof redisSessionStore>;
    let a: AuthzApp;
    let b: AuthzApp;

    beforeAll(async () => {
      storeA = redisSessionStore(NAMESPACE);
      storeB = redisSessionStore(NAMESPACE);
      const common = { clock, authorizationCacheTtlMs: TTL };
      a = await createAuthzApp({ platform: 'express', yosai: { ...common, store: storeA.store } });
      b = await createAuthzApp({
        platform: 'fastify',
        mount: 'forRootAsync',
        yosai: { ...common, store: storeB.store },
      });
    });
    afterAll(async () => {
      await Promise.all([a?.close(), b?.close()]);
      await Promise.all([storeA?.close(), storeB?.close()]);
    });

    it('reaches the other instance within authorizationCacheTtlMs, and not before', async () => {
      const serverA = a.app.getHttpServer() as Server;
      const serverB = b.app.getHttpServer() as Server;
      const dude = await login(serverA, 'thedude');
      await request(serverA).get('/league').set('Cookie', dude).expect(403);
      await request(serverB).get('/league').set('Cookie', dude).expect(403);

      // The app's user store is shared in real life: both instances' services see the promotion.
      a.users.grants.thedude.roles.push('captain');
      b.users.grants.thedude.roles.push('captain');
      await a.authorizer.invalidateAuthorization('thedude');

      await request(serverA).get('/league').set('Cookie', dude).expect(200);
      // B trusts its copy until the bound has passed…
      clock.advance(TTL - 1);
      await request(serverB).get('/league').set('Cookie', dude).expect(403);
      // …then reads the invalidation record once and asks its realm again.
      clock.advance(1);
      const before = b.realm.authorizationCalls;
      await request(serverB).get('/league').set('Cookie', dude).expect(200);
      expect(b.realm.authorizationCalls - before).toBe(1);
    });

    it('an unchanged principal costs one store read per bound, and no realm call', async () => {
      const serverB = b.app.getHttpServer() as Server;
      const walter = await login(serverB, 'walter');
      await request(serverB).get('/league').set('Cookie', walter).expect(200);
      const before = b.realm.authorizationCalls;
      clock.advance(TTL);
      await request(serverB).get('/league').set('Cookie', walter).expect(200);
      await request(serverB).get('/league').set('Cookie', walter).expect(200);
      expect(b.realm.authorizationCalls - before).toBe(0);
    });
  },
);

describe('Authorization store traffic (in-memory store)', () => {
  const clock = new ManualClock(Date.now());
  let t: AuthzApp;
  let store: CountingStore;
  let server: Server;

  beforeAll(async () => {
    store = new CountingStore(CacheManagerSessionStore.inMemory());
    t = await createAuthzApp({ platform: 'express', yosai: { clock, store } });
    server = t.app.getHttpServer() as Server;
  });
  afterAll(async () => {
    await t.close();
    await store.close();
  });

  it('adds no store read to a route without authorization, and one per bound to one with it', async () => {
    const walter = await login(server, 'walter');
    await request(server).get('/league').set('Cookie', walter).expect(200); // loads the grants
    // One session read per request, nothing more while the cached grants are fresh.
    let reads = store.counts.get;
    await request(server).get('/whoami').set('Cookie', walter).expect(200, { username: 'walter' });
    await request(server).get('/league').set('Cookie', walter).expect(200);
    await request(server).get('/lanes/1').set('Cookie', walter).expect(200);
    expect(store.counts.get - reads).toBe(3);
    clock.advance(60_000);
    // Past the bound: the authorized route reads the invalidation record once; the other route still never does.
    reads = store.counts.get;
    await request(server).get('/whoami').set('Cookie', walter).expect(200);
    expect(store.counts.get - reads).toBe(1);
    await request(server).get('/league').set('Cookie', walter).expect(200);
    expect(store.counts.get - reads).toBe(3);
    await request(server).get('/league').set('Cookie', walter).expect(200);
    expect(store.counts.get - reads).toBe(4);
  });
});

describe('Authorization cache bounds (in-memory store)', () => {
  let t: AuthzApp;
  let server: Server;

  beforeAll(async () => {
    t = await createAuthzApp({ platform: 'fastify', yosai: { authorizationCacheSize: 1 } });
    server = t.app.getHttpServer() as Server;
  });
  afterAll(() => t.close());

  it('keeps at most authorizationCacheSize sessions, least recently used out first', async () => {
    const dude = await login(server, 'thedude');
    const walter = await login(server, 'walter');
    const before = t.realm.authorizationCalls;
    await request(server).get('/lanes/1').set('Cookie', dude).expect(200);
    await request(server).get('/lanes/1').set('Cookie', dude).expect(200);
    expect(t.realm.authorizationCalls - before).toBe(1);
    await request(server).get('/lanes/1').set('Cookie', walter).expect(200); // pushes the dude out
    await request(server).get('/lanes/1').set('Cookie', dude).expect(200);
    expect(t.realm.authorizationCalls - before).toBe(3);
  });

  it('concurrent requests of one session ask the realm once', async () => {
    const dude = await login(server, 'thedude');
    const before = t.realm.authorizationCalls;
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => request(server).get('/lanes/2').set('Cookie', dude)),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    expect(t.realm.authorizationCalls - before).toBe(1);
  });
});
