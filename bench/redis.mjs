// Redis costs that do not depend on how busy the machine is, measured on redis-servers this script starts on free
// ports (and stops): `npm run build && node bench/redis.mjs <bytes|memory> [count]`.
//
// bytes:  bytes sent to Redis per `setAttribute` of one small attribute on sessions of about 200 B, 10 KB, 100 KB
//         and 1 MB (INFO stats total_net_input_bytes before and after, less the INFO command's own bytes).
// memory: Redis memory per session at `count` sessions (default 100,000): INFO memory used_memory before and after
//         writing them, ours (SessionManager.startSession, an authenticated session with a host) and connect-redis
//         (what express-session stores for a signed-in user), each on a fresh server of its own; and the design
//         floor on a third: ours' key names and expiry-queue entries exactly, with one small field per session in
//         place of its record (what a session costs this layout before it holds anything).
// sweep:  Redis commands per session the expiry sweeper expires (amortised over `count` abandoned sessions, default
//         10,000), from INFO commandstats before and after one pass (CONFIG RESETSTAT first): the commands the
//         library sends (EVALSHA, HGETALL) and every command Redis runs (scripts' inner commands too). Also the
//         commands per request of the authenticated read path (SessionManager.resolve, no touch due).
//
// Prints one `REDISJSON {...}` line per measurement. BENCH_LIBRARY points at another build of the library (a
// baseline), as in bench/server.mjs; BENCH_REDIS_ARGS adds redis-server arguments (space-separated) to every server,
// e.g. `--hash-max-listpack-value 128`.
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const [mode = 'bytes', countArg] = process.argv.slice(2);
const IDLE_MS = 30 * 60_000;

/** A free TCP port, picked by the OS. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A redis-server of the bench's own (no persistence), and a node-redis client on it for INFO. */
async function ownRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'yosai-bench-redis-'));
  const child = spawn(
    'redis-server',
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      ...(process.env.BENCH_REDIS_ARGS?.split(' ').filter(Boolean) ?? []),
    ],
    { stdio: 'ignore' },
  );
  const { createClient } = await import('@redis/client');
  const url = `redis://127.0.0.1:${port}`;
  let probe;
  for (let i = 0; ; i++) {
    probe = createClient({ url, socket: { reconnectStrategy: false } });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      break;
    } catch (error) {
      if (i > 100) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const info = async (section, field) => {
    const text = await probe.info(section);
    return Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(text)[1]);
  };
  return {
    url,
    info,
    async stop() {
      probe.destroy();
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A SessionManager over a CacheManagerSessionStore on `url` (through @keyv/redis), in a Nest application context. */
async function ourManager(url, options = {}) {
  const { Module } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const { default: KeyvRedis } = await import('@keyv/redis');
  const { createCache } = await import('cache-manager');
  const { Keyv } = await import('keyv');
  const { CacheManagerSessionStore, SessionManager, YosaiModule } = await import(
    process.env.BENCH_LIBRARY || 'nestjs-yosai'
  );
  const keyv = new Keyv({ store: new KeyvRedis(url), namespace: 'bench', useKeyPrefix: false });
  const store = new CacheManagerSessionStore(createCache({ stores: [keyv] }));
  class BenchModule {}
  Module({
    imports: [YosaiModule.forRoot({ store, idleTimeoutMs: IDLE_MS, cookie: { secure: false }, ...options })],
  })(BenchModule);
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: ['error'] });
  const manager = app.get(SessionManager);
  const start = (manager.startSession ?? manager.start).bind(manager);
  return { app, manager, start, close: () => app.close().then(() => keyv.disconnect()) };
}

/** (a) Bytes sent to Redis per setAttribute, by session size. */
async function bytes() {
  const WRITES = 20;
  const redis = await ownRedis();
  try {
    const ours = await ourManager(redis.url, { maxRecordBytes: 4 * 1024 * 1024 });
    // What INFO itself adds to total_net_input_bytes between two readings.
    const a = await redis.info('stats', 'total_net_input_bytes');
    const b = await redis.info('stats', 'total_net_input_bytes');
    const infoBytes = b - a;
    const changed = JSON.stringify({ visits: 1_000_000 }).length;
    // Steady state: the first write on a server may send a script in full once (EVALSHA's NOSCRIPT fallback).
    await (await start(ours, 'warm-up')).session.setAttribute('visits', 0);
    for (const size of [200, 10_000, 100_000, 1_000_000]) {
      // One attribute holds the bulk; the rest of the record (timestamps, identifiers, host) is about 150 B.
      const bulk =
        size <= 200 ? 'x'.repeat(40) : randomBytes(Math.ceil((size - 150) * 0.75)).toString('base64');
      const { session } = await start(ours, bulk);
      const before = await redis.info('stats', 'total_net_input_bytes');
      for (let i = 0; i < WRITES; i++) await session.setAttribute('visits', 1_000_000 + i);
      const after = await redis.info('stats', 'total_net_input_bytes');
      const perWrite = (after - before - infoBytes) / WRITES;
      const record = JSON.stringify(session.getAttributes()).length;
      print({
        measure: 'bytes-per-setAttribute',
        sessionBytes: size,
        attributesJsonBytes: record,
        changedJsonBytes: changed,
        bytesPerWrite: Math.round(perWrite),
        goalBytes: 2 * changed + 1024,
        goalMet: perWrite <= 2 * changed + 1024,
      });
    }
    await ours.close();
  } finally {
    await redis.stop();
  }
}

