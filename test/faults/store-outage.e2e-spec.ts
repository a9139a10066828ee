// Store outage mid-traffic, against a redis-server of our own (ports 6400-6409) with an fsync-always
// append-only file: first paused (SIGSTOP: connected but silent), then crashed (SIGKILL) and restarted.
// While Redis is away, requests that present a token get 503 within the store timeout (none hang) and
// requests without one still get 200; afterwards service resumes without an app restart, every session
// that was in Redis before still works, and listener and handle counts are where they were.
import { Agent } from 'node:http';
import { redisSessionStore } from '../support/redis.js';
import { createTestApp, PLATFORMS, type TestApp } from '../support/test-app.js';
import {
  activeResources,
  CaptureLogger,
  cookieToken,
  FaultRedis,
  listen,
  pool,
  processListeners,
  redisServerAvailable,
  send,
  sleep,
} from './fault-kit.js';

const STORE_TIMEOUT_MS = 300;
/** A request slower than this counts as hung (generous: a loaded CI box, not a speed test). */
const HANG_MS = STORE_TIMEOUT_MS + 2_000;
const available = redisServerAvailable('store outage');
const d = available ? describe : describe.skip;

interface Sample {
  withToken: boolean;
  status: number;
  ms: number;
}

/** The range this suite may use for its own servers (first free one wins; parallel runs share it). */
const PORTS = Array.from({ length: 10 }, (_, i) => 6400 + i);

