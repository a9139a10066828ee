import request from 'supertest';
import { createTestApp, PLATFORMS, sessionCookie, type TestApp } from './support/test-app.js';

describe.each(PLATFORMS)('smoke (%s)', (platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ platform });
  });
  afterAll(() => t.close());

  it('guest, session on demand, login, logout', async () => {
    const server = t.app.getHttpServer();
    const anon = await request(server).get('/whoami').expect(200);
    expect(anon.body).toEqual({
      authenticated: false,
      identifiers: [],
      sessionId: null,
      tokenStatus: 'none',
    });
    expect(anon.headers['set-cookie']).toBeUndefined();

    const put = await request(server)
      .put('/attr/cart')
      .send({ value: [1, 2] })
      .expect(200);
    const guestToken = sessionCookie(put.headers)!;
    expect(guestToken).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const got = await request(server).get('/attr/cart').set('Cookie', `sid=${guestToken}`).expect(200);
    expect(got.body).toEqual({ value: [1, 2] });

    const login = await request(server)
      .post('/login')
      .set('Cookie', `sid=${guestToken}`)
      .send(USERS_DUDE)
      .expect(200);
    const userToken = sessionCookie(login.headers)!;
    expect(userToken).toBeDefined();
    expect(userToken).not.toEqual(guestToken);
    await request(server)
      .get('/protected')
      .set('Cookie', `sid=${userToken}`)
      .expect(200, { username: 'thedude' });
    await request(server)
      .get('/attr/cart')
      .set('Cookie', `sid=${userToken}`)
      .expect(200, { value: [1, 2] });
    await request(server).get('/protected').set('Cookie', `sid=${guestToken}`).expect(401);

    // Interceptors and filters find the same Subject with subjectOf(request); on Express it is kept in
    // res.locals, not on the request (a property added to the request cost GC work on every request).
    const seen = await request(server).get('/subject-of').set('Cookie', `sid=${userToken}`).expect(200);
    expect(seen.body).toEqual({ same: true, onRequest: platform === 'fastify', username: 'thedude' });
    await request(server)
      .get('/subject-of')
      .expect(200, { same: true, onRequest: platform === 'fastify', username: null });

    const out = await request(server).post('/logout').set('Cookie', `sid=${userToken}`).expect(204);
    expect(sessionCookie(out.headers)).toBe('');
    await request(server).get('/protected').set('Cookie', `sid=${userToken}`).expect(401);
    expect(t.events.named('yosai.session.stopped').map((e) => e.reason)).toEqual(['regenerated', 'logout']);
  });
});

const USERS_DUDE = { username: 'thedude', password: 'letsgobowling' };
