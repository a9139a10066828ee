import { ConsoleLogger, Logger } from '@nestjs/common';
import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import { CapturingLogger } from '../../test/support/capturing-logger.js';
import { failure } from '../../test/support/failure.js';
import { createManagerHarness, type ManagerHarness } from '../../test/support/manager-module.js';
import { SessionStoreError } from '../errors/yosai.errors.js';
import { tokenOf } from '../session/session.js';
import { CacheManagerSessionStore } from './cache-manager-session.store.js';
import { contractId, sessionStoreContract } from '../testing/index.js';
import { ManualClock } from '../testing/manual.clock.js';
import { SessionStore } from './session.store.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------
// In memory: one Keyv over one Map, namespaces by key prefix.
{
  const map = new Map<string, unknown>();
  const cache = createCache({ stores: [new Keyv({ store: map })] });
  sessionStoreContract('in-memory (Map), prefix per namespace', {
    create: async (ns) => {
      const store = new CacheManagerSessionStore(cache, { prefix: `yosai:${ns}:`, sweepIntervalMs: 0 });
      expect(store.kind).toBe('memory');
      return { store, close: () => store.close() };
    },
    sweep: (store) => (store as CacheManagerSessionStore).sweep(),
    expiryQueue: true,
    backendSize: () => map.size,
  });
}

// In memory: Keyv namespaces over one Map, default prefix.
{
  const map = new Map<string, unknown>();
  sessionStoreContract('in-memory (Map), Keyv namespace per namespace', {
    create: async (ns) => {
      const store = new CacheManagerSessionStore(
        createCache({ stores: [new Keyv({ store: map, namespace: ns })] }),
        {
          sweepIntervalMs: 0,
        },
      );
      expect(store.kind).toBe('memory');
      return { store, close: () => store.close() };
    },
    sweep: (store) => (store as CacheManagerSessionStore).sweep(),
    expiryQueue: true,
    backendSize: () => map.size,
  });
}

// Generic Keyv path: a tiered cache of two Map-backed Keyv stores.
{
  const near = new Map<string, unknown>();
  const far = new Map<string, unknown>();
  sessionStoreContract('generic Keyv: tiered, two Map-backed Keyv stores', {
    create: async (ns) => {
      const cache = createCache({
        stores: [new Keyv({ store: near, namespace: ns }), new Keyv({ store: far, namespace: ns })],
      });
      const store = new CacheManagerSessionStore(cache);
      expect(store.kind).toBe('keyv');
      return { store, close: () => store.close() };
    },
  });
}

/** A Keyv storage adapter that is not a Map: a plain null-prototype object behind async methods. */
class ObjectAdapter {
  readonly data: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  failing: false | 'get' | 'set' | 'all' = false;
  private check(op: 'get' | 'set') {
    if (this.failing === 'all' || this.failing === op) throw new Error(`adapter ${op} failed (test)`);
  }
  async get(key: string) {
    this.check('get');
    return this.data[key];
  }
  async set(key: string, value: unknown) {
    this.check('set');
    this.data[key] = value;
    return true;
  }
  async delete(key: string) {
    this.check('set');
    const had = key in this.data;
    delete this.data[key];
    return had;
  }
  async clear() {
    for (const key of Object.keys(this.data)) delete this.data[key];
  }
}

// Generic Keyv path: a custom adapter.
{
  const adapter = new ObjectAdapter();
  sessionStoreContract('generic Keyv: custom adapter object (not a Map)', {
    create: async (ns) => {
      const store = new CacheManagerSessionStore(createCache({ stores: [new Keyv({ store: adapter })] }), {
        prefix: `yosai:${ns}:`,
      });
      expect(store.kind).toBe('keyv');
      return { store, close: () => store.close() };
    },
  });
}

