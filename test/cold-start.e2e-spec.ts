import { randomBytes } from 'node:crypto';
import KeyvRedis from '@keyv/redis';
import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import request from 'supertest';
import { CacheManagerSessionStore, SessionStoreError } from '../src/index.js';
import { forgedToken } from './support/cookies.js';
import { clusterSessionStore, freePorts, OwnRedisCluster } from './support/redis-cluster.js';
import { REDIS_URL, redisAvailable, redisServerAvailable } from './support/redis.js';
import { OwnRedisSentinel, sentinelSessionStore } from './support/redis-sentinel.js';
import { createTestApp, sessionCookie, type TestApp } from './support/test-app.js';

/**
 * Cold start: a fresh instance's first requests arrive while its Redis client is still connecting (or, on a
 * cluster, still loading the slot map). With `disableOfflineQueue: true`, as the README advises, the client
 * refuses commands until then; the store makes them wait for the connection instead, without anyone having
 * awaited `ready()`.
 */
const RUN = `yosai-e2e-cold-${process.pid}-${randomBytes(3).toString('hex')}`;
const SESSIONS = 50;
const REQUESTS = 1_000;
const CONCURRENCY = 50;
const STORE_TIMEOUT_MS = 300;
/** Generous: the point is "fails instead of hanging" (Jest's own timeout is 30 s), not speed. */
const BOUND_MS = 5_000;

type Server = Parameters<typeof request>[0];

interface MadeStore {
  store: CacheManagerSessionStore;
  close(): Promise<void>;
}

/** Sessions with attribute `k` = their index, made through a warm app; returns their tokens. */
async function preCreateSessions(made: MadeStore): Promise<string[]> {
  const warm = await createTestApp({ platform: 'express', yosai: { store: made.store } });
  try {
    const server = warm.app.getHttpServer() as Server;
    const tokens: string[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      const res = await request(server).put('/attr/k').send({ value: i }).expect(200);
      tokens.push(sessionCookie(res.headers)!);
    }
    return tokens;
  } finally {
    await warm.close();
    await made.close();
  }
}

interface Outcome {
  ok: number;
  /** How many requests failed, by what they got. */
  failures: Record<string, number>;
}

/**
 * Boots a fresh app on `fresh` (a store whose client has never connected) and, as soon as it listens, sends
 * REQUESTS requests (CONCURRENCY at a time) that each read a pre-created session's attribute.
 */
