import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import KeyvRedis, { createCluster } from '@keyv/redis';
import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import { CacheManagerSessionStore, type CacheManagerSessionStoreOptions } from '../../src/index.js';
import { portOpen } from './redis.js';

const run = promisify(execFile);

/**
 * `count` TCP ports that nothing listens on now, picked by the OS. The listeners are held until all are
 * picked, so the ports differ from each other.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((server) => (server.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/**
 * A throw-away Redis Cluster of `masters` master nodes (no replicas) on free ports, each with its own cluster
 * bus port and its files in one temporary directory. `start()` returns once every node reports
 * `cluster_state:ok`; `stop()` kills the nodes and removes the directory.
 */
export class OwnRedisCluster {
  private readonly nodes: ChildProcess[] = [];
  private dir: string | undefined;
  ports: number[] = [];

  constructor(readonly masters = 3) {}

  /** The nodes as node-redis `rootNodes`. */
  get rootNodes(): { url: string }[] {
    return this.ports.map((port) => ({ url: `redis://127.0.0.1:${port}` }));
  }

  async start(): Promise<void> {
    if (this.dir) throw new Error('OwnRedisCluster is already started');
    const dir = mkdtempSync(join(tmpdir(), 'yosai-redis-cluster-'));
    this.dir = dir;
    try {
      const ports = await freePorts(this.masters * 2);
      this.ports = ports.slice(0, this.masters);
      for (const [i, port] of this.ports.entries()) {
        // The cluster bus gets a port of its own: the default (port + 10000) may be taken or out of range.
        const child = spawn(
          'redis-server',
          [
            '--port',
            String(port),
            '--cluster-port',
            String(ports[this.masters + i]),
            '--bind',
            '127.0.0.1',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, `nodes-${port}.conf`),
            '--dir',
            dir,
            '--save',
            '',
            '--appendonly',
            'no',
          ],
          { stdio: 'ignore' },
        );
        this.nodes.push(child);
      }
      await this.until('every node accepts connections', async () =>
        (await Promise.all(this.rootNodes.map((n) => portOpen(n.url, 100)))).every(Boolean),
      );
      await run('redis-cli', [
        '--cluster',
        'create',
        ...this.ports.map((port) => `127.0.0.1:${port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ]);
      await this.until('every node reports cluster_state:ok', async () =>
        (await Promise.all(this.ports.map((port) => this.cli(port, 'cluster', 'info')))).every((info) =>
          info.includes('cluster_state:ok'),
        ),
      );
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    const nodes = this.nodes.splice(0);
    const running = nodes.filter((child) => child.exitCode === null && child.signalCode === null);
    await Promise.all(
      running.map((child) => {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGKILL');
        return exited;
      }),
    );
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  /** Runs redis-cli against the node on `port`. */
  async cli(port: number, ...args: string[]): Promise<string> {
    const { stdout } = await run('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
    return stdout;
  }

  /** Polls `check` until it holds, failing after a bound rather than hanging the suite. */
  private async until(what: string, check: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if (this.nodes.some((child) => child.exitCode !== null || child.signalCode !== null))
        throw new Error(`a redis-server of the test cluster exited (ports ${this.ports.join(', ')})`);
      if (await check()) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`test Redis Cluster: timed out waiting until ${what}`);
  }
}

export interface ClusterStoreOptions extends CacheManagerSessionStoreOptions {
  /** The node clients refuse commands while offline instead of queueing them (what the README advises). */
  disableOfflineQueue?: boolean;
}

/**
 * A `CacheManagerSessionStore` over the cluster through `@keyv/redis` and node-redis `createCluster`, under its
 * own Keyv namespace. The cluster client is not connected: the store connects it.
 */
export function clusterSessionStore(
  cluster: { rootNodes: { url: string }[] },
  namespace: string,
  options: ClusterStoreOptions = {},
) {
  const { disableOfflineQueue = false, ...storeOptions } = options;
  const client = createCluster({
    rootNodes: cluster.rootNodes,
    defaults: { disableOfflineQueue, socket: { connectTimeout: 1000 } },
  });
  const adapter = new KeyvRedis(client);
  const keyv = new Keyv({ store: adapter, namespace, useKeyPrefix: false });
  const store = new CacheManagerSessionStore(createCache({ stores: [keyv] }), storeOptions);
  return {
    store,
    client,
    adapter,
    /** Closes the cluster client at once (a polite QUIT could wait on a node that is gone). */
    close: async () => {
      if (client.isOpen) client.destroy();
    },
  };
}