// ---------------------------------------------------------------------------------------------------
describe('CacheManagerSessionStore (in-memory specifics)', () => {
  it('the sweep timer removes expired entries that nobody reads, and close() stops it', async () => {
    const map = new Map<string, unknown>();
    const store = new CacheManagerSessionStore(createCache({ stores: [new Keyv({ store: map })] }), {
      sweepIntervalMs: 20,
    });
    try {
      for (let i = 0; i < 3; i++) await store.set(contractId(), 'dead', 1);
      await store.set(contractId(), 'live', 60_000);
      expect(map.size).toBe(4);
      await sleep(120);
      expect(map.size).toBe(1);
    } finally {
      await store.close();
    }
    await store.set(contractId(), 'dead', 1);
    await sleep(80);
    expect(map.size).toBe(2); // no timer any more
  });

  it('inMemory() makes a memory store', () => {
    expect(CacheManagerSessionStore.inMemory().kind).toBe('memory');
  });

  it('shares its Map with the app’s own cache data: never reads, sweeps or reports it as a session', async () => {
    const map = new Map<string, unknown>();
    const cache = createCache({ stores: [new Keyv({ store: map })] });
    const clock = new ManualClock();
    const store = new CacheManagerSessionStore(cache, { sweepIntervalMs: 0, clock });
    const expired: string[] = [];
    store.onExpired!((id) => expired.push(id));
    await cache.set('greeting', 'hi', 60_000);
    await cache.set(`yosai:sess:${contractId()}`, 'a cache entry under a session key', 60_000);
    const id = contractId();
    await store.set(id, 'session', 1_000);

    clock.advance(1_001);
    expect(store.sweep()).toBe(1);
    expect(expired).toEqual([id]);
    expect(map.size).toBe(2);
    await expect(cache.get('greeting')).resolves.toBe('hi');
  });
  it('refuses something that is not a cache-manager Cache', () => {
    expect(() => new CacheManagerSessionStore({} as never)).toThrow(TypeError);
    expect(() => new CacheManagerSessionStore({ stores: [] } as never)).toThrow(TypeError);
  });

  it('is a SessionStore', () => {
    expect(CacheManagerSessionStore.inMemory()).toBeInstanceOf(SessionStore);
  });
});

// ---------------------------------------------------------------------------------------------------
describe('readNow', () => {
  it('in memory: the value itself, synchronously, undefined for none', async () => {
    const store = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
    const id = contractId();
    await store.set(id, 'value', 60_000);
    expect(store.readNow!(id)).toBe('value');
    expect(store.readNow!(contractId())).toBeUndefined();
  });

  it('generic Keyv: not offered (get is the only read)', () => {
    const store = new CacheManagerSessionStore(
      createCache({ stores: [new Keyv({ store: new ObjectAdapter() })] }),
    );
    expect(store.readNow).toBeUndefined();
    expect(store.onExpired).toBeUndefined();
  });
});

