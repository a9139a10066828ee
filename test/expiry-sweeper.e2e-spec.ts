import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import {
  CacheManagerSessionStore,
  ManualClock,
  SessionManager,
  SessionSweeper,
  YOSAI_SESSION_EXPIRED,
  YosaiConfigurationError,
  YosaiModule,
  type SessionStore,
  type YosaiModuleOptions,
} from '../src/index.js';
import { generateToken, sessionIdOf } from '../src/session/session-token.js';
import { EXPIRY_SUBQUEUES, expirySubqueueOf, sessionBucketOf } from '../src/store/session-tag.js';
import { EventRecorder } from './support/manager-module.js';
import { freePorts, OwnRedisCluster, clusterSessionStore } from './support/redis-cluster.js';
import {
  OwnRedis,
  REDIS_URL,
  redisAvailable,
  redisServerAvailable,
  redisSessionStore,
} from './support/redis.js';

const IDLE_MS = 60_000;
/** Passes are driven by `sweep()`; the timer is tested on its own below. */
const NO_TIMER = 3_600_000;

/** One app instance: the real module over a store it shares with the others, with a recorder of the events. */
async function instance(store: SessionStore, clock: ManualClock, options: YosaiModuleOptions = {}) {
  @Module({
    imports: [
      EventEmitterModule.forRoot(),
      YosaiModule.forRoot({
        cookie: { secure: false },
        idleTimeoutMs: IDLE_MS,
        guestIdleTimeoutMs: IDLE_MS,
        expirySweepIntervalMs: NO_TIMER,
        expirySweepLeaseMs: 1_000,
        // Thousands of sessions are written at once on a machine shared with other suites.
        storeTimeoutMs: 20_000,
        ...options,
        store,
        clock,
      }),
    ],
    providers: [EventRecorder],
  })
  class InstanceModule {}
  const moduleRef = await Test.createTestingModule({ imports: [InstanceModule] }).compile();
  await moduleRef.init();
  return {
    manager: moduleRef.get(SessionManager),
    sweeper: moduleRef.get(SessionSweeper),
    events: moduleRef.get(EventRecorder),
    close: () => moduleRef.close(),
  };
}
type Instance = Awaited<ReturnType<typeof instance>>;

/** Starts `count` guest sessions, spread over the instances, in parallel chunks. */
async function startMany(instances: Instance[], count: number) {
  const started: { id: string; token: string }[] = [];
  for (let done = 0; done < count; done += 200) {
    const chunk = await Promise.all(
      Array.from({ length: Math.min(200, count - done) }, (_, i) =>
        instances[(done + i) % instances.length].manager.startSession(),
      ),
    );
    for (const { session, token } of chunk) started.push({ id: session.id, token });
  }
  return started;
}

