import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import KeyvRedis, { createSentinel } from '@keyv/redis';
import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import { CacheManagerSessionStore, type CacheManagerSessionStoreOptions } from '../../src/index.js';
import { freePorts } from './redis-cluster.js';
import { portOpen } from './redis.js';

const run = promisify(execFile);

/** The name the sentinel monitors the master under. */
export const SENTINEL_MASTER_NAME = 'yosai-test';

/**
 * A TCP relay for the replication link (the replica connects to the master through it), which a test can
 * hold: while held, what the master sends is kept back, so writes the master acknowledges do not reach the
 * replica. `cut()` drops the connections and whatever was kept back, as a dying master would.
 */
class ReplicationLink {
  private server: Server | undefined;
  private readonly pairs = new Set<{ replica: Socket; master: Socket; held: Buffer[] }>();
  private holding = false;
  port = 0;

  async start(port: number, masterPort: number): Promise<void> {
    const server = createServer((replica) => {
      const master = connect(masterPort, '127.0.0.1');
      const pair = { replica, master, held: [] as Buffer[] };
      this.pairs.add(pair);
      const drop = () => {
        this.pairs.delete(pair);
        replica.destroy();
        master.destroy();
      };
      replica.on('data', (chunk) => master.write(chunk));
      master.on('data', (chunk) => (this.holding ? pair.held.push(chunk) : replica.write(chunk)));
      for (const socket of [replica, master]) {
        socket.on('error', drop);
        socket.on('close', drop);
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = port;
  }

  /** Keeps back what the master sends from now on. */
  hold(): void {
    this.holding = true;
  }

  /** Delivers what was kept back and lets the stream flow again. */
  release(): void {
    this.holding = false;
    for (const pair of this.pairs) {
      for (const chunk of pair.held.splice(0)) pair.replica.write(chunk);
    }
  }

  /** Drops every connection and everything kept back; the replica sees its master gone. */
  cut(): void {
    for (const pair of this.pairs) {
      pair.held.length = 0;
      pair.replica.destroy();
      pair.master.destroy();
    }
    this.pairs.clear();
  }

  async stop(): Promise<void> {
    this.cut();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}

/**
 * A throw-away Sentinel set-up on free ports: one master, one replica (replicating through a relay the test can
 * hold, see {@link OwnRedisSentinel.link}) and one sentinel that watches the master with short timeouts (down
 * after `downAfterMs`), all with their files in one temporary directory. `start()` returns once the sentinel
 * knows the master and its replica; `stop()` kills every process and removes the directory.
 */
export class OwnRedisSentinel {
  private readonly processes = new Map<'master' | 'replica' | 'sentinel', ChildProcess>();
  private dir: string | undefined;
  /** The replication link between replica and master. */
  readonly link = new ReplicationLink();
  masterPort = 0;
  replicaPort = 0;
  sentinelPort = 0;

  constructor(readonly downAfterMs = 500) {}

  /** The sentinel as node-redis `sentinelRootNodes`. */
  get sentinelRootNodes(): { host: string; port: number }[] {
    return [{ host: '127.0.0.1', port: this.sentinelPort }];
  }

  async start(): Promise<void> {
    if (this.dir) throw new Error('OwnRedisSentinel is already started');
    const dir = mkdtempSync(join(tmpdir(), 'yosai-redis-sentinel-'));
    this.dir = dir;
    try {
      const ports = await freePorts(4);
      [this.masterPort, this.replicaPort, this.sentinelPort] = ports;
      await this.link.start(ports[3], this.masterPort);
      // Redis waits 5 s by default for more replicas before it starts a diskless full sync; there is only one.
      this.spawnServer('master', this.masterPort, ['--repl-diskless-sync-delay', '0']);
      await this.until('the master accepts connections', () => portOpen(this.url(this.masterPort), 100));
      this.spawnServer('replica', this.replicaPort, ['--replicaof', '127.0.0.1', String(this.link.port)]);
      await this.until('the replica is in sync', async () =>
        (await this.cli(this.replicaPort, 'info', 'replication').catch(() => '')).includes(
          'master_link_status:up',
        ),
      );
      const config = join(dir, 'sentinel.conf');
      // The sentinel rewrites its configuration file, so it gets one of its own. failover-timeout is long because
      // it is also how long the sentinel leaves the replica pointing at the relay rather than the master itself.
      writeFileSync(
        config,
        [
          `port ${this.sentinelPort}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${this.masterPort} 1`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${this.downAfterMs}`,
          `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 600000`,
          '',
        ].join('\n'),
      );
      this.track('sentinel', spawn('redis-server', [config, '--sentinel'], { stdio: 'ignore' }));
      await this.until('the sentinel knows the master and its replica', async () => {
        const replicas = await this.cli(
          this.sentinelPort,
          'sentinel',
          'replicas',
          SENTINEL_MASTER_NAME,
        ).catch(() => '');
        const master = await this.cli(this.sentinelPort, 'sentinel', 'master', SENTINEL_MASTER_NAME).catch(
          () => '',
        );
        return (
          replicas.split('\n').includes(String(this.replicaPort)) &&
          /^slave$/m.test(replicas) &&
          /^master$/m.test(master)
        );
      });
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    const running = [...this.processes.values()].filter(alive);
    this.processes.clear();
    await Promise.all(running.map(kill));
    await this.link.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  /** SIGKILLs the master and cuts the replication link (with anything held back on it). */
  async killMaster(): Promise<void> {
    const master = this.processes.get('master');
    this.processes.delete('master');
    if (master && alive(master)) await kill(master);
    this.link.cut();
  }

  /** Waits until the sentinel names the replica as the master, and the replica says it is one. */
  async waitForPromotion(): Promise<void> {
    await this.until(
      'the sentinel promotes the replica',
      async () => {
        const address = await this.cli(
          this.sentinelPort,
          'sentinel',
          'get-master-addr-by-name',
          SENTINEL_MASTER_NAME,
        );
        const role = await this.cli(this.replicaPort, 'role');
        return address.split('\n')[1] === String(this.replicaPort) && role.startsWith('master');
      },
      600,
    );
  }

  /** Waits until the replica has everything the master has sent (both report the same offset). */
  async waitForReplication(): Promise<void> {
    await this.until('the replica catches up', async () => {
      const offset = (info: string) => /master_repl_offset:(\d+)/.exec(info)?.[1];
      const master = offset(await this.cli(this.masterPort, 'info', 'replication'));
      const replica = offset(await this.cli(this.replicaPort, 'info', 'replication'));
      return master !== undefined && master === replica;
    });
  }

  /** Runs redis-cli against the server on `port`. */
  async cli(port: number, ...args: string[]): Promise<string> {
    const { stdout } = await run('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
    return stdout;
  }

  private url(port: number) {
    return `redis://127.0.0.1:${port}`;
  }

  private spawnServer(role: 'master' | 'replica', port: number, extra: string[]) {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', this.dir!, '--save', ''];
    args.push('--appendonly', 'no', '--dbfilename', `${role}.rdb`, ...extra);
    this.track(role, spawn('redis-server', args, { stdio: 'ignore' }));
  }

  private track(role: 'master' | 'replica' | 'sentinel', child: ChildProcess) {
    this.processes.set(role, child);
  }

  /** Polls `check` until it holds, failing after a bound (`tries` × 50 ms) rather than hanging the suite. */
  private async until(what: string, check: () => Promise<boolean>, tries = 200): Promise<void> {
    for (let i = 0; i < tries; i++) {
      for (const [role, child] of this.processes) {
        if (!alive(child)) throw new Error(`the test ${role} exited (Sentinel set-up, ${what})`);
      }
      if (await check().catch(() => false)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`test Redis Sentinel: timed out waiting until ${what}`);
  }
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  return exited;
}

export interface SentinelStoreOptions extends CacheManagerSessionStoreOptions {
  /** The master's client refuses commands while offline instead of queueing them (what the README advises). */
  disableOfflineQueue?: boolean;
  /** Connections to the master (node-redis' default is 1). */
  masterPoolSize?: number;
}

/**
 * A `CacheManagerSessionStore` over the Sentinel set-up through `@keyv/redis` and node-redis `createSentinel`,
 * under its own Keyv namespace. The sentinel client is not connected: the store connects it.
 */
export function sentinelSessionStore(
  sentinel: { sentinelRootNodes: { host: string; port: number }[] },
  namespace: string,
  options: SentinelStoreOptions = {},
) {
  const { disableOfflineQueue = false, masterPoolSize, ...storeOptions } = options;
  const client = createSentinel({
    name: SENTINEL_MASTER_NAME,
    ...(masterPoolSize !== undefined && { masterPoolSize }),
    sentinelRootNodes: sentinel.sentinelRootNodes,
    nodeClientOptions: { disableOfflineQueue, socket: { connectTimeout: 1000 } },
    sentinelClientOptions: { socket: { connectTimeout: 1000 } },
  });
  const adapter = new KeyvRedis(client);
  const keyv = new Keyv({ store: adapter, namespace, useKeyPrefix: false });
  const store = new CacheManagerSessionStore(createCache({ stores: [keyv] }), storeOptions);
  return {
    store,
    client,
    adapter,
    /** Closes the sentinel client at once (a polite QUIT could wait on a master that is gone). */
    close: async () => {
      if (client.isOpen) await client.destroy();
    },
  };
}
