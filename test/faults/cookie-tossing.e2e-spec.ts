// Cookie tossing (issue #12, bug 4): a sibling subdomain plants its own session cookie with `Domain=`, so the
// browser sends two. 0.1 made the request a guest and sent a host-only clearing cookie, which deleted the
// victim's real cookie and left the planted one: the next request ran in the attacker's session.
import request from 'supertest';
import type { YosaiModuleOptions } from '../../src/index.js';
import { setCookies } from '../support/cookies.js';
import { createTestApp, PLATFORMS, sessionCookie, USERS, type TestApp } from '../support/test-app.js';

type Server = Parameters<typeof request>[0];
const DUDE = { username: 'thedude', password: USERS.thedude };
const WALTER = { username: 'walter', password: USERS.walter };

describe.each(PLATFORMS)('cookie tossing (%s)', (platform) => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((t) => t.close()));
  });
  async function boot(yosai: YosaiModuleOptions): Promise<Server> {
    const t = await createTestApp({ platform, yosai });
    apps.push(t);
    return t.app.getHttpServer() as Server;
  }
  async function login(server: Server, credentials: typeof DUDE, name: string) {
    const res = await request(server).post('/login').send(credentials).expect(200);
    return sessionCookie(res.headers, name)!;
  }

  it('without the __Host- prefix: two different cookies give a guest and no Set-Cookie at all', async () => {
    const server = await boot({ cookie: { secure: false } });
    const victim = await login(server, DUDE, 'sid');
    const attacker = await login(server, WALTER, 'sid'); // the attacker's own, valid session
    for (const cookie of [`sid=${attacker}; sid=${victim}`, `sid=${victim}; sid=${attacker}`]) {
      const res = await request(server).get('/whoami').set('Cookie', cookie).expect(200);
      expect(res.body).toMatchObject({ authenticated: false, identifiers: [] });
      expect(setCookies(res.headers)).toEqual([]);
      // A route that fails for the guest does not clear anything either.
      const denied = await request(server).get('/protected').set('Cookie', cookie).expect(401);
      expect(setCookies(denied.headers)).toEqual([]);
    }
    // The browser still holds the victim's cookie; once the planted one goes, the victim is back.
    const back = await request(server).get('/whoami').set('Cookie', `sid=${victim}`).expect(200);
    expect(back.body).toMatchObject({ authenticated: true, identifiers: ['thedude'] });
  });

  it('with secure: true (the default) the cookie is __Host-sid, which a sibling subdomain cannot plant', async () => {
    const server = await boot({ cookie: { secure: true } });
    const victim = await login(server, DUDE, '__Host-sid');
    expect(victim).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const attacker = sessionCookie(
      (await request(server).post('/login').send(WALTER).expect(200)).headers,
      '__Host-sid',
    )!;
    // What a sibling can plant is a plain `sid` (browsers refuse `__Host-` cookies with a Domain): ignored.
    const res = await request(server)
      .get('/whoami')
      .set('Cookie', `sid=${attacker}; __Host-sid=${victim}`)
      .expect(200);
    expect(res.body).toMatchObject({ authenticated: true, identifiers: ['thedude'] });
    expect(setCookies(res.headers)).toEqual([]);
  });
});