async function start(ours, bulk) {
  return ours.start({
    host: '203.0.113.7',
    identifiers: ['thedude'],
    authenticated: true,
    attributes: { bulk },
  });
}

/** (b) Redis memory per session at `count` sessions: ours, connect-redis and the design floor, each on a fresh server. */
async function memory(count) {
  const CONCURRENCY = 100;
  const fill = async (redis, make) => {
    const before = await redis.info('memory', 'used_memory');
    let next = 0;
    const worker = async () => {
      while (next < count) await make(next++);
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const after = await redis.info('memory', 'used_memory');
    const keys = Number(/keys=(\d+)/.exec(await redisInfoKeyspace(redis))?.[1] ?? 0);
    return { keys, bytesPerSession: (after - before) / count };
  };

  const results = {};
  let layout;
  {
    const redis = await ownRedis();
    try {
      // BENCH_SWEEP_INTERVAL_MS=0: without the expiry sweeper, whose queue keeps an entry per session.
      const sweep = process.env.BENCH_SWEEP_INTERVAL_MS;
      const ours = await ourManager(
        redis.url,
        sweep === undefined ? {} : { expirySweepIntervalMs: Number(sweep) },
      );
      await ours.start({ host: '127.0.0.1', identifiers: ['warm-up'], authenticated: true });
      results.ours = await fill(redis, (i) =>
        ours.start({ host: '127.0.0.1', identifiers: [`user${i}`], authenticated: true }),
      );
      await ours.close();
      layout = await keyLayout(redis.url);
    } finally {
      await redis.stop();
    }
  }
  {
    // The design floor: ours' keys exactly (names, hash tags, expiry-queue keys, members and scores, read back from
    // the server above), each session holding one small field instead of its record, with the same TTL.
    const redis = await ownRedis();
    try {
      const { createClient } = await import('@redis/client');
      const client = createClient({ url: redis.url });
      await client.connect();
      const now = String(Date.now());
      results.floor = await fill(redis, async (i) => {
        const { key, queue } = layout[i];
        await client.hSet(key, 'l', now);
        await client.pExpire(key, IDLE_MS);
        if (queue) await client.zAdd(queue.key, { score: queue.score, value: queue.member });
      });
      client.destroy();
    } finally {
      await redis.stop();
    }
  }
  {
    const redis = await ownRedis();
    try {
      const { RedisStore } = await import('connect-redis');
      const { default: session } = await import('express-session');
      const { createClient } = await import('redis');
      const client = createClient({ url: redis.url });
      await client.connect();
      const store = new RedisStore({ client, prefix: 'sess:' });
      const put = (data) =>
        new Promise((resolve, reject) => {
          // express-session ids: uid-safe(24), 32 base64url characters; a Session with its real Cookie.
          const sid = randomBytes(24).toString('base64url');
          const sess = new session.Session({ sessionID: sid, sessionStore: store }, data);
          sess.cookie = new session.Cookie({
            maxAge: IDLE_MS,
            httpOnly: true,
            secure: false,
            sameSite: 'lax',
            path: '/',
          });
          store.set(sid, sess, (error) => (error ? reject(error) : resolve()));
        });
      await put({ user: 'warm-up' });
      results.connectRedis = await fill(redis, (i) => put({ user: `user${i}` }));
      await client.close();
    } finally {
      await redis.stop();
    }
  }
  print({
    measure: 'redis-memory-per-session',
    count,
    ours: results.ours,
    connectRedis: results.connectRedis,
    floor: results.floor,
    ratio: Number((results.ours.bytesPerSession / results.connectRedis.bytesPerSession).toFixed(3)),
    floorRatio: Number((results.floor.bytesPerSession / results.connectRedis.bytesPerSession).toFixed(3)),
    goalRatio: 0.8,
    goalMet: results.ours.bytesPerSession <= 0.8 * results.connectRedis.bytesPerSession,
  });
}

/**
 * The session keys ours wrote (minus the warm-up session's), each with its expiry-queue entry when the sweeper keeps
 * one: `{ key, queue: { key, member, score } | undefined }`. A record key ends in its id after the hash tag's `}`;
 * a queue key holds `}:expiry:`, and its members are ids.
 */
async function keyLayout(url) {
  const { createClient } = await import('@redis/client');
  const client = createClient({ url });
  await client.connect();
  try {
    const records = [];
    const queued = new Map();
    for await (const batch of client.scanIterator({ COUNT: 1000 })) {
      for (const key of batch) {
        if (key.includes('}:expiry:')) {
          for (const { value, score } of await client.zRangeWithScores(key, 0, -1)) {
            queued.set(value, { key, member: value, score });
          }
        } else if (/}[A-Za-z0-9_-]{43}$/.test(key)) records.push(key);
      }
    }
    return records.map((key) => ({ key, queue: queued.get(key.slice(-43)) }));
  } finally {
    client.destroy();
  }
}

