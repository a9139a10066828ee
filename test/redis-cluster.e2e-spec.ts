import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ReplicationTimeoutError, SessionRegistry } from '../src/index.js';
import { tokenOf } from '../src/session/session.js';
import { bucketTag, sessionBucketOf } from '../src/store/session-tag.js';
import { contractId, sessionStoreContract } from '../src/testing/index.js';
import { createManagerHarness } from './support/manager-module.js';
import { clusterSessionStore, OwnRedisCluster } from './support/redis-cluster.js';
import { redisServerAvailable } from './support/redis.js';
import { sampleSignsIn } from './support/sample-app.js';
import { twoInstancesShareSessions } from './support/shared-sessions.js';
import { createTestApp, USERS } from './support/test-app.js';

/**
 * The store over a Redis Cluster (`@keyv/redis` with node-redis `createCluster`): the same contract as every
 * other store, on a local three-master cluster started for this file.
 */
const RUN = `yosai-e2e-cluster-${process.pid}-${randomBytes(3).toString('hex')}`;
const hasServer = redisServerAvailable('Redis Cluster store');
const cluster = new OwnRedisCluster(3);

const runCli = (...args: string[]) => promisify(execFile)('redis-cli', args, { encoding: 'utf8' });
const RESHARD_SLOTS = 2_000;
const SESSIONS = 200;
const WORKERS = 16;

/** How many slots the node with `id` serves (from CLUSTER NODES). */
async function slotCount(id: string): Promise<number> {
  const nodes = await cluster.cli(cluster.ports[0], 'cluster', 'nodes');
  const line = nodes.split('\n').find((l) => l.startsWith(id))!;
  return line
    .split(' ')
    .slice(8)
    .filter((range) => /^\d/.test(range))
    .reduce((sum, range) => {
      const [from, to = from] = range.split('-').map(Number);
      return sum + to - from + 1;
    }, 0);
}

/** The namespace's keys on each master, in port order. */
function namespaceKeys(namespace: string): Promise<string[][]> {
  return Promise.all(
    cluster.ports.map(async (port) =>
      (await cluster.cli(port, '--scan', '--pattern', `${namespace}::*`)).split('\n').filter(Boolean),
    ),
  );
}

/**
 * Sessions driven over real HTTP by WORKERS workers, alternating between the instances: each worker owns its
 * sessions, so it knows each one's last acknowledged value; now and then a session is logged in (a new token).
 */
class Load {
  readonly tokens: string[] = [];
  readonly values: number[] = [];
  readonly failures: Record<string, number> = {};
  operations = 0;
  private stopped = false;
  constructor(private readonly bases: string[]) {}

