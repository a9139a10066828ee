import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import type { YosaiModuleOptions } from '../src/index.js';
import { CapturingLogger } from './support/capturing-logger.js';
import { CASES, clearsCookie, cookieAttributes, forgedToken, setCookieLines } from './support/cookies.js';
import {
  createTestApp,
  sessionCookie,
  USERS,
  type Mount,
  type Platform,
  type TestApp,
} from './support/test-app.js';

const DUDE = { username: 'thedude', password: USERS.thedude };
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
type Server = Parameters<typeof request>[0];

async function boot(platform: Platform, mount: Mount, yosai: YosaiModuleOptions) {
  const t = await createTestApp({ platform, mount, yosai });
  return { t, server: t.app.getHttpServer() as Server };
}

describe.each(CASES)('Cookie transport (%s, %s)', (platform, mount) => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((t) => t.close()));
  });
  async function app(yosai: YosaiModuleOptions) {
    const booted = await boot(platform, mount, yosai);
    apps.push(booted.t);
    return booted.server;
  }

  /** Starts a session and returns the one Set-Cookie line for `name`, plus the logout response. */
  async function issueAndClear(server: Server, name = 'sid') {
    const put = await request(server).put('/attr/x').send({ value: 1 }).expect(200);
    const lines = setCookieLines(put.headers, name);
    expect(lines).toHaveLength(1);
    expect(put.headers['cache-control']).toBe('no-store');
    const token = sessionCookie(put.headers, name)!;
    expect(token).toMatch(TOKEN);
    const out = await request(server).post('/logout').set('Cookie', `${name}=${token}`).expect(204);
    expect(clearsCookie(out.headers, name)).toBe(true);
    expect(out.headers['cache-control']).toBe('no-store');
    return { issued: lines[0], cleared: setCookieLines(out.headers, name)[0], token };
  }

  it('has HttpOnly, SameSite=Lax, Path=/, no Domain, no Max-Age, and no Secure with secure: false', async () => {
    const server = await app({ cookie: { secure: false } });
    const { issued, cleared } = await issueAndClear(server);
    const attrs = cookieAttributes(issued);
    expect(attrs.get('httponly')).toBe('');
    expect(attrs.get('samesite')).toBe('Lax');
    expect(attrs.get('path')).toBe('/');
    expect(attrs.has('domain')).toBe(false);
    expect(attrs.has('max-age')).toBe(false);
    expect(attrs.has('expires')).toBe(false);
    expect(attrs.has('secure')).toBe(false);
    const clearing = cookieAttributes(cleared);
    expect(clearing.get('path')).toBe('/');
    expect(clearing.has('domain')).toBe(false);
    expect(clearing.has('secure')).toBe(false);
  });

  it('is Secure (when set and when cleared) and named __Host-sid with secure: true, the default', async () => {
    const server = await app({ cookie: {} });
    const { issued, cleared } = await issueAndClear(server, '__Host-sid');
    expect(cookieAttributes(issued).has('secure')).toBe(true);
    expect(cookieAttributes(cleared).has('secure')).toBe(true);
    expect(cookieAttributes(issued).get('samesite')).toBe('Lax');
  });

  it('with secure: true and hostPrefix: false keeps the plain name', async () => {
    const server = await app({ cookie: { secure: true, hostPrefix: false } });
    const { issued } = await issueAndClear(server, 'sid');
    expect(cookieAttributes(issued).has('secure')).toBe(true);
  });

  it("with secure: 'auto', X-Forwarded-Proto: https over plain HTTP (an untrusted proxy) is warned about, once", async () => {
    const logger = new CapturingLogger();
    const booted = await boot(platform, mount, { cookie: { secure: 'auto' } });
    apps.push(booted.t);
    booted.t.app.useLogger(logger);
    await request(booted.server).put('/attr/x').send({ value: 1 }).expect(200);
    expect(logger.at('warn')).toHaveLength(0); // plain local HTTP: nothing to say
    for (let i = 0; i < 3; i++) {
      const res = await request(booted.server)
        .put('/attr/x')
        .set('X-Forwarded-Proto', 'https')
        .send({ value: 1 })
        .expect(200);
      expect(cookieAttributes(setCookieLines(res.headers)[0]).has('secure')).toBe(false);
    }
    const warnings = logger.at('warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].text).toContain('trust proxy');
    expect(logger.text()).not.toMatch(/[A-Za-z0-9_-]{43}/);
  });

  it("with secure: 'auto' follows the request protocol: plain http gives no Secure, a spoofed X-Forwarded-Proto neither", async () => {
    const server = await app({ cookie: { secure: 'auto' } });
    const { issued } = await issueAndClear(server);
    expect(cookieAttributes(issued).has('secure')).toBe(false);
    const spoofed = await request(server)
      .put('/attr/x')
      .set('X-Forwarded-Proto', 'https')
      .send({ value: 1 })
      .expect(200);
    expect(cookieAttributes(setCookieLines(spoofed.headers)[0]).has('secure')).toBe(false);
  });

  if (platform === 'express') {
    it("with secure: 'auto' and Express trust proxy, X-Forwarded-Proto: https gives Secure", async () => {
      const booted = await boot(platform, mount, { cookie: { secure: 'auto' } });
      apps.push(booted.t);
      (booted.t.app as NestExpressApplication).set('trust proxy', true);
      const res = await request(booted.server)
        .put('/attr/x')
        .set('X-Forwarded-Proto', 'https')
        .send({ value: 1 })
        .expect(200);
      expect(cookieAttributes(setCookieLines(res.headers)[0]).has('secure')).toBe(true);
      const plain = await request(booted.server).put('/attr/x').send({ value: 1 }).expect(200);
      expect(cookieAttributes(setCookieLines(plain.headers)[0]).has('secure')).toBe(false);
    });
  }

  it('with hostPrefix is named __Host-sid, Secure, Path=/ and without Domain; a plain sid cookie is not read', async () => {
    const server = await app({ cookie: { secure: true, hostPrefix: true } });
    const { issued, cleared } = await issueAndClear(server, '__Host-sid');
    const attrs = cookieAttributes(issued);
    expect(attrs.has('secure')).toBe(true);
    expect(attrs.get('path')).toBe('/');
    expect(attrs.has('domain')).toBe(false);
    expect(cookieAttributes(cleared).has('secure')).toBe(true);

    const put = await request(server).put('/attr/k').send({ value: 'v' }).expect(200);
    const live = sessionCookie(put.headers, '__Host-sid')!;
    await request(server).get('/attr/k').set('Cookie', `__Host-sid=${live}`).expect(200, { value: 'v' });
    const plain = await request(server).get('/whoami').set('Cookie', `sid=${live}`).expect(200);
    expect(plain.body).toMatchObject({ sessionId: null, tokenStatus: 'none' });
    expect(plain.headers['set-cookie']).toBeUndefined();
  });

  it('takes a custom name and Max-Age when asked', async () => {
    const server = await app({ cookie: { secure: false, name: 'app_s', maxAgeMs: 3_600_500 } });
    const { issued } = await issueAndClear(server, 'app_s');
    expect(cookieAttributes(issued).get('max-age')).toBe('3600');
  });

  it('a request that does not change the session sets neither a cookie nor no-store', async () => {
    const server = await app({ cookie: { secure: false } });
    const put = await request(server).put('/attr/x').send({ value: 1 }).expect(200);
    const token = sessionCookie(put.headers)!;
    const reuse = await request(server).get('/attr/x').set('Cookie', `sid=${token}`).expect(200);
    expect(reuse.headers['set-cookie']).toBeUndefined();
    expect(reuse.headers['cache-control']).not.toBe('no-store');
  });
});

