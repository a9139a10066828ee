// Guest sessions (no identifiers) end after `guestIdleTimeoutMs`; the session a login makes of one gets the full
// idle timeout. Through HTTP on both platforms, with a ManualClock.
import request from 'supertest';
import { ManualClock } from '../src/index.js';
import { createTestApp, PLATFORMS, sessionCookie, USERS, type TestApp } from './support/test-app.js';

const IDLE = 60_000;
const GUEST_IDLE = 10_000;
const TOUCH = 1_000;

describe.each(PLATFORMS)('Guest idle timeout end-to-end (%s)', (platform) => {
  let t: TestApp;
  let clock: ManualClock;
  let server: Parameters<typeof request>[0];

  beforeAll(async () => {
    clock = new ManualClock();
    t = await createTestApp({
      platform,
      yosai: { clock, idleTimeoutMs: IDLE, guestIdleTimeoutMs: GUEST_IDLE, touchIntervalMs: TOUCH },
    });
    server = t.app.getHttpServer() as Parameters<typeof request>[0];
  });
  afterAll(() => t.close());
  beforeEach(() => t.events.clear());

  async function guest() {
    const res = await request(server)
      .put('/attr/cart')
      .send({ value: [1, 2] })
      .expect(200);
    return { token: sessionCookie(res.headers)!, sessionId: (res.body as { sessionId: string }).sessionId };
  }
  const whoami = (token: string) => request(server).get('/whoami').set('Cookie', `sid=${token}`).expect(200);

  it('a guest session idle for longer than guestIdleTimeoutMs has expired (idle); at it, it is valid', async () => {
    const kept = await guest();
    const left = await guest();
    clock.advance(GUEST_IDLE);
    expect((await whoami(kept.token)).body).toMatchObject({
      sessionId: kept.sessionId,
      tokenStatus: 'valid',
    });
    clock.advance(1);
    expect((await whoami(left.token)).body).toMatchObject({ sessionId: null, tokenStatus: 'expired' });
    expect(t.events.named('yosai.session.expired')).toEqual([
      expect.objectContaining({ sessionId: left.sessionId, identifiers: null, reason: 'idle' }),
    ]);
  });

  it('a login replaces the guest session by one with the full idle timeout', async () => {
    const { token: guestToken } = await guest();
    const res = await request(server)
      .post('/login')
      .set('Cookie', `sid=${guestToken}`)
      .send({ username: 'thedude', password: USERS.thedude })
      .expect(200);
    const token = sessionCookie(res.headers)!;
    const sessionId = (res.body as { sessionId: string }).sessionId;
    clock.advance(IDLE - 1_000); // far past the guest timeout, within the full one
    expect((await whoami(token)).body).toMatchObject({
      authenticated: true,
      sessionId,
      tokenStatus: 'valid',
    });
    clock.advance(IDLE + 1);
    expect((await whoami(token)).body).toMatchObject({ sessionId: null, tokenStatus: 'expired' });
  });
});