d.each(PLATFORMS)('store outage (%s, own redis-server on 6400-6409)', (platform) => {
  let redis: FaultRedis;
  let store: ReturnType<typeof redisSessionStore>;
  let t: TestApp;
  let appPort: number;
  let logger: CaptureLogger;
  const users: string[] = [];
  const guests: { token: string; value: number }[] = [];

  beforeAll(async () => {
    redis = await FaultRedis.create(PORTS, true);
    store = redisSessionStore(`yosai-faults-outage-${platform}`, redis.url);
    t = await createTestApp({
      platform,
      yosai: { store: store.store, storeTimeoutMs: STORE_TIMEOUT_MS, cookie: { secure: false } },
    });
    logger = new CaptureLogger();
    t.app.useLogger(logger);
    appPort = await listen(t.app);
  });
  afterAll(async () => {
    redis?.resume();
    await t?.close();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([store?.close(), new Promise((r) => (timer = setTimeout(r, 2_000)))]);
    clearTimeout(timer);
    await redis?.dispose();
  }, 20_000);

  /** Requests in parallel for `ms`: half with a live token (rotating), half without. */
  async function traffic(ms: number, agent: Agent): Promise<Sample[]> {
    const samples: Sample[] = [];
    const end = Date.now() + ms;
    let n = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (Date.now() < end) {
          const i = n++;
          const withToken = i % 2 === 0;
          const token = withToken
            ? i % 3
              ? users[i % users.length]
              : guests[i % guests.length].token
            : undefined;
          const path = !withToken ? (i % 4 ? '/whoami' : '/guest-only') : i % 3 === 0 ? `/attr/n` : '/whoami';
          const started = Date.now();
          const res = await send(appPort, {
            path,
            headers: token ? { cookie: `sid=${token}` } : {},
            agent,
            timeoutMs: 10_000,
          });
          samples.push({ withToken, status: res.status, ms: Date.now() - started });
        }
      }),
    );
    return samples;
  }

  /** Waits until a request with a token is served again (Redis back and the client reconnected). */
  async function waitForService() {
    for (let i = 0; i < 150; i++) {
      const res = await send(appPort, { path: '/protected', headers: { cookie: `sid=${users[0]}` } });
      if (res.status === 200) return;
      await sleep(100);
    }
    throw new Error('service did not resume within 15 s after Redis came back');
  }

  /** Every session made before the outage still works, with its attributes. */
  async function preOutageSessionsWork() {
    await pool(users, 8, async (u, i) => {
      const res = await send(appPort, { path: '/protected', headers: { cookie: `sid=${u}` } });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body.toString())).toEqual({ username: i % 2 ? 'walter' : 'thedude' });
    });
    await pool(guests, 8, async (g) => {
      const res = await send(appPort, { path: '/attr/n', headers: { cookie: `sid=${g.token}` } });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body.toString())).toEqual({ value: g.value });
    });
  }

  function expectOutage(samples: Sample[]) {
    const tokened = samples.filter((s) => s.withToken);
    const anonymous = samples.filter((s) => !s.withToken);
    expect(tokened.length).toBeGreaterThan(5);
    expect(anonymous.length).toBeGreaterThan(5);
    expect(new Set(tokened.map((s) => s.status))).toEqual(new Set([503]));
    expect(new Set(anonymous.map((s) => s.status))).toEqual(new Set([200]));
    expect(Math.max(...samples.map((s) => s.ms))).toBeLessThan(HANG_MS);
  }

  it('pause and crash: 503 for token requests, 200 without, then full recovery with no leaks', async () => {
    // Sessions made before the outage: 10 users, 10 guests with an attribute.
    for (let i = 0; i < 10; i++) {
      const login = await send(appPort, {
        method: 'POST',
        path: '/login',
        body:
          i % 2
            ? { username: 'walter', password: 'shomer-shabbos' }
            : { username: 'thedude', password: 'letsgobowling' },
      });
      expect(login.status).toBe(200);
      users.push(cookieToken(login.headers)!);
      const put = await send(appPort, { method: 'PUT', path: '/attr/n', body: { value: i } });
      expect(put.status).toBe(200);
      guests.push({ token: cookieToken(put.headers)!, value: i });
    }
    await preOutageSessionsWork();

    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    let agent = new Agent({ keepAlive: true, maxSockets: 8 });
    try {
      // Warm-up traffic, then the baseline of listeners and handles.
      const before = await traffic(300, agent);
      expect(before.filter((s) => s.status !== 200).map((s) => s.status)).toEqual([]);
      agent.destroy();
      await sleep(STORE_TIMEOUT_MS + 100);
      const client = await store.adapter.getClient();
      const clientEvents = ['error', 'connect', 'ready', 'end', 'reconnecting'];
      const listenersOf = () => ({
        process: processListeners(),
        client: Object.fromEntries(clientEvents.map((e) => [e, client.listenerCount(e)])),
        adapter: Object.fromEntries(clientEvents.map((e) => [e, store.adapter.listenerCount(e)])),
        keyv: store.keyv.listeners('error').length,
      });
      const listenersBefore = listenersOf();
      const resourcesBefore = activeResources();

      // 1. Unresponsive Redis (SIGSTOP): connected, silent.
      agent = new Agent({ keepAlive: true, maxSockets: 8 });
      redis.pause();
      expectOutage(await traffic(1_200, agent));
      redis.resume();
      await waitForService();
      await preOutageSessionsWork();

      // 2. Dead Redis (SIGKILL), restarted on the same port from its append-only file.
      await redis.kill();
      expectOutage(await traffic(1_200, agent));
      await redis.start();
      await waitForService();
      await preOutageSessionsWork();
      const after = await traffic(300, agent);
      expect(after.filter((s) => s.status !== 200).map((s) => s.status)).toEqual([]);
      agent.destroy();

      // Whatever was logged during the outage names no token.
      const logs = logger.lines.map((l) => l.text).join('\n');
      expect([...users, ...guests.map((g) => g.token)].filter((tk) => logs.includes(tk))).toEqual([]);

      // No leaked listeners; handles back to the baseline (give closing sockets and timers a moment).
      await sleep(STORE_TIMEOUT_MS + 200);
      expect(listenersOf()).toEqual(listenersBefore);
      const resourcesAfter = activeResources();
      process.stdout.write(
        `store outage (${platform}): handles before ${JSON.stringify(resourcesBefore)}, after ${JSON.stringify(resourcesAfter)}; listeners ${JSON.stringify(listenersBefore)}\n`,
      );
      for (const [type, count] of Object.entries(resourcesAfter)) {
        expect({ type, count }).toEqual({ type, count: Math.min(count, (resourcesBefore[type] ?? 0) + 2) });
      }
      expect(unhandled).toEqual([]);
    } finally {
      agent.destroy();
      redis.resume();
      process.off('unhandledRejection', onUnhandled);
      process.off('uncaughtException', onUnhandled);
    }
  }, 60_000);
});
