import { randomBytes } from 'node:crypto';
import { ManualClock } from '../src/testing/index.js';
import { tokenOf, type Session } from '../src/session/session.js';
import { createManagerHarness, type ManagerHarness } from './support/manager-module.js';
import { redisAvailable, redisSessionStore } from './support/redis.js';

const NS = `yosai-manager-redis-spec-${process.pid}-${randomBytes(3).toString('hex')}`;
const hasRedis = await redisAvailable('SessionManager over Redis');

(hasRedis ? describe : describe.skip)('SessionManager concurrency over real Redis', () => {
  const opened: { h: ManagerHarness; close(): Promise<void> }[] = [];
  /** One app instance: its own module, manager and Redis connection, all over the same namespace. */
  async function instance(clock: ManualClock, idleTimeoutMs = 60_000) {
    const r = redisSessionStore(NS);
    const h = await createManagerHarness({ store: r.store, yosai: { clock, idleTimeoutMs } });
    opened.push({ h, close: r.close });
    return h;
  }
  afterEach(async () => {
    for (const { h, close } of opened.splice(0)) {
      await h.close();
      await close();
    }
  });

  function valid(h: ManagerHarness, token: string): Promise<Session> {
    return h.manager.resolve(token).then((r) => {
      if (r.status !== 'valid') throw new Error(`expected valid, got ${r.status}`);
      return r.session;
    });
  }

  it('50 concurrent setAttribute calls for distinct keys on one session all survive', async () => {
    const h = await instance(new ManualClock());
    const session = await h.manager.start();
    await Promise.all(Array.from({ length: 50 }, (_, i) => session.setAttribute(`k${i}`, i)));
    const back = await valid(h, tokenOf(session));
    expect(back.attributeKeys).toHaveLength(50);
    for (let i = 0; i < 50; i++) expect(back.getAttribute(`k${i}`)).toBe(i);
  });

  it('50 concurrent setAttribute calls from two app instances (compare-and-set in Redis) all survive', async () => {
    const clock = new ManualClock();
    const one = await instance(clock);
    const two = await instance(clock);
    const session = await one.manager.start();
    const a = await valid(one, tokenOf(session));
    const b = await valid(two, tokenOf(session));
    await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).setAttribute(`k${i}`, i)));
    const back = await valid(two, tokenOf(session));
    expect(back.attributeKeys).toHaveLength(50);
    for (let i = 0; i < 50; i++) expect(back.getAttribute(`k${i}`)).toBe(i);
    expect(one.store.counts.compareAndSet + two.store.counts.compareAndSet).toBeGreaterThanOrEqual(50);
  });

  it('20 concurrent resolutions of one expired session, over two instances, emit exactly one expired', async () => {
    const clock = new ManualClock();
    const one = await instance(clock);
    const two = await instance(clock);
    const session = await one.manager.start({ identifiers: ['thedude'] });
    one.events.clear();
    clock.advance(60_001);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? one : two).manager.resolve(tokenOf(session))),
    );
    for (const r of results) expect(['expired', 'unknown']).toContain(r.status);
    const expired = [
      ...one.events.named('yosai.session.expired'),
      ...two.events.named('yosai.session.expired'),
    ];
    expect(expired).toEqual([
      { sessionId: session.id, identifiers: ['thedude'], reason: 'idle', at: clock.now() },
    ]);
  });
});