  private async call(base: string, method: string, path: string, token?: string, body?: unknown) {
    const res = await fetch(base + path, {
      method,
      headers: { 'content-type': 'application/json', ...(token && { cookie: `sid=${token}` }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const cookie = /sid=([^;]*)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
    return { status: res.status, text, cookie };
  }

  private fail(what: string) {
    this.failures[what] = (this.failures[what] ?? 0) + 1;
  }

  async seed(count: number) {
    for (let i = 0; i < count; i++) {
      const res = await this.call(this.bases[i % 2], 'PUT', '/attr/n', undefined, { value: 0 });
      expect(res.status).toBe(200);
      this.tokens.push(res.cookie!);
      this.values.push(0);
    }
  }

  stop() {
    this.stopped = true;
  }

  /** Runs the workers until stop(). */
  async run() {
    const worker = async (w: number) => {
      for (let round = 0; !this.stopped; round++) {
        for (let i = w; i < this.tokens.length && !this.stopped; i += WORKERS) {
          const [writer, reader] = (i + round) % 2 === 0 ? this.bases : [this.bases[1], this.bases[0]];
          try {
            if ((i + round) % 25 === 0) {
              const username = i % 2 === 0 ? 'thedude' : 'walter';
              const login = await this.call(writer, 'POST', '/login', this.tokens[i], {
                username,
                password: USERS[username],
              });
              if (login.status !== 200 || !login.cookie) this.fail(`login ${login.status} ${login.text}`);
              else this.tokens[i] = login.cookie;
            }
            const value = this.values[i] + 1;
            const put = await this.call(writer, 'PUT', '/attr/n', this.tokens[i], { value });
            if (put.status !== 200) this.fail(`put ${put.status} ${put.text}`);
            else this.values[i] = value;
            const get = await this.call(reader, 'GET', '/attr/n', this.tokens[i]);
            if (get.status !== 200 || JSON.parse(get.text).value !== this.values[i])
              this.fail(`get ${get.status} ${get.text}`);
            this.operations += 2;
          } catch (error) {
            this.fail(String(error));
          }
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  }

  /** Every session's last acknowledged value, read through both instances. */
  async verify() {
    for (const [i, token] of this.tokens.entries()) {
      for (const base of this.bases) {
        const res = await this.call(base, 'GET', '/attr/n', token);
        expect({ i, status: res.status, body: res.text }).toEqual({
          i,
          status: 200,
          body: JSON.stringify({ value: this.values[i] }),
        });
      }
    }
  }
}

if (hasServer) {
  beforeAll(() => cluster.start());
  afterAll(() => cluster.stop());

  sessionStoreContract('Redis Cluster (@keyv/redis, createCluster), Keyv namespace per namespace', {
    fieldRecords: true,
    expiryQueue: true,
    create: async (ns) => {
      const made = clusterSessionStore(cluster, `${RUN}-${ns}`);
      expect(made.store.kind).toBe('redis');
      return made;
    },
  });

  sessionStoreContract('Redis Cluster, offline queue disabled, prefix per namespace', {
    fieldRecords: true,
    expiryQueue: true,
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

    it('two app instances (Express and Fastify, a cluster client each) share sessions', async () => {
      const a = clusterSessionStore(cluster, `${RUN}-two`);
      const b = clusterSessionStore(cluster, `${RUN}-two`);
      try {
        await twoInstancesShareSessions(a.store, b.store);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('the sample app boots on REDIS_CLUSTER_NODES and serves a login', async () => {
      const nodes = cluster.ports.map((port) => `127.0.0.1:${port}`).join(',');
      const output = await sampleSignsIn({ REDIS_CLUSTER_NODES: nodes });
      expect(output).toContain(
        `Sessions in Redis Cluster (nodes ${nodes.replaceAll(',', ', ')}) (namespace yosai-sample)`,
      );
    }, 90_000);

    it('waitForReplicas on a cluster without replicas: each revocation deletes, then fails closed', async () => {
      // This cluster has no replicas, so WAIT answers 0 wherever it goes: this checks that the cluster client sends and
      // answers it (a malformed WAIT fails with another error, as it did on Sentinel) and that the delete is done.
      const made = clusterSessionStore(cluster, `${RUN}-wait`, {
        waitForReplicas: { replicas: 1, timeoutMs: 50 },
      });
      try {
        const ids = Array.from({ length: 6 }, () => contractId());
        await Promise.all(ids.map((id) => made.store.set(id, 'v', 60_000)));
        for (const id of ids) {
          const error: unknown = await made.store.delete(id, { revocation: true }).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(ReplicationTimeoutError);
          expect(error).toMatchObject({ removed: true, acknowledged: 0, required: 1 });
          await expect(made.store.get(id)).resolves.toBeUndefined();
        }
        // A delete that ends no session does not wait.
        await made.store.set(ids[0], 'v', 60_000);
        await expect(made.store.delete(ids[0])).resolves.toBe(true);
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

    it('principal index (#14): two instances, users on every master, the cap exact, stopAll leaves no key behind', async () => {
      const namespace = `${RUN}-registry`;
      const stores = [clusterSessionStore(cluster, namespace), clusterSessionStore(cluster, namespace)];
      const yosai = { maxSessionsPerPrincipal: 3 };
      const [a, b] = [
        await createManagerHarness({ store: stores[0].store, yosai }),
        await createManagerHarness({ store: stores[1].store, yosai }),
      ];
      try {
        const users = Array.from({ length: 12 }, (_, i) => `bowler-${i}`);
        const logins = () =>
          Promise.all(
            users.flatMap((user) =>
              Array.from({ length: 5 }, (_, i) =>
                (i % 2 ? b : a).manager.startSession({ identifiers: [user], authenticated: true }),
              ),
            ),
          );
        await logins();
        // Every master holds some user's index.
        const held = await namespaceKeys(namespace);
        expect(held.map((keys) => keys.some((k) => k.includes('}p:')))).toEqual([true, true, true]);
        // The new scripts survive SCRIPT FLUSH on every node (EVALSHA, then EVAL on NOSCRIPT).
        for (const port of cluster.ports) await cluster.cli(port, 'script', 'flush');
        await logins();
        const registry = a.moduleRef.get(SessionRegistry);
        for (const user of users) expect(await registry.list(user)).toHaveLength(3);
        const evicted = [
          ...a.events.named('yosai.session.stopped'),
          ...b.events.named('yosai.session.stopped'),
        ];
        expect(evicted).toHaveLength(users.length * (10 - 3));
        expect(new Set(evicted.map((e) => e.sessionId)).size).toBe(evicted.length);
        const stopped = await Promise.all(
          users.map((user) => b.moduleRef.get(SessionRegistry).stopAll(user)),
        );
        expect(stopped).toEqual(users.map(() => 3));
        expect((await namespaceKeys(namespace)).flat()).toEqual([]);
      } finally {
        await a.close();
        await b.close();
        for (const made of stores) await made.close();
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

  describe('Resharding under load', () => {
    it(`moving ${RESHARD_SLOTS} slots while two instances log in, write and read: no lost write, no failed request`, async () => {
      const namespace = `${RUN}-reshard`;
      const stores = [clusterSessionStore(cluster, namespace), clusterSessionStore(cluster, namespace)];
      const apps = await Promise.all(
        stores.map((made, i) =>
          createTestApp({ platform: i === 0 ? 'express' : 'fastify', yosai: { store: made.store } }),
        ),
      );
      try {
        const bases = await Promise.all(
          apps.map(async (t) => {
            await t.app.listen(0, '127.0.0.1');
            return (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
          }),
        );
        const load = new Load(bases);
        await load.seed(SESSIONS);
        const before = await namespaceKeys(namespace);

        const ids = await Promise.all(
          cluster.ports.map(async (port) => (await cluster.cli(port, 'cluster', 'myid')).trim()),
        );
        const slotsBefore = await slotCount(ids[0]);
        const running = load.run();
        // Moves keys that are being read and written: each migrated slot is first importing/migrating, then moved.
        await runCli(
          '--cluster',
          'reshard',
          `127.0.0.1:${cluster.ports[0]}`,
          '--cluster-from',
          ids[0],
          '--cluster-to',
          ids[1],
          '--cluster-slots',
          String(RESHARD_SLOTS),
          '--cluster-yes',
        );
        load.stop();
        await running;

        expect(await slotCount(ids[0])).toBe(slotsBefore - RESHARD_SLOTS);
        const after = await namespaceKeys(namespace);
        const migrated = before[0].filter((key) => after[1].includes(key));
        expect(migrated.length).toBeGreaterThan(0);
        expect(load.failures).toEqual({});
        expect(load.operations).toBeGreaterThan(SESSIONS);
        // Every acknowledged write is there, read through either instance.
        await load.verify();
      } finally {
        await Promise.all(apps.map((t) => t.close()));
        await Promise.all(stores.map((made) => made.close()));
      }
    }, 120_000);
  });
} else {
  it.skip('Redis Cluster store (redis-server is not installed)', () => undefined);
}