describe.each(CASES)('Header transport (%s, %s)', (platform, mount) => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((t) => t.close()));
  });
  async function app(yosai: YosaiModuleOptions) {
    const booted = await boot(platform, mount, yosai);
    apps.push(booted.t);
    return booted.server;
  }

  describe('Authorization: Bearer, no cookies', () => {
    let server: Server;
    beforeAll(async () => {
      server = await app({ cookie: false, header: {} });
    });

    it('returns the token in x-session-token when a session starts and accepts it as Bearer', async () => {
      const put = await request(server)
        .put('/attr/cart')
        .send({ value: ['rug'] })
        .expect(200);
      expect(put.headers['set-cookie']).toBeUndefined();
      const token = put.headers['x-session-token'];
      expect(token).toMatch(TOKEN);
      expect(put.headers['cache-control']).toBe('no-store');

      const got = await request(server).get('/attr/cart').set('Authorization', `Bearer ${token}`).expect(200);
      expect(got.body).toEqual({ value: ['rug'] });
      expect(got.headers['x-session-token']).toBeUndefined();
      expect(got.headers['set-cookie']).toBeUndefined();
      // A cookie is not a transport here.
      const viaCookie = await request(server).get('/whoami').set('Cookie', `sid=${token}`).expect(200);
      expect(viaCookie.body).toMatchObject({ sessionId: null, tokenStatus: 'none' });
    });

    it('returns the replacing token at login; the old one is dead; logout ends the new one', async () => {
      const put = await request(server).put('/attr/cart').send({ value: 1 }).expect(200);
      const guest = put.headers['x-session-token'];
      const login = await request(server)
        .post('/login')
        .set('Authorization', `Bearer ${guest}`)
        .send(DUDE)
        .expect(200);
      const user = login.headers['x-session-token'];
      expect(user).toMatch(TOKEN);
      expect(user).not.toBe(guest);
      expect(login.headers['set-cookie']).toBeUndefined();
      await request(server)
        .get('/protected')
        .set('Authorization', `Bearer ${user}`)
        .expect(200, { username: 'thedude' });
      await request(server)
        .get('/attr/cart')
        .set('Authorization', `Bearer ${user}`)
        .expect(200, { value: 1 });
      await request(server).get('/protected').set('Authorization', `Bearer ${guest}`).expect(401);

      const out = await request(server).post('/logout').set('Authorization', `Bearer ${user}`).expect(204);
      expect(out.headers['x-session-token']).toBeUndefined();
      expect(out.headers['set-cookie']).toBeUndefined();
      await request(server).get('/protected').set('Authorization', `Bearer ${user}`).expect(401);
    });

    it('login without a session also returns the token', async () => {
      const login = await request(server).post('/login').send(DUDE).expect(200);
      const user = login.headers['x-session-token'];
      expect(user).toMatch(TOKEN);
      await request(server).get('/user').set('Authorization', `Bearer ${user}`).expect(200);
    });

    it('getSession() then login() in one request returns only the final token', async () => {
      const res = await request(server).post('/session-then-login').send(DUDE).expect(200);
      const token = res.headers['x-session-token'];
      expect(typeof token).toBe('string');
      expect(token).toMatch(TOKEN);
      const who = await request(server).get('/whoami').set('Authorization', `Bearer ${token}`).expect(200);
      expect(who.body).toMatchObject({
        authenticated: true,
        sessionId: (res.body as { sessionId: string }).sessionId,
      });
    });

    it('other schemes, forged and garbage tokens give a guest', async () => {
      const put = await request(server).put('/attr/k').send({ value: 1 }).expect(200);
      const token = put.headers['x-session-token'];
      const basic = await request(server).get('/whoami').set('Authorization', `Basic ${token}`).expect(200);
      expect(basic.body).toMatchObject({ sessionId: null });
      const forged = await request(server)
        .get('/whoami')
        .set('Authorization', `Bearer ${forgedToken()}`)
        .expect(200);
      expect(forged.body).toMatchObject({ sessionId: null, tokenStatus: 'unknown' });
      const lower = await request(server).get('/whoami').set('Authorization', `bearer ${token}`).expect(200);
      expect(lower.body).toMatchObject({ tokenStatus: 'valid' });
    });
  });

  it('a named header (x-auth-token) carries the token both ways; Authorization is then ignored', async () => {
    const server = await app({
      cookie: false,
      header: { name: 'x-auth-token', responseHeader: 'x-new-token' },
    });
    const put = await request(server).put('/attr/k').send({ value: 'v' }).expect(200);
    const token = put.headers['x-new-token'];
    expect(token).toMatch(TOKEN);
    expect(put.headers['x-session-token']).toBeUndefined();
    await request(server).get('/attr/k').set('x-auth-token', token).expect(200, { value: 'v' });
    const bearer = await request(server).get('/whoami').set('Authorization', `Bearer ${token}`).expect(200);
    expect(bearer.body).toMatchObject({ sessionId: null, tokenStatus: 'none' });
  });

  describe('cookie and header both enabled', () => {
    let server: Server;
    beforeAll(async () => {
      server = await app({ cookie: { secure: false }, header: {} });
    });

    it('a new session goes out by both; either one alone works', async () => {
      const put = await request(server).put('/attr/k').send({ value: 2 }).expect(200);
      const viaHeader = put.headers['x-session-token'];
      expect(viaHeader).toMatch(TOKEN);
      expect(sessionCookie(put.headers)).toBe(viaHeader);
      await request(server).get('/attr/k').set('Cookie', `sid=${viaHeader}`).expect(200, { value: 2 });
      await request(server)
        .get('/attr/k')
        .set('Authorization', `Bearer ${viaHeader}`)
        .expect(200, { value: 2 });
      await request(server)
        .get('/attr/k')
        .set('Cookie', `sid=${viaHeader}`)
        .set('Authorization', `Bearer ${viaHeader}`)
        .expect(200, { value: 2 });
    });

    it('a cookie and a header that disagree give a guest, even when both are live sessions', async () => {
      const a = await request(server).post('/login').send(DUDE).expect(200);
      const b = await request(server)
        .post('/login')
        .send({ username: 'walter', password: USERS.walter })
        .expect(200);
      const tokenA = a.headers['x-session-token'];
      const tokenB = b.headers['x-session-token'];
      const who = await request(server)
        .get('/whoami')
        .set('Cookie', `sid=${tokenA}`)
        .set('Authorization', `Bearer ${tokenB}`)
        .expect(200);
      expect(who.body).toMatchObject({ authenticated: false, identifiers: [], sessionId: null });
      await request(server)
        .get('/protected')
        .set('Cookie', `sid=${tokenA}`)
        .set('Authorization', `Bearer ${tokenB}`)
        .expect(401);
      // Both are still alive on their own.
      await request(server)
        .get('/protected')
        .set('Cookie', `sid=${tokenA}`)
        .expect(200, { username: 'thedude' });
      await request(server)
        .get('/protected')
        .set('Authorization', `Bearer ${tokenB}`)
        .expect(200, { username: 'walter' });
    });

    it('two different session cookies in one request give a guest', async () => {
      const a = await request(server).post('/login').send(DUDE).expect(200);
      const b = await request(server).post('/login').send(DUDE).expect(200);
      const who = await request(server)
        .get('/whoami')
        .set('Cookie', `sid=${sessionCookie(a.headers)}; sid=${sessionCookie(b.headers)}`)
        .expect(200);
      expect(who.body).toMatchObject({ authenticated: false, sessionId: null });
    });

    it('the same session cookie twice is that session; cookies named like it are not read', async () => {
      const login = await request(server).post('/login').send(DUDE).expect(200);
      const token = sessionCookie(login.headers)!;
      const twice = await request(server)
        .get('/whoami')
        .set('Cookie', `theme=dark;  sid=${token} ; sid=${token}`)
        .expect(200);
      expect(twice.body).toMatchObject({ authenticated: true, identifiers: ['thedude'] });
      const lookalikes = await request(server)
        .get('/whoami')
        .set('Cookie', `xsid=${token}; sid2=${token}; Sid=${token}; s=${token}`)
        .expect(200);
      expect(lookalikes.body).toMatchObject({ authenticated: false, sessionId: null, tokenStatus: 'none' });
    });
  });
});
