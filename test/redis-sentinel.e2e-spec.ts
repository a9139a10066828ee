import { randomBytes } from 'node:crypto';
import { sessionStoreContract } from '../src/testing/index.js';
import { redisServerAvailable } from './support/redis.js';
import { OwnRedisSentinel, SENTINEL_MASTER_NAME, sentinelSessionStore } from './support/redis-sentinel.js';
import { sampleSignsIn } from './support/sample-app.js';
import { twoInstancesShareSessions } from './support/shared-sessions.js';

/**
 * The store over Redis Sentinel (`@keyv/redis` with node-redis `createSentinel`): the same contract as every other
 * store, and two app instances sharing sessions, on a local master, replica and sentinel started for this file.
 * Failover is in redis-failover.e2e-spec.ts, cold start in cold-start.e2e-spec.ts.
 */
const RUN = `yosai-e2e-sentinel-${process.pid}-${randomBytes(3).toString('hex')}`;
const hasServer = redisServerAvailable('Redis Sentinel store');
const sentinel = new OwnRedisSentinel();

if (hasServer) {
  beforeAll(() => sentinel.start());
  afterAll(() => sentinel.stop());

  sessionStoreContract('Redis Sentinel (@keyv/redis, createSentinel), Keyv namespace per namespace', {
    fieldRecords: true,
    expiryQueue: true,
    create: async (ns) => {
      const made = sentinelSessionStore(sentinel, `${RUN}-${ns}`);
      expect(made.store.kind).toBe('redis');
      return made;
    },
  });

  sessionStoreContract('Redis Sentinel, offline queue disabled, prefix per namespace', {
    fieldRecords: true,
    expiryQueue: true,
    create: async (ns) =>
      sentinelSessionStore(sentinel, RUN, { prefix: `yosai:${ns}:`, disableOfflineQueue: true }),
  });

  describe('Redis Sentinel specifics', () => {
    it('two app instances (Express and Fastify, a sentinel client each) share sessions', async () => {
      const a = sentinelSessionStore(sentinel, `${RUN}-two`);
      const b = sentinelSessionStore(sentinel, `${RUN}-two`);
      try {
        await twoInstancesShareSessions(a.store, b.store);
        // The sessions went to the master and reached the replica.
        await sentinel.waitForReplication();
        const onReplica = await sentinel.cli(sentinel.replicaPort, '--scan', '--pattern', `${RUN}-two::*`);
        expect(onReplica.split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(30);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('the sample app boots on REDIS_SENTINELS and REDIS_SENTINEL_NAME and serves a login', async () => {
      const sentinels = `127.0.0.1:${sentinel.sentinelPort}`;
      const output = await sampleSignsIn({
        REDIS_SENTINELS: sentinels,
        REDIS_SENTINEL_NAME: SENTINEL_MASTER_NAME,
      });
      expect(output).toContain(
        `Sessions in Redis via Sentinel (master ${SENTINEL_MASTER_NAME}, sentinels ${sentinels}) (namespace yosai-sample)`,
      );
      // The session went to the master the sentinel names.
      await sentinel.waitForReplication();
    }, 90_000);

    it('ready() connects through the sentinel to the master; a second call resolves at once', async () => {
      const made = sentinelSessionStore(sentinel, `${RUN}-ready`);
      try {
        expect(made.client.isOpen).toBe(false);
        await made.store.ready();
        expect(made.client.isReady).toBe(true);
        await made.store.ready();
      } finally {
        await made.close();
      }
    });
  });
} else {
  it.skip('Redis Sentinel store (redis-server is not installed)', () => undefined);
}
