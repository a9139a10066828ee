import { randomBytes } from 'node:crypto';
import { ExpiredSessionError, type SessionStore } from '../src/index.js';
import { createManagerHarness, type ManagerHarness } from './support/manager-module.js';
import { redisAvailable, redisSessionStore } from './support/redis.js';

// A Session or Subject held by one request (or a gateway's connection) while the store moves on: another request
// writes, or the session passes its timeouts. Replacing or ending it must act on what the store holds now.
const IDLE = 10_000;
const hasRedis = await redisAvailable('held sessions');

type Backing = () => { store?: SessionStore; close: () => Promise<void> };
const BACKINGS: [string, Backing][] = [['memory', () => ({ close: async () => undefined })]];
if (hasRedis) {
  BACKINGS.push([
    'redis',
    () => {
      const made = redisSessionStore(`held-${process.pid}-${randomBytes(3).toString('hex')}`);
      return { store: made.store, close: () => made.close() };
    },
  ]);
}

describe.each(BACKINGS)('sessions held while the store moves on (%s)', (_name, make) => {
  let h: ManagerHarness;
  let backing: ReturnType<Backing>;
  beforeEach(async () => {
    backing = make();
    h = await createManagerHarness({
      store: backing.store,
      yosai: { idleTimeoutMs: IDLE, guestIdleTimeoutMs: IDLE, expirySweepIntervalMs: 0 },
    });
  });
  afterEach(async () => {
    await h.close();
    await backing.close();
  });

  const signIn = () => h.manager.startSession({ identifiers: ['walter'], authenticated: true });

  it('regenerateSession() of a session past its idle timeout does not revive it: expired once, token cleared', async () => {
    const tokens: (string | null)[] = [];
    const { token, session } = await signIn();
    await session.setAttribute('cart', 'rug');
    const subject = await h.subjects.fromToken(token, { onToken: (t) => tokens.push(t) });
    h.events.clear();
    h.clock.advance(IDLE + 1);
    await expect(subject.regenerateSession()).rejects.toBeInstanceOf(ExpiredSessionError);
    expect(tokens).toEqual([null]);
    expect(subject.session).toBeNull();
    expect(h.events.named('yosai.session.expired').map((e) => e.reason)).toEqual(['idle']);
    expect(h.events.named('yosai.session.stopped')).toEqual([]);
    expect(h.events.named('yosai.session.started')).toEqual([]);
  });

  it('a held session that another request kept alive is regenerated, not expired', async () => {
    const { token } = await signIn();
    const held = await h.subjects.fromToken(token);
    h.clock.advance(IDLE - 1_000);
    expect((await h.manager.resolve(token)).status).toBe('valid'); // another request: a touch
    h.clock.advance(2_000); // past the held view's deadline, not the store's
    const after = await held.regenerateSession();
    expect(after.isStopped).toBe(false);
    expect(h.events.named('yosai.session.expired')).toEqual([]);
  });

  it('logout of a session past its idle timeout reports it expired, not stopped', async () => {
    const { token } = await signIn();
    const subject = await h.subjects.fromToken(token);
    h.events.clear();
    h.clock.advance(IDLE + 1);
    await subject.logout();
    expect(subject.session).toBeNull();
    expect(h.events.named('yosai.session.expired').map((e) => e.reason)).toEqual(['idle']);
    expect(h.events.named('yosai.session.stopped')).toEqual([]);
    expect((await h.manager.resolve(token)).status).not.toBe('valid');
  });

  it('a login from a session past its timeouts starts a session without its attributes', async () => {
    const guest = await h.manager.startSession();
    await guest.session.setAttribute('cart', 'rug');
    h.clock.advance(IDLE + 1);
    const { session } = await h.manager.replaceSession(guest.session, {
      identifiers: ['walter'],
      authenticated: true,
    });
    expect(session.attributeKeys).toEqual([]);
    expect(h.events.named('yosai.session.expired').map((e) => e.reason)).toEqual(['idle']);
  });

  it('regenerate and login carry the attributes another request wrote meanwhile', async () => {
    const { token } = await signIn();
    const a = await h.subjects.fromToken(token);
    const b = await h.subjects.fromToken(token);
    await b.session!.setAttribute('csrf', 'xyz');
    const regenerated = await a.regenerateSession();
    expect(regenerated.getAttribute('csrf')).toBe('xyz');

    const second = await signIn();
    const first = await h.manager.resolve(second.token);
    const other = await h.manager.resolve(second.token);
    if (first.status !== 'valid' || other.status !== 'valid') throw new Error('not valid');
    await other.session.setAttribute('csrf', 'abc');
    const { session } = await h.manager.replaceSession(first.session, {
      identifiers: ['walter'],
      authenticated: true,
    });
    expect(session.getAttribute('csrf')).toBe('abc');
  });
});
