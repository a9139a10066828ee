import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import KeyvRedis from '@keyv/redis';
import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import { CacheManagerSessionStore, type CacheManagerSessionStoreOptions } from '../../src/index.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether something accepts TCP connections at the URL's host and port. */
export function portOpen(url: string, timeoutMs = 500): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Whether the shared Redis answers. Under CI=true a missing Redis is a failure, never a skip; on a
 * developer machine the suite is skipped with one loud line.
 */
export async function redisAvailable(suite: string): Promise<boolean> {
  const ok = await portOpen(REDIS_URL);
  if (ok) return true;
  if (process.env.CI === 'true')
    throw new Error(`${suite}: Redis at ${REDIS_URL} does not answer, and CI=true forbids skipping.`);
  process.stderr.write(
    `\n*** SKIPPING ${suite}: no Redis at ${REDIS_URL} (set REDIS_URL or start redis-server) ***\n\n`,
  );
  return false;
}

/** A Redis-backed session store under its own namespace, plus a raw client for assertions. */
export function redisSessionStore(
  namespace: string,
  url = REDIS_URL,
  options: CacheManagerSessionStoreOptions = {},
) {
  const adapter = new KeyvRedis(url, { throwOnConnectError: true, connectionTimeout: 1000 });
  const keyv = new Keyv({ store: adapter, namespace, useKeyPrefix: false });
  const cache = createCache({ stores: [keyv] });
  const store = new CacheManagerSessionStore(cache, options);
  return { store, cache, keyv, adapter, close: () => cache.disconnect() };
}

/**
 * Two stores over one namespace of the shared Redis, each with its own connection: two app instances. `close`
 * deletes the namespace's keys and closes both.
 */
export function redisStorePair(namespace: string) {
  const a = redisSessionStore(namespace);
  const b = redisSessionStore(namespace);
  return {
    a: a.store,
    b: b.store,
    /** A raw client of the first connection, for assertions. */
    client: () => a.adapter.getClient(),
    close: async () => {
      const client = await a.adapter.getClient();
      const keys = await client.keys(`${namespace}::*`);
      if (keys.length) await client.del(keys);
      await a.close();
      await b.close();
    },
  };
}

/** A throw-away redis-server on its own port, for tests that stop or break Redis. */
export class OwnRedis {
  private process: ChildProcess | null = null;
  constructor(readonly port: number) {}
  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    // A leftover server on this port would silently stand in for ours: refuse instead.
    if (await portOpen(this.url, 200))
      throw new Error(`port ${this.port} is already taken; cannot start a test redis-server`);
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    this.process = child;
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      if (await portOpen(this.url, 100)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.stop();
    throw new Error(`redis-server on port ${this.port} did not start`);
  }
  async stop(): Promise<void> {
    const child = this.process;
    if (!child) return;
    this.process = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
  }
  /** Runs redis-cli against this server. */
  cli(...args: string[]): string {
    return execFileSync('redis-cli', ['-p', String(this.port), ...args], { encoding: 'utf8' });
  }
}

/**
 * Whether `redis-server` can be run here. Under CI=true its absence fails the suite; elsewhere the suite
 * is skipped with one loud line.
 */
export function redisServerAvailable(suite: string): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI === 'true')
      throw new Error(`${suite}: redis-server is not installed, and CI=true forbids skipping.`);
    process.stderr.write(`\n*** SKIPPING ${suite}: redis-server is not installed ***\n\n`);
    return false;
  }
}