/** Every `expired` event of the instances, by session id: how many each got. */
function expiredCounts(instances: Instance[]) {
  const counts = new Map<string, number>();
  for (const { events } of instances) {
    for (const payload of events.named(YOSAI_SESSION_EXPIRED)) {
      const id = payload.sessionId as string;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  return counts;
}

function expectExactlyOnce(instances: Instance[], ids: string[]) {
  const counts = expiredCounts(instances);
  expect(counts.size).toBe(ids.length);
  for (const id of ids) expect(counts.get(id)).toBe(1);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The same behaviour on both stores: `setUp` gives a store per instance (one shared store in memory). */
function behaviour(
  name: string,
  setUp: () => Promise<{ stores: [SessionStore, SessionStore]; end(): Promise<void> }>,
) {
  describe(`expiry sweeper (${name})`, () => {
    let clock: ManualClock;
    let a: Instance;
    let b: Instance;
    let end: () => Promise<void>;

    beforeEach(async () => {
      const made = await setUp();
      end = made.end;
      clock = new ManualClock(Date.UTC(2026, 0, 1));
      a = await instance(made.stores[0], clock);
      b = await instance(made.stores[1], clock);
    });
    afterEach(async () => {
      await a.close();
      await b.close();
      await end();
    });

    it('10,000 abandoned sessions: 10,000 expired events, each exactly once, within two passes of two instances', async () => {
      const started = await startMany([a, b], 10_000);
      await Promise.all([a.sweeper.sweep(), b.sweeper.sweep()]);
      expect(expiredCounts([a, b]).size).toBe(0); // nothing is due before its deadline

      clock.advance(IDLE_MS + 1);
      let reported = 0;
      for (let pass = 0; pass < 2 && expiredCounts([a, b]).size < started.length; pass++) {
        const passes = await Promise.all([a.sweeper.sweep(), b.sweeper.sweep()]);
        reported += passes[0] + passes[1];
      }
      // What the passes say they emitted is what the listeners received.
      expect(reported).toBe(started.length);
      expectExactlyOnce(
        [a, b],
        started.map((s) => s.id),
      );
      // Both instances did part of the work (leases split the shards between them).
      expect(a.events.named(YOSAI_SESSION_EXPIRED).length).toBeGreaterThan(0);
      expect(b.events.named(YOSAI_SESSION_EXPIRED).length).toBeGreaterThan(0);
      const event = a.events.named(YOSAI_SESSION_EXPIRED)[0];
      expect(event).toMatchObject({ reason: 'idle', identifiers: null });
      // The tokens are dead, and nothing more is reported for them.
      for (const { token } of started.slice(0, 50)) {
        expect(await b.manager.resolve(token)).toEqual({ status: 'unknown' });
      }
      await Promise.all([a.sweeper.sweep(), b.sweeper.sweep()]);
      expect(expiredCounts([a, b]).size).toBe(started.length);
    }, 120_000);

    it('a request presenting the token while the sweeper expires it: exactly one event (raced 40 times)', async () => {
      const all: string[] = [];
      for (let round = 0; round < 40; round++) {
        const started = await startMany([a], 25);
        clock.advance(IDLE_MS + 1);
        // Some requests come before the pass starts, the others at random moments while it runs.
        // Every fourth session is abandoned (only the sweeper can expire it); the others are raced.
        const early = started.filter((_, i) => i % 4 !== 3 && (i + round) % 3 === 0);
        const late = started.filter((_, i) => i % 4 !== 3 && (i + round) % 3 !== 0);
        const first = early.map(({ token }) => b.manager.resolve(token));
        const pass = a.sweeper.sweep();
        const rest = late.map(async ({ token }) => {
          await sleep(Math.random() * 4);
          return b.manager.resolve(token);
        });
        const [resolutions] = await Promise.all([Promise.all([...first, ...rest]), pass]);
        for (const resolution of resolutions) expect(['expired', 'unknown']).toContain(resolution.status);
        all.push(...started.map((s) => s.id));
      }
      expectExactlyOnce([a, b], all);
      // Requests won some races; the sweeper expired at least every abandoned session (which of the raced ones it
      // wins depends on scheduling, and is not asserted).
      expect(b.events.named(YOSAI_SESSION_EXPIRED).length).toBeGreaterThan(0);
      expect(a.events.named(YOSAI_SESSION_EXPIRED).length).toBeGreaterThanOrEqual(40 * 6);
    }, 120_000);

    it('a session touched since it was queued is moved, not expired; it expires at its new deadline', async () => {
      const { session, token } = await a.manager.startSession({
        identifiers: ['walter'],
        authenticated: true,
      });
      clock.advance(IDLE_MS / 2);
      expect((await b.manager.resolve(token)).status).toBe('valid'); // touched: the deadline moves on
      clock.advance(IDLE_MS / 2 + 1); // past the first deadline, not the second
      await a.sweeper.sweep();
      expect(expiredCounts([a, b]).size).toBe(0);
      expect((await b.manager.resolve(token)).status).toBe('valid');
      clock.advance(IDLE_MS + 1);
      await a.sweeper.sweep();
      expect(a.events.named(YOSAI_SESSION_EXPIRED)).toEqual([
        expect.objectContaining({ sessionId: session.id, identifiers: ['walter'], reason: 'idle' }),
      ]);
    });

    it('an instance that dies holding leases: the other takes its shards over once the lease ends', async () => {
      const started = await startMany([a, b], 2_000);
      clock.advance(IDLE_MS + 1);
      // The dead instance's leases: every shard, held by an owner that never gives them up.
      const queue = (a.manager as unknown as { config: { store: SessionStore } }).config.store.expiryQueue!;
      for (let shard = 0; shard < queue.shards; shard++)
        expect(await queue.lease(shard, 'dead', 1_000)).toBe(true);
      expect(await b.sweeper.sweep()).toBe(0); // every shard is leased to the dead instance
      await sleep(1_100);
      await b.sweeper.sweep();
      expectExactlyOnce(
        [a, b],
        started.map((s) => s.id),
      );
    }, 120_000);
  });
}

behaviour('memory, one store shared by two instances', async () => {
  const store = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
  return { stores: [store, store], end: () => store.close() };
});

describe('on Redis', () => {
  let available = false;
  beforeAll(async () => {
    available = await redisAvailable('expiry sweeper');
  });

  /** A namespace of this test's own on Redis, its store, a clock and one instance on them. */
  async function onOwnNamespace(name: string) {
    if (!available) throw new Error('no Redis');
    const namespace = `${name}-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const made = redisSessionStore(namespace);
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    return { namespace, made, clock, one: await instance(made.store, clock) };
  }

  it('an instance killed mid-sweep (SIGKILL, holding leases): the other takes its shards over once the lease ends; each session expires once', async () => {
    const { namespace, made: sb, clock, one: b } = await onOwnNamespace('sweeper-kill');
    try {
      const started = await startMany([b], 2_000);
      clock.advance(IDLE_MS + 1);
      // Instance A, in a process of its own, reads a shard's due sessions and is killed before it expires them.
      const child = spawn(
        process.execPath,
        [join(import.meta.dirname, 'support/sweeping-child.mjs'), REDIS_URL, namespace, String(clock.now())],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const leased = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const match = /^due \d+ (\d+)$/m.exec(out);
          if (match) resolve(Number(match[1]));
        });
        child.once('exit', (code) =>
          reject(new Error(`the sweeping child exited (${code}) before sweeping`)),
        );
      });
      child.kill('SIGKILL');
      await exited;
      expect(leased).toBeGreaterThan(0); // the shard it died on had due sessions
      const client = await sb.adapter.getClient();
      expect((await client.keys(`${namespace}::*:lease`)).length).toBeGreaterThanOrEqual(1);
      // B at once: every shard but those the dead instance holds.
      await b.sweeper.sweep();
      expect(expiredCounts([b]).size).toBeLessThanOrEqual(started.length - leased);
      // Once the lease (1 s) has run out, B takes those shards over.
      await sleep(1_100);
      await b.sweeper.sweep();
      expectExactlyOnce(
        [b],
        started.map((s) => s.id),
      );
      expect(await client.keys(`${namespace}::*`)).toEqual([]);
    } finally {
      await b.close();
      await sb.close();
    }
  }, 120_000);

  it('a member of a queue that is not a session id is dropped by the next pass, which expires the others', async () => {
    const { namespace, made, clock, one } = await onOwnNamespace('sweeper-junk');
    const client = await made.adapter.getClient();
    try {
      const started = await startMany([one], 20);
      // Read as a session id, `:expiry:3` would name the sorted set that holds it (bucket 0, part 3).
      const queue = `${namespace}::yosai:sess:{00}:expiry:3`;
      await client.zAdd(queue, { score: 0, value: ':expiry:3' });
      clock.advance(IDLE_MS + 1);
      expect(await one.sweeper.sweep()).toBe(20);
      expectExactlyOnce(
        [one],
        started.map((s) => s.id),
      );
      expect(await client.zScore(queue, ':expiry:3')).toBeNull();
    } finally {
      await one.close();
      const keys = await client.keys(`${namespace}::*`);
      if (keys.length) await client.del(keys);
      await made.close();
    }
  });

  it("a bucket's queue is 16 sorted sets, each compact (listpack) at 600 sessions; due takes the earliest of all 16, at most the limit", async () => {
    if (!available) throw new Error('no Redis');
    const namespace = `sweeper-parts-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const made = redisSessionStore(namespace);
    try {
      const queue = made.store.expiryQueue!;
      // 600 sessions of one bucket (one slot), scored 1,000…1,599 in a shuffled order.
      const ids = Array.from({ length: 600 }, () => sessionIdOf(generateToken(7)));
      const deadline = new Map(ids.map((id, i) => [id, 1_000 + ((i * 7919) % 600)]));
      for (const id of ids) {
        await made.store.fieldRecords!.create(id, { l: '1' }, 3_600_000, {
          guest: true,
          expiresAt: deadline.get(id)!,
        });
      }
      const client = await made.adapter.getClient();
      const parts = await client.keys(`${namespace}::*:expiry:*`);
      expect(parts).toHaveLength(EXPIRY_SUBQUEUES);
      for (const part of parts) {
        // Redis's default zset-max-listpack-entries is 128: one set of 600 would be a skip list.
        expect(await client.objectEncoding(part)).toBe('listpack');
        expect(await client.zCard(part)).toBeLessThanOrEqual(128);
      }
      const byDeadline = [...ids].sort((a, b) => deadline.get(a)! - deadline.get(b)!);
      expect(await queue.due(7, 1_299, 100)).toEqual(byDeadline.slice(0, 100));
      expect(await queue.due(7, 1_049, 100)).toEqual(byDeadline.slice(0, 50));
      expect(await queue.due(7, 999, 100)).toEqual([]);
      expect(await queue.due(8, 2_000, 100)).toEqual([]);
      await client.del(await client.keys(`${namespace}::*`));
    } finally {
      await made.close();
    }
  });
  behaviour('Redis, two connections', async () => {
    if (!available) throw new Error('no Redis');
    const namespace = `sweeper-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const a = redisSessionStore(namespace);
    const b = redisSessionStore(namespace);
    return {
      stores: [a.store, b.store],
      end: async () => {
        const client = await a.adapter.getClient();
        const keys = await client.keys(`${namespace}::*`);
        // Nothing of the sessions is left: no record, no queue entry, no lease.
        expect(keys.filter((key) => !key.includes(':lease'))).toEqual([]);
        if (keys.length) await client.del(keys);
        await a.close();
        await b.close();
      },
    };
  });
});

describe('expiry sweeper on its own redis-server: keys and memory back to the baseline', () => {
  const runnable = redisServerAvailable('expiry sweeper (own redis-server)');
  let redis: OwnRedis;
  beforeAll(async () => {
    if (!runnable) return;
    redis = new OwnRedis((await freePorts(1))[0]);
    await redis.start();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('10,000 sessions expired by the sweeper leave no key, and used_memory back near its start', async () => {
    const made = redisSessionStore('base', redis.url);
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const one = await instance(made.store, clock);
    try {
      await made.store.ready();
      const memory = () => Number(/used_memory:(\d+)/.exec(redis.cli('INFO', 'memory'))![1]);
      // Scripts load on first use: load them before the baseline.
      const warm = await one.manager.startSession();
      clock.advance(IDLE_MS + 1);
      await one.sweeper.sweep();
      expect(redis.cli('DBSIZE').trim()).toBe('0');
      const before = memory();
      const started = await startMany([one], 10_000);
      const peak = memory();
      // A record each, and the sub-queues of every bucket the sessions fell in (at most 256 × 16).
      const subqueues = new Set(started.map((s) => `${sessionBucketOf(s.id)}:${expirySubqueueOf(s.id)}`))
        .size;
      expect(subqueues).toBeGreaterThan(3_500);
      expect(Number(redis.cli('DBSIZE').trim())).toBe(10_000 + subqueues);
      clock.advance(IDLE_MS + 1);
      await one.sweeper.sweep();
      expectExactlyOnce([one], [warm.session.id, ...started.map((s) => s.id)]);
      expect(redis.cli('DBSIZE').trim()).toBe('0');
      const after = memory();
      expect(peak - before).toBeGreaterThan(1_000_000);
      expect(after - before).toBeLessThan((peak - before) / 20);
    } finally {
      await one.close();
      await made.close();
    }
  }, 120_000);
});

describe('expiry sweeper on a Redis Cluster', () => {
  const runnable = redisServerAvailable('expiry sweeper (cluster)');
  const cluster = new OwnRedisCluster(3);
  beforeAll(async () => {
    if (runnable) await cluster.start();
  }, 60_000);
  afterAll(async () => {
    await cluster.stop();
  });

  it('two instances expire 3,000 sessions spread over the three masters, each exactly once; no key is left', async () => {
    const sa = clusterSessionStore(cluster, 'sweep');
    const sb = clusterSessionStore(cluster, 'sweep');
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const a = await instance(sa.store, clock);
    const b = await instance(sb.store, clock);
    try {
      const started = await startMany([a, b], 3_000);
      const keys = await Promise.all(cluster.ports.map((port) => cluster.cli(port, 'DBSIZE')));
      for (const count of keys) expect(Number(count.trim())).toBeGreaterThan(500); // every master holds a share
      clock.advance(IDLE_MS + 1);
      for (let pass = 0; pass < 2 && expiredCounts([a, b]).size < started.length; pass++) {
        await Promise.all([a.sweeper.sweep(), b.sweeper.sweep()]);
      }
      expectExactlyOnce(
        [a, b],
        started.map((s) => s.id),
      );
      for (const port of cluster.ports) expect((await cluster.cli(port, 'DBSIZE')).trim()).toBe('0');
    } finally {
      await a.close();
      await b.close();
      await sa.close();
      await sb.close();
    }
  }, 120_000);
});

describe('expiry sweeper: timer, options, shutdown', () => {
  it('runs every expirySweepIntervalMs by itself, and stops at shutdown', async () => {
    const store = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const one = await instance(store, clock, { expirySweepIntervalMs: 100 });
    await one.manager.startSession();
    clock.advance(IDLE_MS + 1);
    for (let i = 0; i < 100 && one.events.named(YOSAI_SESSION_EXPIRED).length === 0; i++) await sleep(20);
    expect(one.events.named(YOSAI_SESSION_EXPIRED)).toHaveLength(1);
    // Closing stops the timer (a timer left behind would keep Jest from exiting: CI bounds the run).
    await one.close();
    await store.close();
  });

  it('is on by default for a store with an expiry queue, off for one without', async () => {
    const clock = new ManualClock();
    const memory = await instance(CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 }), clock, {
      expirySweepIntervalMs: undefined,
    });
    expect(memory.sweeper.enabled).toBe(true);
    await memory.close();
    const plain = {
      get: async () => undefined,
      set: async () => undefined,
      compareAndSet: async () => false,
      delete: async () => false,
    } as unknown as SessionStore;
    const other = await instance(plain, clock, { expirySweepIntervalMs: undefined });
    expect(other.sweeper.enabled).toBe(false);
    expect(await other.sweeper.sweep()).toBe(0);
    await other.close();
  });

  it('never reopens a Redis client its owner closed (a request would): the pass fails and waits for the next', async () => {
    const made = redisSessionStore(`sweep-closed-${process.pid}`);
    const one = await instance(made.store, new ManualClock());
    try {
      await made.close();
      expect(made.adapter.client.isOpen).toBe(false);
      await expect(one.sweeper.sweep()).rejects.toThrow(/client was closed/);
      expect(made.adapter.client.isOpen).toBe(false);
    } finally {
      await one.close();
    }
  });

  it('refuses at bootstrap to sweep a store that has no expiry queue, naming the option', async () => {
    const made = redisSessionStore('sweep-refused', undefined, { fieldRecords: false });
    try {
      const attempt = instance(made.store, new ManualClock(), { expirySweepIntervalMs: 1_000 });
      await expect(attempt).rejects.toThrow(YosaiConfigurationError);
      await expect(instance(made.store, new ManualClock(), { expirySweepIntervalMs: 1_000 })).rejects.toThrow(
        /expirySweepIntervalMs.*expiry queue/s,
      );
      const off = await instance(made.store, new ManualClock(), { expirySweepIntervalMs: 0 });
      expect(off.sweeper.enabled).toBe(false);
      await off.close();
    } finally {
      await made.close();
    }
  });
});