describe('onExpired (in memory)', () => {
  function setup(options: { namespace?: string; prefix?: string; map?: Map<string, unknown> } = {}) {
    const map = options.map ?? new Map<string, unknown>();
    const clock = new ManualClock();
    const store = new CacheManagerSessionStore(
      createCache({ stores: [new Keyv({ store: map, namespace: options.namespace })] }),
      { sweepIntervalMs: 0, clock, prefix: options.prefix },
    );
    const expired: [string, string][] = [];
    store.onExpired!((id, value) => expired.push([id, value]));
    return { map, clock, store, expired };
  }

  it('the sweep hands each record it removes to the listener, with its value, once', async () => {
    const { clock, store, expired } = setup({ namespace: 'app' });
    const dead = [contractId(), contractId()];
    const live = contractId();
    await store.set(dead[0], 'first', 1_000);
    await store.set(dead[1], 'second', 2_000);
    await store.set(live, 'live', 10_000);

    clock.advance(1_000);
    expect(store.sweep()).toBe(0); // a TTL ends after its last millisecond
    clock.advance(1_001);
    expect(store.sweep()).toBe(2);
    expect(expired.sort()).toEqual(
      [
        [dead[0], 'first'],
        [dead[1], 'second'],
      ].sort(),
    );
    expect(store.sweep()).toBe(0);
    expect(expired).toHaveLength(2);
    expect(store.readNow!(live)).toBe('live');
  });

  it('a read, compare-and-set or delete that finds a record past its TTL removes and reports it', async () => {
    const { map, clock, store, expired } = setup();
    const [a, b, c] = [contractId(), contractId(), contractId()];
    await store.set(a, 'A', 1_000);
    await store.set(b, 'B', 1_000);
    await store.set(c, 'C', 1_000);
    clock.advance(1_001);

    expect(store.readNow!(a)).toBeUndefined();
    await expect(store.compareAndSet(b, 'B', 'B2', 60_000)).resolves.toBe(false);
    await expect(store.delete(c)).resolves.toBe(false);
    expect(expired).toEqual([
      [a, 'A'],
      [b, 'B'],
      [c, 'C'],
    ]);
    expect(map.size).toBe(0);
    expect(store.sweep()).toBe(0);
    expect(expired).toHaveLength(3);
  });

  it('reports only its own records when stores of other namespaces or prefixes share the Map', async () => {
    const mine = setup({ namespace: 'a' });
    const otherNamespace = setup({ namespace: 'b', map: mine.map });
    const otherPrefix = setup({ namespace: 'a', prefix: 'other:', map: mine.map });
    const ids = [contractId(), contractId(), contractId()];
    await mine.store.set(ids[0], 'mine', 1_000);
    await otherNamespace.store.set(ids[1], 'theirs', 1_000);
    await otherPrefix.store.set(ids[2], 'theirs too', 1_000);

    mine.clock.advance(1_001);
    expect(mine.store.sweep()).toBe(1);
    expect(mine.expired).toEqual([[ids[0], 'mine']]);
    expect(mine.map.size).toBe(2);
  });

  it('a listener that throws does not stop the sweep; the error is logged', async () => {
    const { map, clock, store } = setup();
    let calls = 0;
    store.onExpired!(() => {
      calls++;
      throw new Error('listener failed (test)');
    });
    for (let i = 0; i < 3; i++) await store.set(contractId(), 'dead', 1_000);
    clock.advance(1_001);
    const logger = new CapturingLogger();
    Logger.overrideLogger(logger);
    try {
      expect(store.sweep()).toBe(3);
    } finally {
      Logger.overrideLogger(new ConsoleLogger());
    }
    expect(calls).toBe(3);
    expect(map.size).toBe(0);
    expect(logger.at('error').map((l) => l.text)).toEqual(
      Array.from({ length: 3 }, () => expect.stringContaining('listener failed (test)') as unknown),
    );
  });
});

// ---------------------------------------------------------------------------------------------------
describe('store failures surface as SessionStoreError', () => {
  let h: ManagerHarness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('generic Keyv: a failing adapter is an error, never silence (cache-manager would swallow it)', async () => {
    const adapter = new ObjectAdapter();
    const store = new CacheManagerSessionStore(createCache({ stores: [new Keyv({ store: adapter })] }));
    h = await createManagerHarness({ store });
    const session = await h.manager.start();

    adapter.failing = 'set';
    await expect(store.set(contractId(), 'v', 1000)).rejects.toThrow();
    await expect(h.manager.start()).rejects.toBeInstanceOf(SessionStoreError);
    await expect(session.setAttribute('a', 1)).rejects.toBeInstanceOf(SessionStoreError);
    await expect(session.stop()).rejects.toBeInstanceOf(SessionStoreError);

    adapter.failing = 'get';
    await expect(store.get(contractId())).rejects.toThrow();
    const error = await h.manager.resolve(tokenOf(session)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as SessionStoreError).operation).toBe('get');

    adapter.failing = false;
    await expect(h.manager.resolve(tokenOf(session))).resolves.toMatchObject({ status: 'valid' });
  });

  it('a store whose get never answers fails after storeTimeoutMs', async () => {
    class HungStore extends SessionStore {
      inner = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
      get = () => new Promise<string | undefined>(() => undefined);
      set = (id: string, v: string, ttl: number) => this.inner.set(id, v, ttl);
      compareAndSet = (id: string, e: string, v: string, ttl: number) =>
        this.inner.compareAndSet(id, e, v, ttl);
      delete = (id: string) => this.inner.delete(id);
    }
    h = await createManagerHarness({ store: new HungStore(), yosai: { storeTimeoutMs: 100 } });
    const session = await h.manager.start();
    const { error, ms } = await failure(() => h!.manager.resolve(tokenOf(session)));
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as SessionStoreError).operation).toBe('get');
    expect((error as Error).message).toContain('storeTimeoutMs');
    expect(ms).toBeGreaterThanOrEqual(90);
    expect(ms).toBeLessThan(100 + 2000);
  });
});
