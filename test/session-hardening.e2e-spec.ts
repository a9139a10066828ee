// Issue #12, bugs 1-3: what a login and a regeneration carry over, how long a regenerated session lives, and
// a regeneration racing a logout. Over real HTTP (Express and Fastify) where a client can cause it.
import request from 'supertest';
import {
  CacheManagerSessionStore,
  ManualClock,
  StoppedSessionError,
  SubjectFactory,
  UsernamePasswordToken,
  YOSAI_SESSION_STARTED,
  type SessionStore,
} from '../src/index.js';
import { redisAvailable, redisStorePair } from './support/redis.js';
import { createTestApp, PLATFORMS, sessionCookie, USERS, type TestApp } from './support/test-app.js';

const DUDE = { username: 'thedude', password: USERS.thedude };
const WALTER = { username: 'walter', password: USERS.walter };
const HOUR = 3_600_000;

describe.each(PLATFORMS)('login and regeneration over HTTP (%s)', (platform) => {
  let t: TestApp;
  let server: Parameters<typeof request>[0];
  const clock = new ManualClock();

  beforeAll(async () => {
    t = await createTestApp({
      platform,
      yosai: { clock, idleTimeoutMs: 2 * HOUR, absoluteTimeoutMs: 8 * HOUR },
    });
    server = t.app.getHttpServer() as Parameters<typeof request>[0];
  });
  afterAll(() => t.close());

  async function login(credentials: { username: string; password: string }, token?: string) {
    const req = request(server).post('/login');
    if (token) void req.set('Cookie', `sid=${token}`);
    const res = await req.send(credentials).expect(200);
    return sessionCookie(res.headers)!;
  }

  it("a user's attributes do not reach the next user who signs in on the same browser (bug 1)", async () => {
    const dude = await login(DUDE);
    await request(server)
      .put('/attr/note')
      .set('Cookie', `sid=${dude}`)
      .send({ value: 'the rug' })
      .expect(200);

    const walter = await login(WALTER, dude);
    await request(server).get('/attr/note').set('Cookie', `sid=${walter}`).expect(404);
    await request(server)
      .get('/whoami')
      .set('Cookie', `sid=${walter}`)
      .expect(200)
      .expect((res) => expect(res.body).toMatchObject({ authenticated: true, identifiers: ['walter'] }));
  });

  it("a guest's attributes, and the same user's, are carried at login", async () => {
    const guest = sessionCookie(
      (
        await request(server)
          .put('/attr/cart')
          .send({ value: ['rug'] })
          .expect(200)
      ).headers,
    )!;
    const dude = await login(DUDE, guest);
    await request(server)
      .get('/attr/cart')
      .set('Cookie', `sid=${dude}`)
      .expect(200, { value: ['rug'] });
    const again = await login(DUDE, dude);
    await request(server)
      .get('/attr/cart')
      .set('Cookie', `sid=${again}`)
      .expect(200, { value: ['rug'] });
  });

  it('regeneration keeps the absolute timeout of the login (bug 2)', async () => {
    const loggedInAt = clock.now();
    let token = await login(DUDE);
    // Regenerate every hour, as an app that regenerates on privilege changes would.
    for (let hour = 1; hour <= 7; hour++) {
      clock.advance(HOUR);
      const res = await request(server).post('/regenerate').set('Cookie', `sid=${token}`).expect(200);
      expect(res.body.startedAt).toBe(loggedInAt);
      token = sessionCookie(res.headers)!;
    }
    clock.advance(HOUR + 1); // 8 h and 1 ms after the login
    await request(server)
      .get('/whoami')
      .set('Cookie', `sid=${token}`)
      .expect(200)
      .expect((res) => expect(res.body).toMatchObject({ authenticated: false, tokenStatus: 'expired' }));
  });

  it('a login starts a new absolute window', async () => {
    const first = await login(DUDE);
    clock.advance(7 * HOUR);
    const second = await login(DUDE, first);
    clock.advance(2 * HOUR);
    await request(server)
      .get('/whoami')
      .set('Cookie', `sid=${second}`)
      .expect(200)
      .expect((res) => expect(res.body).toMatchObject({ authenticated: true, tokenStatus: 'valid' }));
  });
});

const targets = ['memory', 'redis'] as const;

describe.each(targets)('a regeneration racing a logout (%s store, two instances) (bug 3)', (kind) => {
  let a: TestApp;
  let b: TestApp;
  let run = true;
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    let storeA: SessionStore;
    let storeB: SessionStore;
    if (kind === 'memory') {
      storeA = storeB = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
    } else {
      if (!(await redisAvailable('regeneration race (redis)'))) {
        run = false;
        return;
      }
      const namespace = `yosai-harden-race-${process.pid}`;
      const pair = redisStorePair(namespace);
      storeA = pair.a;
      storeB = pair.b;
      closers.push(pair.close);
    }
    a = await createTestApp({ platform: 'express', yosai: { store: storeA } });
    b = await createTestApp({ platform: 'express', yosai: { store: storeB } });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    for (const close of closers) await close();
  });

  it('the regeneration fails with StoppedSessionError, starts nothing and clears the token', async () => {
    if (!run) return;
    const sa = a.app.get(SubjectFactory);
    const sb = b.app.get(SubjectFactory);
    let token: string | null = null;
    const subject = await sa.fromToken(null, { onToken: (t) => (token = t) });
    await subject.login(new UsernamePasswordToken(DUDE.username, DUDE.password));
    const live = token!;

    // Both instances hold the session; instance A logs out, then B (which resolved before) regenerates.
    const tokens: (string | null)[] = [];
    const regenerating = await sb.fromToken(live, { onToken: (t) => tokens.push(t) });
    const loggingOut = await sa.fromToken(live);
    expect(regenerating.isAuthenticated).toBe(true);
    b.events.clear();
    await loggingOut.logout();

    await expect(regenerating.regenerateSession()).rejects.toBeInstanceOf(StoppedSessionError);
    expect(b.events.named(YOSAI_SESSION_STARTED)).toEqual([]);
    expect(tokens).toEqual([null]);
    expect(regenerating.isAuthenticated).toBe(false);
    expect((await sa.fromToken(live)).tokenStatus).toBe('unknown');
  });
});
