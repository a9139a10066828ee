import request from 'supertest';
import { CacheManagerSessionStore } from '../src/index.js';
import { CountingStore } from './support/counting-store.js';
import { CASES, clearsCookie, forgedToken, sessionIdOf, setCookieLines } from './support/cookies.js';
import { createTestApp, sessionCookie, USERS, type TestApp } from './support/test-app.js';

const DUDE = { username: 'thedude', password: USERS.thedude };
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

describe.each(CASES)('Subjects per request (%s, %s)', (platform, mount) => {
  let t: TestApp;
  let store: CountingStore;
  let server: Parameters<typeof request>[0];

  beforeAll(async () => {
    store = new CountingStore(CacheManagerSessionStore.inMemory());
    t = await createTestApp({ platform, mount, yosai: { store } });
    server = t.app.getHttpServer() as Parameters<typeof request>[0];
  });
  afterAll(async () => {
    await t.close();
    await store.close();
  });
  beforeEach(() => {
    store.reset();
    t.events.clear();
  });

  const cookie = (token: string) => `sid=${token}`;

  async function guestSession(key = 'cart', value: unknown = [1, 2]) {
    const res = await request(server).put(`/attr/${key}`).send({ value }).expect(200);
    const token = sessionCookie(res.headers);
    expect(token).toMatch(TOKEN);
    return { token: token!, sessionId: (res.body as { sessionId: string }).sessionId };
  }

  async function login(token?: string, credentials = DUDE) {
    const req = request(server).post('/login');
    if (token) void req.set('Cookie', cookie(token));
    const res = await req.send(credentials).expect(200);
    const next = sessionCookie(res.headers);
    expect(next).toMatch(TOKEN);
    return { token: next!, sessionId: (res.body as { sessionId: string }).sessionId };
  }

  describe('anonymous requests', () => {
    it('set no cookie and cause no store traffic', async () => {
      const who = await request(server).get('/whoami').expect(200);
      expect(who.body).toEqual({
        authenticated: false,
        identifiers: [],
        sessionId: null,
        tokenStatus: 'none',
      });
      const others = [
        await request(server).get('/guest-only').expect(200),
        await request(server).get('/attr/cart').expect(404),
        await request(server).get('/protected').expect(401),
        await request(server).get('/user').expect(401),
        await request(server).post('/logout').expect(204),
        await request(server).post('/stop').expect(204),
      ];
      for (const res of [who, ...others]) expect(res.headers['set-cookie']).toBeUndefined();
      expect(store.counts).toEqual({ get: 0, set: 0, compareAndSet: 0, delete: 0 });
      expect(t.events.events).toEqual([]);
    });

    it('a malformed token never reaches the store and its cookie is cleared', async () => {
      const res = await request(server).get('/whoami').set('Cookie', 'sid=not-a-token').expect(200);
      expect(res.body).toMatchObject({ authenticated: false, sessionId: null, tokenStatus: 'malformed' });
      expect(clearsCookie(res.headers)).toBe(true);
      expect(store.total).toBe(0);
    });

    it('get a guest session on demand, reused by the next request', async () => {
      const { token, sessionId } = await guestSession();
      expect(store.counts.set).toBe(1);
      expect(t.events.named('yosai.session.started')).toEqual([
        expect.objectContaining({ sessionId, identifiers: null }),
      ]);
      expect(sessionId).toBe(sessionIdOf(token));

      store.reset();
      const who = await request(server).get('/whoami').set('Cookie', cookie(token)).expect(200);
      expect(who.body).toEqual({ authenticated: false, identifiers: [], sessionId, tokenStatus: 'valid' });
      expect(who.headers['set-cookie']).toBeUndefined();
      const got = await request(server).get('/attr/cart').set('Cookie', cookie(token)).expect(200);
      expect(got.body).toEqual({ value: [1, 2] });
      expect(got.headers['set-cookie']).toBeUndefined();
      // One read per request, no writes (touch not due, reading attributes never writes).
      expect(store.counts).toEqual({ get: 2, set: 0, compareAndSet: 0, delete: 0 });
      expect(t.events.named('yosai.session.started')).toHaveLength(1);
    });

    it('with a session keep it across attribute writes (same id, same token)', async () => {
      const { token, sessionId } = await guestSession('a', 1);
      const res = await request(server)
        .put('/attr/b')
        .set('Cookie', cookie(token))
        .send({ value: false })
        .expect(200);
      expect(res.body).toEqual({ sessionId });
      expect(res.headers['set-cookie']).toBeUndefined();
      await request(server).get('/attr/a').set('Cookie', cookie(token)).expect(200, { value: 1 });
      await request(server).get('/attr/b').set('Cookie', cookie(token)).expect(200, { value: false });
    });
  });

  describe('fixation', () => {
    it('a client-chosen well-formed token is never adopted', async () => {
      const forged = forgedToken();
      const who = await request(server).get('/whoami').set('Cookie', cookie(forged)).expect(200);
      expect(who.body).toEqual({
        authenticated: false,
        identifiers: [],
        sessionId: null,
        tokenStatus: 'unknown',
      });
      expect(clearsCookie(who.headers)).toBe(true);
      expect(who.headers['cache-control']).toBe('no-store');

      // A session started while presenting the forged token gets a token of the server's own.
      const put = await request(server)
        .put('/attr/x')
        .set('Cookie', cookie(forged))
        .send({ value: 1 })
        .expect(200);
      const lines = setCookieLines(put.headers);
      expect(lines).toHaveLength(1);
      const issued = sessionCookie(put.headers)!;
      expect(issued).toMatch(TOKEN);
      expect(issued).not.toBe(forged);
      expect((put.body as { sessionId: string }).sessionId).not.toBe(sessionIdOf(forged));

      // The forged token still resolves to nothing, the issued one works.
      const again = await request(server).get('/whoami').set('Cookie', cookie(forged)).expect(200);
      expect(again.body).toMatchObject({ sessionId: null, tokenStatus: 'unknown' });
      await request(server).get('/attr/x').set('Cookie', cookie(issued)).expect(200, { value: 1 });

      // Logging in with the forged token does not adopt it either.
      const user = await login(forged);
      expect(user.token).not.toBe(forged);
      expect(user.sessionId).not.toBe(sessionIdOf(forged));
    });

    it('login kills the pre-login token, issues a different one and carries attributes over', async () => {
      const guest = await guestSession('cart', { items: ['rug'] });
      t.events.clear();
      const user = await login(guest.token);
      expect(user.token).not.toBe(guest.token);
      expect(user.sessionId).not.toBe(guest.sessionId);

      await request(server).get('/protected').set('Cookie', cookie(guest.token)).expect(401);
      const dead = await request(server).get('/whoami').set('Cookie', cookie(guest.token)).expect(200);
      expect(dead.body).toEqual({
        authenticated: false,
        identifiers: [],
        sessionId: null,
        tokenStatus: 'unknown',
      });
      expect(clearsCookie(dead.headers)).toBe(true);

      const who = await request(server).get('/whoami').set('Cookie', cookie(user.token)).expect(200);
      expect(who.body).toEqual({
        authenticated: true,
        identifiers: ['thedude'],
        sessionId: user.sessionId,
        tokenStatus: 'valid',
      });
      await request(server)
        .get('/attr/cart')
        .set('Cookie', cookie(user.token))
        .expect(200, { value: { items: ['rug'] } });

      expect(t.events.events.map((e) => e.name)).toEqual([
        'yosai.session.stopped',
        'yosai.session.started',
        'yosai.login.succeeded',
      ]);
      expect(t.events.named('yosai.session.stopped')).toEqual([
        expect.objectContaining({ sessionId: guest.sessionId, reason: 'regenerated', identifiers: null }),
      ]);
      expect(t.events.named('yosai.session.started')).toEqual([
        expect.objectContaining({ sessionId: user.sessionId, identifiers: ['thedude'] }),
      ]);
      expect(t.events.named('yosai.login.succeeded')).toEqual([
        expect.objectContaining({ sessionId: user.sessionId, identifiers: ['thedude'] }),
      ]);
    });

    it('a second login replaces the token again (user switch)', async () => {
      const first = await login();
      const second = await login(first.token, { username: 'walter', password: USERS.walter });
      expect(second.token).not.toBe(first.token);
      await request(server).get('/whoami').set('Cookie', cookie(first.token)).expect(200);
      const who = await request(server).get('/whoami').set('Cookie', cookie(second.token)).expect(200);
      expect(who.body).toMatchObject({ authenticated: true, identifiers: ['walter'] });
      const old = await request(server).get('/whoami').set('Cookie', cookie(first.token)).expect(200);
      expect(old.body).toMatchObject({ authenticated: false, tokenStatus: 'unknown' });
    });
  });

  describe('login failure', () => {
    it('unknown user and wrong password give the same status and body, and no password in events', async () => {
      const unknown = await request(server)
        .post('/login')
        .send({ username: 'donny', password: 'secret-unknown-pw' })
        .expect(401);
      const wrong = await request(server)
        .post('/login')
        .send({ username: 'thedude', password: 'secret-wrong-pw' })
        .expect(401);
      expect(wrong.body).toEqual(unknown.body);
      expect(wrong.headers['content-type']).toBe(unknown.headers['content-type']);
      expect(unknown.headers['set-cookie']).toBeUndefined();
      expect(wrong.headers['set-cookie']).toBeUndefined();

      expect(t.events.events.map((e) => e.name)).toEqual(['yosai.login.failed', 'yosai.login.failed']);
      expect(t.events.named('yosai.login.failed')).toEqual([
        expect.objectContaining({ username: 'donny' }),
        expect.objectContaining({ username: 'thedude' }),
      ]);
      const dump = JSON.stringify(t.events.events);
      expect(dump).not.toContain('secret-unknown-pw');
      expect(dump).not.toContain('secret-wrong-pw');
      expect(store.total).toBe(0);
    });

    it('leaves an existing session untouched', async () => {
      const guest = await guestSession('k', 'v');
      store.reset();
      const res = await request(server)
        .post('/login')
        .set('Cookie', cookie(guest.token))
        .send({ username: 'thedude', password: 'nope' })
        .expect(401);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(store.counts).toEqual({ get: 1, set: 0, compareAndSet: 0, delete: 0 });
      await request(server).get('/attr/k').set('Cookie', cookie(guest.token)).expect(200, { value: 'v' });
    });

    it('after getSession() in the same request, the guest session and its cookie survive a failed login', async () => {
      const res = await request(server)
        .post('/session-then-login')
        .send({ username: 'thedude', password: 'nope' })
        .expect(401);
      const token = sessionCookie(res.headers)!;
      expect(token).toMatch(TOKEN);
      expect(res.headers['cache-control']).toBe('no-store');
      await request(server).get('/attr/before').set('Cookie', cookie(token)).expect(200, { value: 'login' });
      const who = await request(server).get('/whoami').set('Cookie', cookie(token)).expect(200);
      expect(who.body).toMatchObject({ authenticated: false, sessionId: sessionIdOf(token) });
    });

    it('a successful login never carries the password in events either', async () => {
      await login();
      expect(JSON.stringify(t.events.events)).not.toContain(USERS.thedude);
    });
  });

  describe('logout', () => {
    it('ends the session, clears the cookie, emits stopped with the identifiers; a second logout is a no-op', async () => {
      const user = await login();
      t.events.clear();
      const out = await request(server).post('/logout').set('Cookie', cookie(user.token)).expect(204);
      expect(clearsCookie(out.headers)).toBe(true);
      expect(out.headers['cache-control']).toBe('no-store');
      expect(t.events.events).toEqual([
        {
          name: 'yosai.session.stopped',
          payload: expect.objectContaining({
            sessionId: user.sessionId,
            identifiers: ['thedude'],
            reason: 'logout',
          }) as unknown,
        },
      ]);

      const who = await request(server).get('/whoami').set('Cookie', cookie(user.token)).expect(200);
      expect(who.body).toEqual({
        authenticated: false,
        identifiers: [],
        sessionId: null,
        tokenStatus: 'unknown',
      });
      await request(server).get('/protected').set('Cookie', cookie(user.token)).expect(401);

      t.events.clear();
      await request(server).post('/logout').set('Cookie', cookie(user.token)).expect(204);
      await request(server).post('/logout').expect(204);
      expect(t.events.events).toEqual([]);
    });

    it('of a guest session emits stopped with null identifiers; stop() gives reason stopped', async () => {
      const a = await guestSession();
      const b = await guestSession();
      t.events.clear();
      await request(server).post('/logout').set('Cookie', cookie(a.token)).expect(204);
      const stopped = await request(server).post('/stop').set('Cookie', cookie(b.token)).expect(204);
      expect(clearsCookie(stopped.headers)).toBe(true);
      expect(t.events.named('yosai.session.stopped')).toEqual([
        expect.objectContaining({ sessionId: a.sessionId, identifiers: null, reason: 'logout' }),
        expect.objectContaining({ sessionId: b.sessionId, identifiers: null, reason: 'stopped' }),
      ]);
      await request(server).get('/attr/cart').set('Cookie', cookie(b.token)).expect(404);
    });
  });

  describe('requirements', () => {
    it('guest: @RequiresAuthentication 401, @RequiresUser 401, @RequiresGuest 200', async () => {
      await request(server).get('/protected').expect(401);
      await request(server).get('/user').expect(401);
      await request(server).get('/guest-only').expect(200, { ok: true });
      const guest = await guestSession();
      await request(server).get('/protected').set('Cookie', cookie(guest.token)).expect(401);
      await request(server).get('/user').set('Cookie', cookie(guest.token)).expect(401);
      await request(server).get('/guest-only').set('Cookie', cookie(guest.token)).expect(200);
    });

    it('user: @RequiresAuthentication 200, @RequiresUser 200, @RequiresGuest 403', async () => {
      const user = await login();
      await request(server)
        .get('/protected')
        .set('Cookie', cookie(user.token))
        .expect(200, { username: 'thedude' });
      await request(server)
        .get('/user')
        .set('Cookie', cookie(user.token))
        .expect(200, { username: 'thedude' });
      await request(server).get('/guest-only').set('Cookie', cookie(user.token)).expect(403);
    });
  });

  describe('session changes made by the handler', () => {
    it('getSession() then login() in one request sends only the final token', async () => {
      const res = await request(server).post('/session-then-login').send(DUDE).expect(200);
      const lines = setCookieLines(res.headers);
      expect(lines).toHaveLength(1);
      const token = sessionCookie(res.headers)!;
      expect(token).toMatch(TOKEN);
      const body = res.body as { guestSessionId: string; sessionId: string };
      expect(body.sessionId).toBe(sessionIdOf(token));
      expect(body.guestSessionId).not.toBe(body.sessionId);
      expect(res.headers['cache-control']).toBe('no-store');

      const who = await request(server).get('/whoami').set('Cookie', cookie(token)).expect(200);
      expect(who.body).toMatchObject({
        authenticated: true,
        identifiers: ['thedude'],
        sessionId: body.sessionId,
      });
      await request(server).get('/attr/before').set('Cookie', cookie(token)).expect(200, { value: 'login' });
      expect(t.events.named('yosai.session.stopped')).toEqual([
        expect.objectContaining({ sessionId: body.guestSessionId, reason: 'regenerated' }),
      ]);
    });

    it('a presented token that is replaced in the handler is replaced in the cookie, not cleared', async () => {
      const guest = await guestSession();
      const res = await request(server)
        .post('/session-then-login')
        .set('Cookie', cookie(guest.token))
        .send(DUDE)
        .expect(200);
      const lines = setCookieLines(res.headers);
      expect(lines).toHaveLength(1);
      const token = sessionCookie(res.headers)!;
      expect(token).toMatch(TOKEN);
      expect((res.body as { guestSessionId: string }).guestSessionId).toBe(guest.sessionId);
      await request(server).get('/protected').set('Cookie', cookie(token)).expect(200);
      await request(server).get('/protected').set('Cookie', cookie(guest.token)).expect(401);
    });
  });
});

