// Shared helpers of the fault suite (test/faults): a seeded PRNG, a capturing logger, a raw HTTP client
// over keep-alive, a bounded-concurrency pool and a throw-away redis-server that can persist, pause and die.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import type { SessionStore } from '../../src/index.js';
import { portOpen as portOpenAt } from '../support/redis.js';

/** mulberry32: a small deterministic PRNG, so every run generates the same hostile inputs. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const from = (alphabet: string, length: number) => {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(next() * alphabet.length)];
    return out;
  };
  return { next, int, pick, from };
}

export const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
export const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** base64url(sha256(token)): what the session id (and the store key suffix) must be. */
export function idOf(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export { CapturingLogger as CaptureLogger } from '../support/capturing-logger.js';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Starts the app's HTTP server on an ephemeral port of 127.0.0.1 and returns the port. */
export async function listen(app: INestApplication): Promise<number> {
  await app.listen(0, '127.0.0.1');
  return (app.getHttpServer().address() as AddressInfo).port;
}

/**
 * One HTTP request with Node's own client (headers sent as given, no cookie jar). Rejects when no answer
 * arrives within `timeoutMs`: a hung request fails the test instead of hanging it.
 */
export function send(
  port: number,
  options: {
    method?: string;
    path: string;
    headers?: OutgoingHttpHeaders;
    body?: unknown;
    agent?: Agent;
    timeoutMs?: number;
  },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const headers: OutgoingHttpHeaders = { ...options.headers };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers,
        agent: options.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy(
        new Error(
          `no answer to ${options.method ?? 'GET'} ${options.path} within ${options.timeoutMs ?? 10_000} ms`,
        ),
      );
    }, options.timeoutMs ?? 10_000);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(payload);
  });
}

/** Runs `fn` over `items` with at most `concurrency` in flight; results in input order. */
export async function pool<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** The values of Set-Cookie `name` and of the token response header in a raw response. */
export function issuedTokens(
  headers: IncomingHttpHeaders,
  cookie = 'sid',
  header = 'x-session-token',
): string[] {
  const out: string[] = [];
  for (const line of headers['set-cookie'] ?? []) {
    if (line.startsWith(`${cookie}=`)) {
      const value = line.slice(cookie.length + 1).split(';')[0];
      if (value) out.push(value);
    }
  }
  const h = headers[header];
  if (typeof h === 'string' && h) out.push(h);
  return out;
}

export function cookieToken(headers: IncomingHttpHeaders, name = 'sid'): string | undefined {
  const line = (headers['set-cookie'] ?? []).find((l) => l.startsWith(`${name}=`));
  return line === undefined ? undefined : line.slice(name.length + 1).split(';')[0];
}

function portOpen(port: number): Promise<boolean> {
  return portOpenAt(`redis://127.0.0.1:${port}`, 300);
}

export { redisServerAvailable } from '../support/redis.js';

/**
 * A throw-away redis-server for fault tests: optionally persistent (append-only file, fsync always, in its
 * own temp dir), so that a crash (SIGKILL) and restart keeps what Redis acknowledged; can be paused
 * (SIGSTOP: connected but silent) and resumed.
 */
export class FaultRedis {
  private child: ChildProcess | null = null;
  readonly dir: string;
  private constructor(
    public port: number,
    private readonly persistent: boolean,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `yosai-faults-redis-`));
  }

  /**
   * Starts a server on the first free port of `ports` (another run of this suite may hold some of them;
   * a port found busy is never talked to: its data and state are not ours).
   */
  static async create(ports: readonly number[], persistent = false): Promise<FaultRedis> {
    const redis = new FaultRedis(0, persistent);
    for (const port of ports) {
      if (await portOpen(port)) continue;
      redis.port = port;
      if (await redis.spawnAndWait()) return redis;
    }
    rmSync(redis.dir, { recursive: true, force: true });
    throw new Error(`no free port for redis-server among ${ports.join(', ')}`);
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts it again on the same port and data directory (after `kill()`). */
  async start(): Promise<void> {
    if (!(await this.spawnAndWait()))
      throw new Error(`redis-server could not start again on port ${this.port}`);
  }

  private async spawnAndWait(): Promise<boolean> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--dir', this.dir];
    args.push(
      ...(this.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    );
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.child = child;
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null || child.signalCode !== null) break; // e.g. the port was taken meanwhile
      if (await portOpen(this.port)) {
        // Persistent: wait until the data set is loaded (PING answers -LOADING meanwhile).
        for (let j = 0; j < 100; j++) {
          if (this.cli('PING').trim() === 'PONG') return true;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    this.child = null;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return false;
  }
  /** Simulates a crash: SIGKILL (a resumed process first, so the signal is delivered). */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  }
  /** Simulates an unresponsive server: the socket stays open, nothing answers. */
  pause() {
    this.child?.kill('SIGSTOP');
  }
  resume() {
    this.child?.kill('SIGCONT');
  }
  cli(...args: string[]): string {
    try {
      return execFileSync('redis-cli', ['-p', String(this.port), ...args], {
        encoding: 'utf8',
        timeout: 5000,
      });
    } catch {
      return '';
    }
  }
  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Counts of `process.getActiveResourcesInfo()` by type. */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

/** Listener counts of the process events a library might subscribe to. */
export function processListeners(): Record<string, number> {
  const names = [
    'uncaughtException',
    'unhandledRejection',
    'warning',
    'exit',
    'beforeExit',
    'SIGINT',
    'SIGTERM',
  ];
  return Object.fromEntries(names.map((n) => [n, process.listenerCount(n)]));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * What the store holds for a session id in whichever model it uses (the field model's read where the store has
 * one, `get` otherwise): undefined when there is no record.
 */
export async function storedRecord(store: SessionStore, id: string): Promise<unknown> {
  return store.fieldRecords ? store.fieldRecords.read(id) : store.get(id);
}
