// Issue #12: cross-site state-changing requests with the session cookie are refused (CSRF), and answers that
// belong to one client are marked so that no cache keeps or shares them. Express and Fastify.
import request from 'supertest';
import type { YosaiModuleOptions } from '../src/index.js';
import { setCookies } from './support/cookies.js';
import { createTestApp, PLATFORMS, sessionCookie, USERS, type TestApp } from './support/test-app.js';

type Server = Parameters<typeof request>[0];
const DUDE = { username: 'thedude', password: USERS.thedude };

describe.each(PLATFORMS)('cross-site requests and cache headers (%s)', (platform) => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((t) => t.close()));
  });
  async function boot(yosai: YosaiModuleOptions = {}): Promise<Server> {
    const t = await createTestApp({ platform, yosai });
    apps.push(t);
    return t.app.getHttpServer() as Server;
  }
  async function login(server: Server) {
    return sessionCookie((await request(server).post('/login').send(DUDE).expect(200)).headers)!;
  }
  async function stillLoggedIn(server: Server, token: string) {
    const res = await request(server).get('/whoami').set('Cookie', `sid=${token}`).expect(200);
    return res.body.authenticated as boolean;
  }

  describe('CSRF (on by default)', () => {
    let server: Server;
    beforeAll(async () => {
      server = await boot({ csrf: { trustedOrigins: ['https://front.example.com'] } });
    });

    it.each([
      ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
      ['Sec-Fetch-Site: same-site (a sibling subdomain)', { 'Sec-Fetch-Site': 'same-site' }],
      ['an Origin of another host', { Origin: 'https://evil.example' }],
      ['Origin: null (a sandboxed frame)', { Origin: 'null' }],
      ['an Origin of the same host name on another port', { Origin: 'http://127.0.0.1:1' }],
    ])('refuses an unsafe request with the cookie and %s: 403, the session untouched', async (_, headers) => {
      const token = await login(server);
      for (const [method, path] of [
        ['post', '/logout'],
        ['put', '/attr/x'],
        ['delete', '/attr/x'],
        ['patch', '/attr/x'],
      ] as const) {
        const agent = request(server);
        const res = await agent[method](path).set('Cookie', `sid=${token}`).set(headers).send({ value: 1 });
        expect(res.status).toBe(403);
        expect(res.body).toEqual({
          statusCode: 403,
          message: 'Cross-site request refused',
          error: 'Forbidden',
        });
        expect(setCookies(res.headers)).toEqual([]);
      }
      expect(await stillLoggedIn(server, token)).toBe(true);
    });

    it.each([
      ['Sec-Fetch-Site: same-origin', { 'Sec-Fetch-Site': 'same-origin' }],
      ['Sec-Fetch-Site: none (typed in)', { 'Sec-Fetch-Site': 'none' }],
      ['no Sec-Fetch-Site nor Origin (not a browser)', {}],
      [
        'a trusted Origin, even with Sec-Fetch-Site: cross-site',
        {
          Origin: 'https://front.example.com',
          'Sec-Fetch-Site': 'cross-site',
        },
      ],
    ])('lets an unsafe request with the cookie and %s through', async (_, headers) => {
      const token = await login(server);
      await request(server)
        .put('/attr/x')
        .set('Cookie', `sid=${token}`)
        .set(headers)
        .send({ value: 1 })
        .expect(200);
      await request(server).post('/logout').set('Cookie', `sid=${token}`).set(headers).expect(204);
      expect(await stillLoggedIn(server, token)).toBe(false);
    });

    it("lets an unsafe request through when its Origin is the request's own host", async () => {
      const token = await login(server);
      await request(server)
        .post('/logout')
        .set('Cookie', `sid=${token}`)
        .set('Host', 'app.example.com')
        .set('Origin', 'https://app.example.com')
        .expect(204);
      expect(await stillLoggedIn(server, token)).toBe(false);
    });

    it('judges only unsafe methods, and only requests that carry the session cookie', async () => {
      const token = await login(server);
      const cross = { 'Sec-Fetch-Site': 'cross-site' };
      await request(server).get('/whoami').set('Cookie', `sid=${token}`).set(cross).expect(200);
      // Without the cookie there is no session to ride on (a guest's login is not refused).
      await request(server).post('/login').set(cross).send(DUDE).expect(200);
    });

    it('can be switched off', async () => {
      const off = await boot({ csrf: { enabled: false } });
      const token = await login(off);
      await request(off)
        .post('/logout')
        .set('Cookie', `sid=${token}`)
        .set('Sec-Fetch-Site', 'cross-site')
        .expect(204);
    });

    it('exempts the header transport (a browser cannot add it cross-site without CORS)', async () => {
      const headerOnly = await boot({ cookie: false, header: {} });
      const res = await request(headerOnly).post('/login').send(DUDE).expect(200);
      const token = res.headers['x-session-token'];
      await request(headerOnly)
        .post('/logout')
        .set('Authorization', `Bearer ${token}`)
        .set('Sec-Fetch-Site', 'cross-site')
        .expect(204);
    });
  });

  describe('cache headers', () => {
    let server: Server;
    beforeAll(async () => {
      server = await boot();
    });

    it('an authenticated answer is no-store and varies by Cookie', async () => {
      const token = await login(server);
      const res = await request(server).get('/whoami').set('Cookie', `sid=${token}`).expect(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers.vary).toMatch(/\bCookie\b/i);
      // Also when the handler fails.
      const missing = await request(server).get('/attr/none').set('Cookie', `sid=${token}`).expect(404);
      expect(missing.headers['cache-control']).toBe('no-store');
    });

    it("a guest's answer read from a cookie varies by Cookie; one without a cookie carries neither header", async () => {
      const guest = sessionCookie(
        (await request(server).put('/attr/cart').send({ value: 1 }).expect(200)).headers,
      )!;
      const read = await request(server).get('/attr/cart').set('Cookie', `sid=${guest}`).expect(200);
      expect(read.headers.vary).toMatch(/\bCookie\b/i);
      expect(read.headers['cache-control']).toBeUndefined();
      const anonymous = await request(server).get('/whoami').expect(200);
      expect(anonymous.headers['cache-control']).toBeUndefined();
      expect(anonymous.headers.vary ?? '').not.toMatch(/cookie/i);
    });

    // Nest applies a route's @Header() values after the guards, so they used to replace the guard's marks.
    it("keeps the marks on a route that sets Vary or Cache-Control itself, and the route's own values", async () => {
      const token = await login(server);
      const varied = await request(server).get('/headed/vary').set('Cookie', `sid=${token}`).expect(200);
      expect(varied.headers.vary).toBe('Accept-Encoding, Cookie');
      expect(varied.headers['cache-control']).toBe('no-store');
      const cached = await request(server).get('/headed/cache').set('Cookie', `sid=${token}`).expect(200);
      expect(cached.headers['cache-control']).toBe('no-store');
      expect(cached.headers.vary).toMatch(/\bCookie\b/i);

      // A guest read from a cookie: the route's Cache-Control stands, Vary gains Cookie.
      const guest = sessionCookie(
        (await request(server).put('/attr/cart').send({ value: 1 }).expect(200)).headers,
      )!;
      const guestCached = await request(server)
        .get('/headed/cache')
        .set('Cookie', `sid=${guest}`)
        .expect(200);
      expect(guestCached.headers['cache-control']).toBe('public, max-age=60');
      expect(guestCached.headers.vary).toMatch(/\bCookie\b/i);
      const guestVaried = await request(server).get('/headed/vary').set('Cookie', `sid=${guest}`).expect(200);
      expect(guestVaried.headers.vary).toBe('Accept-Encoding, Cookie');
      expect(guestVaried.headers['cache-control']).toBeUndefined();

      // Without a token the route's own headers are untouched.
      const anonymous = await request(server).get('/headed/vary').expect(200);
      expect(anonymous.headers.vary).toBe('Accept-Encoding');
      expect((await request(server).get('/headed/cache').expect(200)).headers['cache-control']).toBe(
        'public, max-age=60',
      );
    });

    it('an answer authenticated by header is no-store, without Vary: Cookie', async () => {
      const headerOnly = await boot({ cookie: false, header: {} });
      const token = (await request(headerOnly).post('/login').send(DUDE).expect(200)).headers[
        'x-session-token'
      ];
      const res = await request(headerOnly)
        .get('/whoami')
        .set('Authorization', `Bearer ${token}`)
        .expect(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers.vary ?? '').not.toMatch(/cookie/i);
    });

    it('Clear-Site-Data: "cookies" on logout only when asked', async () => {
      const token = await login(server);
      const plain = await request(server).post('/logout').set('Cookie', `sid=${token}`).expect(204);
      expect(plain.headers['clear-site-data']).toBeUndefined();

      const opted = await boot({ clearSiteDataOnLogout: true });
      const mine = await login(opted);
      const out = await request(opted).post('/logout').set('Cookie', `sid=${mine}`).expect(204);
      expect(out.headers['clear-site-data']).toBe('"cookies"');
      expect(out.headers['cache-control']).toBe('no-store');
      // Not when a token merely stops working (an unknown one), only on the user's logout.
      const stale = await request(opted).get('/whoami').set('Cookie', `sid=${mine}`).expect(200);
      expect(stale.headers['clear-site-data']).toBeUndefined();
    });
  });
});