async function burstAfterBoot(fresh: MadeStore, tokens: string[]): Promise<Outcome> {
  const t: TestApp = await createTestApp({ platform: 'express', yosai: { store: fresh.store } });
  try {
    await t.app.listen(0, '127.0.0.1');
    const base = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    const outcome: Outcome = { ok: 0, failures: {} };
    const fail = (what: string) => (outcome.failures[what] = (outcome.failures[what] ?? 0) + 1);
    let next = 0;
    const worker = async () => {
      while (next < REQUESTS) {
        const i = next++;
        const token = tokens[i % tokens.length];
        try {
          const res = await fetch(`${base}/attr/k`, { headers: { cookie: `sid=${token}` } });
          const body = (await res.json()) as { value?: unknown };
          if (res.status === 200 && body.value === i % tokens.length) outcome.ok++;
          else fail(`${res.status} ${JSON.stringify(body)}`);
        } catch (error) {
          fail(String(error));
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return outcome;
  } finally {
    await t.close();
    await fresh.close();
  }
}

/** A store over a fresh `@keyv/redis` client for `url` that refuses commands while offline. */
function standaloneStore(url: string, namespace: string, readyTimeoutMs?: number) {
  const adapter = new KeyvRedis({ url, disableOfflineQueue: true });
  const keyv = new Keyv({ store: adapter, namespace, useKeyPrefix: false });
  const store = new CacheManagerSessionStore(createCache({ stores: [keyv] }), { readyTimeoutMs });
  const client = adapter.client as { isOpen: boolean; isReady: boolean };
  return { store, adapter, client, close: () => adapter.disconnect(true).catch(() => undefined) };
}

/** A cookie request to a fresh app on `made`: its status, body and how long it took. */
async function firstRequest(made: MadeStore) {
  const t = await createTestApp({
    platform: 'express',
    yosai: { store: made.store, storeTimeoutMs: STORE_TIMEOUT_MS },
  });
  try {
    const started = performance.now();
    const res = await request(t.app.getHttpServer() as Server)
      .get('/whoami')
      .set('Cookie', `sid=${forgedToken()}`);
    return { status: res.status, body: res.body as Record<string, unknown>, ms: performance.now() - started };
  } finally {
    await t.close();
  }
}

/** What a failed ready() looks like: a SessionStoreError, within the bound. */
async function readyFailure(store: CacheManagerSessionStore) {
  const started = performance.now();
  const error = await store.ready().then(
    () => new Error('expected ready() to reject'),
    (e: unknown) => e,
  );
  return { error: error as Error, ms: performance.now() - started };
}

const hasRedis = await redisAvailable('cold start (standalone Redis)');

describe('Cold start on a standalone Redis', () => {
  (hasRedis ? it : it.skip)(
    `${REQUESTS} requests right after boot, ${CONCURRENCY} at a time: none fails`,
    async () => {
      const namespace = `${RUN}-standalone`;
      const tokens = await preCreateSessions(standaloneStore(REDIS_URL, namespace));
      const fresh = standaloneStore(REDIS_URL, namespace);
      expect(fresh.client.isOpen).toBe(false);
      const outcome = await burstAfterBoot(fresh, tokens);
      expect(outcome.failures).toEqual({});
      expect(outcome.ok).toBe(REQUESTS);
    },
  );

  (hasRedis ? it : it.skip)(
    'store level: each operation, sent concurrently on a fresh client, succeeds without ready()',
    async () => {
      const namespace = `${RUN}-store-level`;
      const ids = Array.from({ length: CONCURRENCY }, () => forgedToken());
      /** Runs `op` for every id on a store whose client has never connected. */
      const onFreshClient = async <T>(op: (store: CacheManagerSessionStore, id: string, i: number) => T) => {
        const made = standaloneStore(REDIS_URL, namespace);
        try {
          expect(made.client.isOpen).toBe(false);
          return await Promise.all(ids.map((id, i) => op(made.store, id, i)));
        } finally {
          await made.close();
        }
      };
      await onFreshClient((store, id, i) => store.set(id, `v${i}`, 60_000));
      const reads = await onFreshClient((store, id) => {
        const answer = store.readNow!(id);
        expect(answer).toBeInstanceOf(Promise);
        return answer;
      });
      expect(reads).toEqual(ids.map((_, i) => `v${i}`));
      const swapped = await onFreshClient((store, id, i) =>
        store.compareAndSet(id, `v${i}`, `w${i}`, 60_000),
      );
      expect(swapped).toEqual(ids.map(() => true));
      await expect(onFreshClient((store, id) => store.get(id))).resolves.toEqual(ids.map((_, i) => `w${i}`));
      const deleted = await onFreshClient((store, id) => store.delete(id));
      expect(deleted).toEqual(ids.map(() => true));
    },
  );

  (hasRedis ? it : it.skip)(
    'ready() connects the client and resolves once it is ready; again at once',
    async () => {
      const made = standaloneStore(REDIS_URL, `${RUN}-ready`);
      try {
        expect(made.client.isReady).toBe(false);
        await made.store.ready();
        expect(made.client.isReady).toBe(true);
        await made.store.ready();
      } finally {
        await made.close();
      }
    },
  );

  it('a Redis that never comes up: requests get 503 within storeTimeoutMs, ready() rejects in time', async () => {
    const [port] = await freePorts(1);
    const url = `redis://127.0.0.1:${port}`;
    const made = standaloneStore(url, `${RUN}-never`, 2_000);
    try {
      const { error, ms } = await readyFailure(made.store);
      expect(error).toBeInstanceOf(SessionStoreError);
      expect(error.message).toMatch(/Redis was not ready within 2000 ms \(readyTimeoutMs\)/);
      expect(error.message).toContain('ECONNREFUSED');
      expect(ms).toBeGreaterThanOrEqual(1_900);
      expect(ms).toBeLessThan(BOUND_MS);

      // The request waits for the connection like any other, and storeTimeoutMs ends the wait for it.
      const first = await firstRequest(made);
      expect(first.status).toBe(503);
      expect(first.body).toMatchObject({ statusCode: 503, message: 'Session store unavailable' });
      expect(first.ms).toBeGreaterThanOrEqual(STORE_TIMEOUT_MS * 0.9);
      expect(first.ms).toBeLessThan(2_000);
    } finally {
      await made.close();
    }
  });
});

(redisServerAvailable('cold start (cluster)') ? describe : describe.skip)(
  'Cold start on a Redis Cluster',
  () => {
    const cluster = new OwnRedisCluster(3);
    beforeAll(() => cluster.start());
    afterAll(() => cluster.stop());

    it(`${REQUESTS} requests right after boot, ${CONCURRENCY} at a time: none fails`, async () => {
      const namespace = `${RUN}-cluster`;
      const tokens = await preCreateSessions(clusterSessionStore(cluster, namespace));
      const fresh = clusterSessionStore(cluster, namespace, { disableOfflineQueue: true });
      expect(fresh.client.isOpen).toBe(false);
      const outcome = await burstAfterBoot(fresh, tokens);
      expect(outcome.failures).toEqual({});
      expect(outcome.ok).toBe(REQUESTS);
      // The sessions sit on more than one master, so the requests went to more than one node.
      const keys = await Promise.all(cluster.ports.map((port) => cluster.cli(port, 'dbsize')));
      expect(keys.map(Number).filter((n) => n > 0).length).toBeGreaterThan(1);
    });

    it('a cluster that never comes up: requests get 503 within storeTimeoutMs, ready() rejects', async () => {
      const ports = await freePorts(3);
      const made = clusterSessionStore(
        { rootNodes: ports.map((port) => ({ url: `redis://127.0.0.1:${port}` })) },
        `${RUN}-cluster-never`,
        { disableOfflineQueue: true, readyTimeoutMs: 1_000 },
      );
      try {
        const first = await firstRequest(made);
        expect(first.status).toBe(503);
        expect(first.body).toMatchObject({ statusCode: 503, message: 'Session store unavailable' });
        expect(first.ms).toBeLessThan(BOUND_MS);

        const { error, ms } = await readyFailure(made.store);
        expect(error).toBeInstanceOf(SessionStoreError);
        expect(error.message).toMatch(/could not connect to Redis/);
        expect(ms).toBeLessThan(BOUND_MS);
      } finally {
        await made.close();
      }
    });
  },
);

(redisServerAvailable('cold start (sentinel)') ? describe : describe.skip)(
  'Cold start on Redis Sentinel',
  () => {
    const sentinel = new OwnRedisSentinel();
    beforeAll(() => sentinel.start());
    afterAll(() => sentinel.stop());

    it(`${REQUESTS} requests right after boot, ${CONCURRENCY} at a time: none fails`, async () => {
      const namespace = `${RUN}-sentinel`;
      const tokens = await preCreateSessions(sentinelSessionStore(sentinel, namespace));
      const fresh = sentinelSessionStore(sentinel, namespace, { disableOfflineQueue: true });
      expect(fresh.client.isOpen).toBe(false);
      const outcome = await burstAfterBoot(fresh, tokens);
      expect(outcome.failures).toEqual({});
      expect(outcome.ok).toBe(REQUESTS);
    });

    it('a sentinel that never answers: requests get 503 within storeTimeoutMs, ready() rejects', async () => {
      const [port] = await freePorts(1);
      const made = sentinelSessionStore(
        { sentinelRootNodes: [{ host: '127.0.0.1', port }] },
        `${RUN}-sentinel-never`,
        {
          disableOfflineQueue: true,
          readyTimeoutMs: 1_000,
        },
      );
      try {
        const first = await firstRequest(made);
        expect(first.status).toBe(503);
        expect(first.body).toMatchObject({ statusCode: 503, message: 'Session store unavailable' });
        expect(first.ms).toBeLessThan(BOUND_MS);

        const { error, ms } = await readyFailure(made.store);
        expect(error).toBeInstanceOf(SessionStoreError);
        expect(ms).toBeLessThan(BOUND_MS);
      } finally {
        await made.close();
      }
    });
  },
);