describe.each(CASES)('Module variants (%s, %s)', (platform, mount) => {
  it('eagerSessions: every Subject gets a session at once; a presented live token is reused', async () => {
    const store = new CountingStore(CacheManagerSessionStore.inMemory());
    const t = await createTestApp({ platform, mount, yosai: { store, eagerSessions: true } });
    try {
      const server = t.app.getHttpServer() as Parameters<typeof request>[0];
      const first = await request(server).get('/whoami').expect(200);
      const token = sessionCookie(first.headers)!;
      expect(token).toMatch(TOKEN);
      expect(first.body).toMatchObject({ authenticated: false, sessionId: sessionIdOf(token) });
      expect(store.counts.set).toBe(1);

      const second = await request(server).get('/whoami').set('Cookie', `sid=${token}`).expect(200);
      expect(second.body).toMatchObject({ sessionId: sessionIdOf(token) });
      expect(second.headers['set-cookie']).toBeUndefined();

      // A forged token is not adopted: a fresh session replaces the clearing cookie.
      const forged = forgedToken();
      const third = await request(server).get('/whoami').set('Cookie', `sid=${forged}`).expect(200);
      expect(setCookieLines(third.headers)).toHaveLength(1);
      const fresh = sessionCookie(third.headers)!;
      expect(fresh).toMatch(TOKEN);
      expect(fresh).not.toBe(forged);
    } finally {
      await t.close();
    }
  });

  it('works without EventEmitterModule', async () => {
    const t = await createTestApp({ platform, mount, withoutEvents: true });
    try {
      const server = t.app.getHttpServer() as Parameters<typeof request>[0];
      const login = await request(server).post('/login').send(DUDE).expect(200);
      const token = sessionCookie(login.headers)!;
      await request(server).get('/protected').set('Cookie', `sid=${token}`).expect(200);
      await request(server).post('/login').send({ username: 'thedude', password: 'nope' }).expect(401);
      await request(server).post('/logout').set('Cookie', `sid=${token}`).expect(204);
      await request(server).get('/protected').set('Cookie', `sid=${token}`).expect(401);
    } finally {
      await t.close();
    }
  });

  it('finds the session cookie among other cookies', async () => {
    const t = await createTestApp({ platform, mount });
    try {
      const server = t.app.getHttpServer() as Parameters<typeof request>[0];
      const put = await request(server).put('/attr/k').send({ value: 3 }).expect(200);
      const token = sessionCookie(put.headers)!;
      await request(server)
        .get('/attr/k')
        .set('Cookie', `xsid=nope; theme=dark; sid=${token}; sid_x=1`)
        .expect(200, { value: 3 });
      const lookalike = await request(server).get('/whoami').set('Cookie', `xsid=${token}`).expect(200);
      expect(lookalike.body).toMatchObject({ sessionId: null, tokenStatus: 'none' });
    } finally {
      await t.close();
    }
  });
});
