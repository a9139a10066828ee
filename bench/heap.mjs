// Heap bytes per idle session in an in-process store: `node --expose-gc bench/heap.mjs <ours|express-session> [count]`.
// Prints one line `HEAPJSON {...}`. Each kind runs in its own process so neither sees the other's garbage.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';

const [kind, countArg = '100000'] = process.argv.slice(2);
const COUNT = Number(countArg);
const IDLE_MS = 30 * 60_000;

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');

function settledHeap() {
  for (let i = 0; i < 4; i++) globalThis.gc();
  return process.memoryUsage().heapUsed;
}

/** Ours: real records, made by the SessionManager of a Nest application context (authenticated, with host). */
async function ours() {
  const { Module } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  // BENCH_LIBRARY: a baseline build of the library (see bench/server.mjs), else the package's own dist/.
  const { CacheManagerSessionStore, SessionManager, YosaiModule } = await import(
    process.env.BENCH_LIBRARY || 'nestjs-yosai'
  );
  const store = CacheManagerSessionStore.inMemory();
  class HeapModule {}
  Module({ imports: [YosaiModule.forRoot({ store, idleTimeoutMs: IDLE_MS, cookie: { secure: false } })] })(
    HeapModule,
  );
  const app = await NestFactory.createApplicationContext(HeapModule, { logger: ['error'] });
  const manager = app.get(SessionManager);
  // startSession() from 0.2 on; start() (v0.1, deprecated in 0.2) for a baseline build that lacks it.
  const start = (manager.startSession ?? manager.start).bind(manager);
  // One session first, so lazily built code paths and caches are not counted per session.
  await start({ host: '127.0.0.1', identifiers: ['warm-up'], authenticated: true });
  const before = settledHeap();
  for (let i = 0; i < COUNT; i++) {
    await start({ host: '127.0.0.1', identifiers: [`user${i}`], authenticated: true });
  }
  const after = settledHeap();
  const sample = await (async () => {
    const map = store.backend?.map ?? null;
    return map ? map.size : null;
  })();
  return { before, after, stored: sample, keep: [app, store] };
}

/** express-session's MemoryStore, fed what express-session itself stores: a Session with a real Cookie. */
async function expressSession() {
  const { default: session } = await import('express-session');
  const store = new session.MemoryStore();
  const put = (sid, data) =>
    new Promise((resolve, reject) => {
      const req = { sessionID: sid, sessionStore: store };
      const sess = new session.Session(req, data);
      sess.cookie = new session.Cookie({
        maxAge: IDLE_MS,
        httpOnly: true,
        secure: false,
        sameSite: 'lax',
        path: '/',
      });
      store.set(sid, sess, (error) => (error ? reject(error) : resolve()));
    });
  // express-session ids: uid-safe(24) = 32 base64url characters.
  await put(randomBytes(24).toString('base64url'), { user: 'warm-up' });
  const before = settledHeap();
  for (let i = 0; i < COUNT; i++) {
    await put(randomBytes(24).toString('base64url'), { user: `user${i}` });
  }
  const after = settledHeap();
  return { before, after, stored: Object.keys(store.sessions).length, keep: [store] };
}

const run = kind === 'ours' ? ours : kind === 'express-session' ? expressSession : null;
if (!run) throw new Error(`unknown kind ${kind}: ours | express-session`);
const result = await run();
const bytesPerSession = (result.after - result.before) / COUNT;
process.stdout.write(
  `HEAPJSON ${JSON.stringify({ kind, count: COUNT, stored: result.stored, heapBefore: result.before, heapAfter: result.after, bytesPerSession })}\n`,
);
process.exit(0);
