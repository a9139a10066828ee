import { randomBytes } from 'node:crypto';
import { tokenOf } from '../src/session/session.js';
import { bucketTag, sessionBucketOf } from '../src/store/session-tag.js';
import { contractId, sessionStoreContract } from '../src/testing/index.js';
import { createManagerHarness } from './support/manager-module.js';
import { clusterSessionStore, OwnRedisCluster } from './support/redis-cluster.js';
import { redisServerAvailable } from './support/redis.js';

/**
 * The store over a Redis Cluster (`@keyv/redis` with node-redis `createCluster`): the same contract as every
 * other store, on a local three-master cluster started for this file.
 */
const RUN = `yosai-e2e-cluster-${process.pid}-${randomBytes(3).toString('hex')}`;
const hasServer = redisServerAvailable('Redis Cluster store');
const cluster = new OwnRedisCluster(3);

if (hasServer) {
  beforeAll(() => cluster.start());
  afterAll(() => cluster.stop());

  sessionStoreContract('Redis Cluster (@keyv/redis, createCluster), Keyv namespace per namespace', {
    fieldRecords: true,
    create: async (ns) => {
      const made = clusterSessionStore(cluster, `${RUN}-${ns}`);
      expect(made.store.kind).toBe('redis');
      return made;
    },
  });

  sessionStoreContract('Redis Cluster, offline queue disabled, prefix per namespace', {
    fieldRecords: true,
    create: async (ns) => {
      const made = clusterSessionStore(cluster, RUN, { prefix: `yosai:${ns}:`, disableOfflineQueue: true });
      return made;
    },
  });

  describe('Redis Cluster specifics', () => {
    it('records land on every master; each is readable, swappable and deletable through the store', async () => {
      const made = clusterSessionStore(cluster, `${RUN}-spread`);
      try {
        const ids = Array.from({ length: 30 }, () => contractId());
        await Promise.all(ids.map((id, i) => made.store.set(id, `v${i}`, 60_000)));
        const keys = await Promise.all(
          cluster.ports.map(async (port) =>
            (await cluster.cli(port, '--scan', '--pattern', `${RUN}-spread::*`)).split('\n').filter(Boolean),
          ),
        );
        expect(keys.map((k) => k.length > 0)).toEqual([true, true, true]);
        expect(keys.flat().sort()).toEqual(ids.map((id) => `${RUN}-spread::yosai:sess:${id}`).sort());

        await expect(Promise.all(ids.map(async (id) => made.store.readNow!(id)))).resolves.toEqual(
          ids.map((_, i) => `v${i}`),
        );
        await expect(
          Promise.all(ids.map((id, i) => made.store.compareAndSet(id, `v${i}`, `w${i}`, 60_000))),
        ).resolves.toEqual(ids.map(() => true));
        await expect(Promise.all(ids.map((id) => made.store.get(id)))).resolves.toEqual(
          ids.map((_, i) => `w${i}`),
        );
        await expect(Promise.all(ids.map((id) => made.store.delete(id)))).resolves.toEqual(
          ids.map(() => true),
        );
      } finally {
        await made.close();
      }
    });

    it('field model: a principal’s sessions share one slot; writes and scripts survive SCRIPT FLUSH on every node', async () => {
      const made = clusterSessionStore(cluster, `${RUN}-fields`);
      const h = await createManagerHarness({ store: made.store });
      try {
        const sessions = await Promise.all(
          Array.from({ length: 6 }, () => h.manager.start({ identifiers: ['walter'], authenticated: true })),
        );
        const key = (id: string) => `${RUN}-fields::yosai:sess:{${bucketTag(sessionBucketOf(id))}}${id}`;
        const slots = await Promise.all(
          sessions.map(async (s) =>
            (await cluster.cli(cluster.ports[0], 'cluster', 'keyslot', key(s.id))).trim(),
          ),
        );
        expect(new Set(slots).size).toBe(1);
        // Guests spread over the masters.
        const guests = await Promise.all(Array.from({ length: 30 }, () => h.manager.start()));
        const owners = await Promise.all(
          cluster.ports.map(async (port) =>
            (await cluster.cli(port, '--scan', '--pattern', `${RUN}-fields::*`)).split('\n').filter(Boolean),
          ),
        );
        expect(owners.map((keys) => keys.length > 0)).toEqual([true, true, true]);
        for (const port of cluster.ports) await cluster.cli(port, 'script', 'flush');
        await Promise.all([...sessions, ...guests].map((s, i) => s.setAttribute('n', i)));
        for (const [i, s] of [...sessions, ...guests].entries()) {
          const back = await h.manager.resolve(tokenOf(s));
          if (back.status !== 'valid') throw new Error('not valid');
          expect(await back.session.getAttribute('n')).toBe(i);
        }
        await Promise.all(sessions.map((s) => s.stop()));
        for (const s of sessions)
          await expect(h.manager.resolve(tokenOf(s))).resolves.toEqual({ status: 'unknown' });
      } finally {
        await h.close();
        await made.close();
      }
    });

    it('ready() loads the slot map; a second call resolves at once', async () => {
      const made = clusterSessionStore(cluster, `${RUN}-ready`);
      try {
        expect(made.client.isOpen).toBe(false);
        await made.store.ready();
        expect(made.client.isOpen).toBe(true);
        expect(made.client.masters).toHaveLength(3);
        await made.store.ready();
      } finally {
        await made.close();
      }
    });
  });
} else {
  it.skip('Redis Cluster store (redis-server is not installed)', () => undefined);
}
