// Durable revocation (`waitForReplicas`): a delete that ends a session waits for Redis replicas. On a test-owned
// redis-server with no replica the WAIT cannot be met and the revocation fails closed; with a replica started by
// the test (`--replicaof`) it is met, and the replica has lost the key by the time the logout answers.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { bucketTag, sessionBucketOf } from '../src/store/session-tag.js';
import {
  CacheManagerSessionStore,
  ReplicationTimeoutError,
  SessionRegistry,
  SessionStoreError,
  YosaiConfigurationError,
} from '../src/index.js';
import { tokenOf } from '../src/session/session.js';
import { createManagerHarness, type ManagerHarness } from './support/manager-module.js';
import { freePorts } from './support/redis-cluster.js';
import { OwnRedis, portOpen, redisServerAvailable, redisSessionStore } from './support/redis.js';
import { createTestApp, PLATFORMS, sessionCookie, USERS } from './support/test-app.js';

const hasServer = redisServerAvailable('waitForReplicas');
const maybe = hasServer ? describe : describe.skip;
const NS = `yosai-wait-${process.pid}`;

/** A redis-server replicating `master`, on its own port. */
class OwnReplica {
  private child: ChildProcess | undefined;
  /** Where the replica keeps the copy it receives from its master (not the working directory). */
  private dir: string | undefined;
  constructor(
    readonly port: number,
    private readonly masterPort: number,
  ) {}
  async start(): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'yosai-redis-replica-'));
    this.child = spawn(
      'redis-server',
      [
        ...['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        ...['--dir', this.dir],
        ...['--replicaof', '127.0.0.1', String(this.masterPort)],
      ],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 200; i++) {
      if (
        (await portOpen(`redis://127.0.0.1:${this.port}`, 100)) &&
        this.cli('INFO', 'replication').includes('master_link_status:up')
      ) {
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`the replica on port ${this.port} did not sync with its master`);
  }
  cli(...args: string[]): string {
    try {
      return execFileSync('redis-cli', ['-p', String(this.port), ...args], { encoding: 'utf8' });
    } catch {
      return '';
    }
  }
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await exited;
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}

