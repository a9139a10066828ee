import request from 'supertest';
import { ManualClock } from '../src/index.js';
import { CASES, clearsCookie } from './support/cookies.js';
import { createTestApp, sessionCookie, USERS, type TestApp } from './support/test-app.js';

const IDLE = 10_000;
const ABSOLUTE = 30_000;
const TOUCH = 1_000;

describe.each(CASES)('Timeouts end-to-end (%s, %s)', (platform, mount) => {
  let t: TestApp;
  let clock: ManualClock;
  let server: Parameters<typeof request>[0];

  beforeAll(async () => {
    clock = new ManualClock();
    t = await createTestApp({
      platform,
      mount,
      yosai: { clock, idleTimeoutMs: IDLE, absoluteTimeoutMs: ABSOLUTE, touchIntervalMs: TOUCH },
    });
    server = t.app.getHttpServer() as Parameters<typeof request>[0];
  });
  afterAll(() => t.close());
  beforeEach(() => t.events.clear());

  async function login() {
    const res = await request(server)
      .post('/login')
      .send({ username: 'thedude', password: USERS.thedude })
      .expect(200);
    return { token: sessionCookie(res.headers)!, sessionId: (res.body as { sessionId: string }).sessionId };
  }
  const whoami = (token: string) => request(server).get('/whoami').set('Cookie', `sid=${token}`).expect(200);

  function expectExpiredOnce(sessionId: string, reason: 'idle' | 'absolute') {
    expect(t.events.named('yosai.session.expired')).toEqual([
      expect.objectContaining({ sessionId, identifiers: ['thedude'], reason }),
    ]);
  }

  it('idle: activity keeps the session; a pause longer than the idle timeout ends it', async () => {
    const { token, sessionId } = await login();
    // 2 × 9 s of activity, then 10.001 s of silence: 28.001 s in all, under the absolute timeout.
    for (let i = 0; i < 2; i++) {
      clock.advance(IDLE - 1_000);
      const res = await whoami(token);
      expect(res.body).toMatchObject({ authenticated: true, sessionId, tokenStatus: 'valid' });
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    expect(t.events.named('yosai.session.expired')).toEqual([]);

    clock.advance(IDLE + 1);
    const expired = await whoami(token);
    expect(expired.body).toEqual({
      authenticated: false,
      identifiers: [],
      sessionId: null,
      tokenStatus: 'expired',
    });
    expect(clearsCookie(expired.headers)).toBe(true);
    expect(expired.headers['cache-control']).toBe('no-store');
    expectExpiredOnce(sessionId, 'idle');

    // The record is gone: later requests see an unknown token and no second event.
    const later = await whoami(token);
    expect(later.body).toMatchObject({ sessionId: null, tokenStatus: 'unknown' });
    await request(server).get('/protected').set('Cookie', `sid=${token}`).expect(401);
    expectExpiredOnce(sessionId, 'idle');
  });

  it('idle: exactly at the timeout the session is still valid', async () => {
    const { token, sessionId } = await login();
    clock.advance(IDLE);
    const res = await whoami(token);
    expect(res.body).toMatchObject({ sessionId, tokenStatus: 'valid' });
  });

  it('absolute: an active session still ends after the absolute timeout', async () => {
    const { token, sessionId } = await login();
    const step = IDLE / 2;
    let elapsed = 0;
    while (elapsed + step <= ABSOLUTE) {
      clock.advance(step);
      elapsed += step;
      const res = await whoami(token);
      expect(res.body).toMatchObject({ authenticated: true, sessionId });
    }
    clock.advance(step);
    const expired = await request(server).get('/protected').set('Cookie', `sid=${token}`).expect(401);
    expect(clearsCookie(expired.headers)).toBe(true);
    expectExpiredOnce(sessionId, 'absolute');
    const after = await whoami(token);
    expect(after.body).toEqual({
      authenticated: false,
      identifiers: [],
      sessionId: null,
      tokenStatus: 'unknown',
    });
    expectExpiredOnce(sessionId, 'absolute');
  });

  it('absolute wins when both timeouts have passed', async () => {
    const { token, sessionId } = await login();
    clock.advance(ABSOLUTE + IDLE);
    const res = await whoami(token);
    expect(res.body).toMatchObject({ authenticated: false, tokenStatus: 'expired' });
    expectExpiredOnce(sessionId, 'absolute');
  });

  it('concurrent requests that find the same expired session emit one expired event', async () => {
    const { token, sessionId } = await login();
    clock.advance(IDLE + 1);
    const results = await Promise.all(Array.from({ length: 5 }, () => whoami(token)));
    for (const res of results) {
      expect(res.body).toMatchObject({ authenticated: false, sessionId: null });
      expect(clearsCookie(res.headers)).toBe(true);
    }
    expectExpiredOnce(sessionId, 'idle');
  });

  it('a session started after expiry is a fresh guest with a new token', async () => {
    const { token } = await login();
    clock.advance(IDLE + 1);
    const put = await request(server)
      .put('/attr/k')
      .set('Cookie', `sid=${token}`)
      .send({ value: 1 })
      .expect(200);
    const fresh = sessionCookie(put.headers)!;
    expect(fresh).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(fresh).not.toBe(token);
    const who = await whoami(fresh);
    expect(who.body).toMatchObject({ authenticated: false, tokenStatus: 'valid' });
  });
});