async function redisInfoKeyspace(redis) {
  const { createClient } = await import('@redis/client');
  const client = createClient({ url: redis.url });
  await client.connect();
  try {
    return await client.info('keyspace');
  } finally {
    client.destroy();
  }
}

/** (c) The expiry sweeper's cost per expired session, and the read path's per request. */
async function sweep(count) {
  const redis = await ownRedis();
  try {
    const { ManualClock } = await import(process.env.BENCH_LIBRARY || 'nestjs-yosai');
    const { SessionSweeper } = await import(process.env.BENCH_LIBRARY || 'nestjs-yosai');
    const clock = new ManualClock(Date.now());
    const ours = await ourManager(redis.url, { clock, expirySweepIntervalMs: 3_600_000 });
    const sweeper = ours.app.get(SessionSweeper);
    const { createClient } = await import('@redis/client');
    const probe = createClient({ url: redis.url });
    await probe.connect();
    const stats = async () => {
      const calls = {};
      for (const [, name, n] of (await probe.info('commandstats')).matchAll(
        /^cmdstat_([\w|]+):calls=(\d+)/gm,
      )) {
        calls[name] = Number(n);
      }
      return calls;
    };
    // Scripts loaded and the read path warm.
    const warm = await ours.start({ identifiers: ['warm'], authenticated: true });
    await ours.manager.resolve(warm.token);
    const sessions = [];
    for (let done = 0; done < count; done += 500) {
      const chunk = Array.from({ length: Math.min(500, count - done) }, (_, i) =>
        ours.start({ identifiers: [`user-${done + i}`], authenticated: true, host: '198.51.100.7' }),
      );
      sessions.push(...(await Promise.all(chunk)));
    }
    // The authenticated read path: one command per request.
    const READS = 1_000;
    await probe.configResetStat();
    for (let i = 0; i < READS; i++) await ours.manager.resolve(sessions[i % sessions.length].token);
    const read = await stats();
    const readSent = Object.entries(read)
      .filter(([name]) => name !== 'info' && name !== 'config|resetstat')
      .reduce((sum, [, n]) => sum + n, 0);
    clock.advance(IDLE_MS + 1);
    await probe.configResetStat();
    const started = performance.now();
    const emitted = await sweeper.sweep();
    const ms = performance.now() - started;
    const swept = await stats();
    const total = Object.entries(swept)
      .filter(([name]) => name !== 'info' && name !== 'config|resetstat')
      .reduce((sum, [, n]) => sum + n, 0);
    const sent = (swept.evalsha ?? 0) + (swept.eval ?? 0) + (swept.hgetall ?? 0);
    print({
      measure: 'sweeper-commands-per-expired-session',
      sessions: count + 1,
      emitted,
      commandsSentPerSession: Number((sent / emitted).toFixed(3)),
      commandsRunPerSession: Number((total / emitted).toFixed(3)),
      byCommand: swept,
      passMs: Math.round(ms),
      keysLeft: await probe.dbSize(),
      readPathCommandsPerRequest: readSent / READS,
    });
    probe.destroy();
    await ours.close();
  } finally {
    await redis.stop();
  }
}

function print(result) {
  process.stdout.write(`REDISJSON ${JSON.stringify(result)}\n`);
}

if (mode === 'bytes') await bytes();
else if (mode === 'memory') await memory(Number(countArg ?? 100_000));
else if (mode === 'sweep') await sweep(Number(countArg ?? 10_000));
else throw new Error(`unknown mode ${mode}: bytes | memory | sweep`);
process.exit(0);