maybe('waitForReplicas (durable revocation)', () => {
  let master: OwnRedis;
  let replica: OwnReplica;
  let h: ManagerHarness | undefined;
  let closeStore: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const [masterPort, replicaPort] = await freePorts(2);
    master = new OwnRedis(masterPort);
    await master.start();
    replica = new OwnReplica(replicaPort, masterPort);
  });
  afterEach(async () => {
    await h?.close();
    await closeStore?.();
    h = undefined;
    closeStore = undefined;
  });
  afterAll(async () => {
    await replica?.stop();
    await master?.stop();
  });

  async function harness(replicas: number, timeoutMs: number) {
    const store = redisSessionStore(NS, master.url, { waitForReplicas: { replicas, timeoutMs } });
    closeStore = () => store.close();
    h = await createManagerHarness({
      store: store.store,
      yosai: { storeTimeoutMs: 5_000, principalIndex: true },
    });
    return h;
  }

  it('no replica: a SessionRegistry stop is done and reported revoked once, leaves the index, and rejects', async () => {
    const { manager, events, moduleRef } = await harness(1, 100);
    const registry = moduleRef.get(SessionRegistry);
    const issued = await manager.startSession({ identifiers: ['walter'], authenticated: true });
    await expect(registry.stop('walter', issued.session.id)).rejects.toBeInstanceOf(ReplicationTimeoutError);
    expect(events.named('yosai.session.stopped').map((e) => e.reason)).toEqual(['revoked']);
    await expect(manager.resolve(issued.token)).resolves.toEqual({ status: 'unknown' });
    expect(await registry.list('walter')).toEqual([]);
  });

  it('no replica: a logout is done on the master, reported stopped once, and rejects (fail closed)', async () => {
    const { manager, events } = await harness(1, 100);
    const session = await manager.start({ identifiers: ['thedude'], authenticated: true });
    const token = tokenOf(session);

    const error: unknown = await session.stop().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ReplicationTimeoutError);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect(error).toMatchObject({ removed: true, acknowledged: 0, required: 1 });
    expect(session.isStopped).toBe(true);
    expect(events.named('yosai.session.stopped')).toHaveLength(1);
    await expect(manager.resolve(token)).resolves.toEqual({ status: 'unknown' });

    // Other writes do not wait: a new session and its attribute changes succeed without a replica.
    const other = await manager.start();
    await other.setAttribute('a', 1);
    await expect(manager.resolve(tokenOf(other))).resolves.toMatchObject({ status: 'valid' });
  });

  it('no replica: the delete of the old session at login fails the login closed', async () => {
    const { manager } = await harness(1, 100);
    const guest = await manager.start({ attributes: { cart: 1 } });
    const failed: unknown = await manager
      .replaceSession(guest, { identifiers: ['thedude'], authenticated: true })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(failed).toBeInstanceOf(ReplicationTimeoutError);
    await expect(manager.resolve(tokenOf(guest))).resolves.toEqual({ status: 'unknown' });
  });

  it('with a replica: the logout resolves, and the replica no longer has the record', async () => {
    await replica.start();
    const { manager, events } = await harness(1, 2_000);
    const session = await manager.start({ identifiers: ['thedude'], authenticated: true });
    const key = `${NS}::yosai:sess:{${bucketTag(sessionBucketOf(session.id))}}${session.id}`;
    // The start was not waited for (only revocations are): the replica copies it in its own time.
    for (let i = 0; i < 100 && replica.cli('EXISTS', key).trim() !== '1'; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(replica.cli('EXISTS', key).trim()).toBe('1');
    await session.stop();
    // The revocation was: once stop() resolved, the replica has it.
    expect(replica.cli('EXISTS', key).trim()).toBe('0');
    expect(events.named('yosai.session.stopped')).toHaveLength(1);
    // More replicas than exist: not met, fail closed.
    await closeStore?.();
    await h?.close();
    h = undefined;
    const two = await harness(2, 100);
    const s2 = await two.manager.start();
    await expect(s2.stop()).rejects.toMatchObject({ acknowledged: 1, required: 2 });
  });

  for (const platform of PLATFORMS) {
    it(`${platform}: POST /logout answers 503 when too few replicas acknowledge, and the token is dead all the same`, async () => {
      if (!(await portOpen(`redis://127.0.0.1:${replica.port}`, 100))) await replica.start();
      const store = redisSessionStore(NS, master.url, { waitForReplicas: { replicas: 2, timeoutMs: 100 } });
      const app = await createTestApp({ platform, yosai: { store: store.store } });
      try {
        const server = app.app.getHttpServer();
        const login = await request(server)
          .post('/login')
          .send({ username: 'thedude', password: USERS.thedude })
          .expect(200);
        const cookie = `sid=${sessionCookie(login.headers)}`;
        await request(server).post('/logout').set('Cookie', cookie).expect(503);
        await request(server).get('/protected').set('Cookie', cookie).expect(401);
      } finally {
        await app.close();
        await store.close();
      }
    });
  }
});

describe('waitForReplicas and fieldRecords are checked when the store is made', () => {
  it('refuse bad values, and any value on a store that is not Redis', () => {
    for (const bad of [
      { replicas: 0, timeoutMs: 100 },
      { replicas: 1, timeoutMs: 0 },
      { replicas: 1.5, timeoutMs: 100 },
      { replicas: 1, timeoutMs: -1 },
      { replicas: 1 },
      null,
    ]) {
      expect(() => redisSessionStore(NS, 'redis://127.0.0.1:1', { waitForReplicas: bad as never })).toThrow(
        YosaiConfigurationError,
      );
    }
    expect(() =>
      CacheManagerSessionStore.inMemory({ waitForReplicas: { replicas: 1, timeoutMs: 100 } }),
    ).toThrow(/Redis store \(@keyv\/redis\) only/);
    const ok = redisSessionStore(NS, 'redis://127.0.0.1:1', {
      waitForReplicas: { replicas: 1, timeoutMs: 100 },
    });
    expect(ok.store.kind).toBe('redis');
    expect(ok.store.fieldRecords).toBeDefined();
    expect(() => CacheManagerSessionStore.inMemory({ fieldRecords: true })).toThrow(/Redis store/);
    expect(() => redisSessionStore(NS, 'redis://127.0.0.1:1', { fieldRecords: 'yes' as never })).toThrow(
      /must be a boolean/,
    );
    expect(
      redisSessionStore(NS, 'redis://127.0.0.1:1', { fieldRecords: false }).store.fieldRecords,
    ).toBeUndefined();
  });
});
