import request from 'supertest';
import { signInForTest } from '../src/testing/index.js';
import { createTestApp, PLATFORMS, type TestApp } from './support/test-app.js';

describe.each(PLATFORMS)('signInForTest from nestjs-yosai/testing (%s)', (platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ platform });
  });
  afterAll(() => t.close());

  it('gives a token that signs the user in over HTTP, with no password and no realm call', async () => {
    const token = await signInForTest(t.app, ['walter', 'walter@example.org'], {
      attributes: { team: 'bowling' },
    });
    const server = t.app.getHttpServer();
    const me = await request(server).get('/whoami').set('Cookie', `sid=${token}`).expect(200);
    expect(me.body).toMatchObject({
      authenticated: true,
      identifiers: ['walter', 'walter@example.org'],
      tokenStatus: 'valid',
    });
    await request(server).get('/protected').set('Cookie', `sid=${token}`).expect(200);
    const team = await request(server).get('/attr/team').set('Cookie', `sid=${token}`).expect(200);
    expect(team.body).toEqual({ value: 'bowling' });
    expect(t.events.named('yosai.session.started').length).toBeGreaterThan(0);
    expect(t.events.named('yosai.login.succeeded')).toEqual([]);
  });

  it('authenticated: false gives an identified but not authenticated session', async () => {
    const token = await signInForTest(t.app, ['donny'], { authenticated: false });
    const me = await request(t.app.getHttpServer()).get('/whoami').set('Cookie', `sid=${token}`).expect(200);
    expect(me.body).toMatchObject({ authenticated: false, identifiers: ['donny'] });
    await request(t.app.getHttpServer()).get('/protected').set('Cookie', `sid=${token}`).expect(401);
  });

  it('refuses to sign in nobody', async () => {
    await expect(signInForTest(t.app, [])).rejects.toThrow('needs the identifiers of the user');
  });
});
