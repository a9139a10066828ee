import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import { createManagerHarness, type ManagerHarness } from '../../test/support/manager-module.js';
import { YosaiConfigurationError } from '../errors/yosai.errors.js';
import { ManualClock } from '../testing/manual.clock.js';
import { sessionStoreContract } from '../testing/index.js';
import { CacheManagerSessionStore } from './cache-manager-session.store.js';

// The contract holds for a capped store that is not full.
{
  const map = new Map<string, unknown>();
  const cache = createCache({ stores: [new Keyv({ store: map })] });
  sessionStoreContract('in-memory (Map) with maxSessions', {
    create: async (ns) => {
      const store = new CacheManagerSessionStore(cache, {
        prefix: `yosai:${ns}:`,
        sweepIntervalMs: 0,
        maxSessions: 10_000,
      });
      return { store, close: () => store.close() };
    },
    sweep: (store) => (store as CacheManagerSessionStore).sweep(),
    expiryQueue: true,
    backendSize: () => map.size,
  });
}

describe('CacheManagerSessionStore.inMemory({ maxSessions })', () => {
  const HOUR = 3_600_000;
  let clock: ManualClock;
  let store: CacheManagerSessionStore;
  let evicted: string[];
  let expired: string[];
  beforeEach(() => {
    clock = new ManualClock();
    store = CacheManagerSessionStore.inMemory({ maxSessions: 4, sweepIntervalMs: 0, clock });
    evicted = [];
    expired = [];
    store.onEvicted!((id, value) => evicted.push(`${id}=${value}`));
    store.onExpired!((id) => expired.push(id));
  });
  afterEach(() => store.close());

  const guest = (id: string) => store.set(id, id, HOUR, { guest: true });
  const user = (id: string) => store.set(id, id, HOUR, { guest: false });

  it('evicts guests first, oldest first, then the oldest other session; each reported with its value', async () => {
    await user('u1');
    await guest('g1');
    await user('u2');
    await guest('g2');
    await user('u3'); // full: the oldest guest goes
    expect(evicted).toEqual(['g1=g1']);
    await user('u4'); // then the next guest
    await user('u5'); // no guest left: the oldest other session
    expect(evicted).toEqual(['g1=g1', 'g2=g2', 'u1=u1']);
    for (const id of ['g1', 'g2', 'u1']) expect(await store.get(id)).toBeUndefined();
    for (const id of ['u2', 'u3', 'u4', 'u5']) expect(await store.get(id)).toBe(id);
  });

  it('a write makes a record the most recently written: it is evicted last', async () => {
    await guest('g1');
    await guest('g2');
    await guest('g3');
    await guest('g4');
    expect(await store.compareAndSet('g1', 'g1', 'g1+', HOUR)).toBe(true);
    await guest('g5');
    await guest('g6');
    expect(evicted).toEqual(['g2=g2', 'g3=g3']);
    expect(await store.get('g1')).toBe('g1+');
  });

  it('deleted and expired records free their place; an expired victim is reported as expired, not evicted', async () => {
    await guest('g1');
    await store.set('short', 'short', 1_000, { guest: false });
    await user('u1');
    await user('u2');
    expect(await store.delete('u1')).toBe(true);
    await user('u3'); // room left by the delete: nothing evicted
    expect(evicted).toEqual([]);
    clock.advance(2_000); // 'short' is past its TTL
    await user('u4'); // the guest goes first
    expect(evicted).toEqual(['g1=g1']);
    await user('u5'); // the oldest other one is 'short', already expired
    expect(expired).toEqual(['short']);
    expect(evicted).toEqual(['g1=g1']);
  });

  it('setting an id that is already stored needs no room', async () => {
    for (const id of ['u1', 'u2', 'u3', 'u4']) await user(id);
    await user('u2');
    expect(evicted).toEqual([]);
  });

  it('refuses a bad maxSessions, and maxSessions on a store that is not in memory', () => {
    expect(() => CacheManagerSessionStore.inMemory({ maxSessions: 0 })).toThrow(YosaiConfigurationError);
    expect(() => CacheManagerSessionStore.inMemory({ maxSessions: 1.5 })).toThrow(/positive integer/);
    const tiered = createCache({ stores: [new Keyv(), new Keyv()] });
    expect(() => new CacheManagerSessionStore(tiered, { maxSessions: 10 })).toThrow(/in-memory store only/);
  });

  it('without maxSessions there is no cap and no onEvicted', () => {
    const plain = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
    expect(plain.onEvicted).toBeUndefined();
  });

  it('records made by setIfAbsent (login-throttle counters) neither take a place nor get evicted', async () => {
    for (const id of ['c1', 'c2', 'c3', 'c4', 'c5'])
      expect(await store.setIfAbsent!(id, id, HOUR)).toBe(true);
    expect(await store.compareAndSet('c1', 'c1', 'c1+', HOUR)).toBe(true);
    for (const id of ['u1', 'u2', 'u3', 'u4']) await user(id);
    expect(evicted).toEqual([]);
    await guest('g1');
    expect(evicted).toEqual(['u1=u1']);
    for (const id of ['c1', 'c2', 'c3', 'c4', 'c5']) expect(await store.get(id)).toBeDefined();
  });
});

describe('SessionManager with a capped store', () => {
  let h: ManagerHarness;
  afterEach(() => h.close());

  it('an eviction stops the session: yosai.session.stopped with reason evicted, signed-in sessions kept', async () => {
    h = await createManagerHarness({
      store: CacheManagerSessionStore.inMemory({ maxSessions: 3, sweepIntervalMs: 0 }),
    });
    const user = await h.manager.startSession({ identifiers: ['walter'], authenticated: true });
    const guest1 = await h.manager.startSession();
    await h.manager.startSession();
    h.events.clear();
    await h.manager.startSession();
    expect(h.events.named('yosai.session.stopped')).toEqual([
      expect.objectContaining({ sessionId: guest1.session.id, identifiers: null, reason: 'evicted' }),
    ]);
    await expect(h.manager.resolve(guest1.token)).resolves.toEqual({ status: 'unknown' });
    expect((await h.manager.resolve(user.token)).status).toBe('valid');
  });
});
