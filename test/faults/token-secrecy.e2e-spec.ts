// Token secrecy: after a mixed run (guests, logins, failed logins, attribute writes, logouts, stops,
// expiries, a corrupt record, store failures), no store key or value, no log line and no event payload
// contains a token the server issued; session.id is base64url(sha256(token)), never the token.
import { randomBytes } from 'node:crypto';
import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import { CacheManagerSessionStore, ManualClock, SessionStore } from '../../src/index.js';
import { redisAvailable, redisSessionStore } from '../support/redis.js';
import { createTestApp, type Platform, type TestApp } from '../support/test-app.js';
import { CaptureLogger, idOf, issuedTokens, listen, send, type RawResponse } from './fault-kit.js';

/** A store that can be made to fail, to put store errors into the logs too. */
class FlakyStore extends SessionStore {
  failing = false;
  constructor(private readonly inner: SessionStore) {
    super();
  }
  private check() {
    if (this.failing) throw new Error('simulated store failure');
  }
  async get(id: string) {
    this.check();
    return this.inner.get(id);
  }
  async set(id: string, value: string, ttlMs: number) {
    this.check();
    return this.inner.set(id, value, ttlMs);
  }
  async compareAndSet(id: string, expected: string, value: string, ttlMs: number) {
    this.check();
    return this.inner.compareAndSet(id, expected, value, ttlMs);
  }
  async delete(id: string) {
    this.check();
    return this.inner.delete(id);
  }
}

interface Dump {
  keys: string[];
  values: string[];
}

const NAMESPACE = `yosai-faults-secrecy-${process.pid}`;
const targets: { name: string; platform: Platform }[] = [
  { name: 'memory', platform: 'express' },
  { name: 'redis', platform: 'fastify' },
];

describe.each(targets)('token secrecy ($name store, $platform)', ({ name, platform }) => {
  let t: TestApp;
  let port: number;
  let logger: CaptureLogger;
  let flaky: FlakyStore;
  let inner: CacheManagerSessionStore;
  let dump: () => Promise<Dump>;
  let cleanup: () => Promise<void>;
  let run = true;
  const clock = new ManualClock();

  beforeAll(async () => {
    if (name === 'redis' && !(await redisAvailable('token secrecy (redis)'))) {
      run = false;
      return;
    }
    if (name === 'memory') {
      const map = new Map<string, unknown>();
      inner = new CacheManagerSessionStore(createCache({ stores: [new Keyv({ store: map })] }), {
        sweepIntervalMs: 0,
      });
      dump = async () => ({ keys: [...map.keys()], values: [...map.values()].map((v) => JSON.stringify(v)) });
      cleanup = () => inner.close();
    } else {
      const r = redisSessionStore(NAMESPACE);
      inner = r.store;
      const client = await r.adapter.getClient();
      dump = async () => {
        const keys = await client.keys(`${NAMESPACE}::*`);
        const values = keys.length ? await client.mGet(keys) : [];
        return { keys, values: values.map((v) => v ?? '') };
      };
      cleanup = async () => {
        const keys = await client.keys(`${NAMESPACE}::*`);
        if (keys.length) await client.del(keys);
        await r.close();
      };
    }
    flaky = new FlakyStore(inner);
    t = await createTestApp({
      platform,
      yosai: { store: flaky, clock, idleTimeoutMs: 60_000, cookie: { secure: false }, header: {} },
    });
    logger = new CaptureLogger();
    t.app.useLogger(logger);
    port = await listen(t.app);
  });
  afterAll(async () => {
    if (!run) return;
    await t.close();
    await cleanup();
  });

  it('no store key or value, log line or event payload contains an issued token; ids are SHA-256 of tokens', async () => {
    if (!run) return;
    const issued = new Set<string>();
    const live = new Set<string>();
    const call = async (
      method: string,
      path: string,
      token?: string,
      body?: unknown,
      via: 'cookie' | 'bearer' = 'cookie',
    ) => {
      const headers = token
        ? via === 'cookie'
          ? { cookie: `sid=${token}` }
          : { authorization: `Bearer ${token}` }
        : {};
      const res: RawResponse = await send(port, { method, path, headers, body });
      for (const tk of issuedTokens(res.headers)) issued.add(tk);
      return res;
    };
    const tokenOf = (res: RawResponse) => issuedTokens(res.headers)[0];

    for (let i = 0; i < 20; i++) {
      const via = i % 2 ? 'bearer' : 'cookie';
      // A guest session with attributes, then login (replaced), attribute writes, and an ending.
      const guest = tokenOf(await call('PUT', '/attr/cart', undefined, { value: [i, `item-${i}`] }, via));
      await call('POST', '/login', guest, { username: 'thedude', password: 'wrong-password' }, via);
      const user = tokenOf(
        await call(
          'POST',
          '/login',
          guest,
          { username: i % 3 ? 'thedude' : 'walter', password: i % 3 ? 'letsgobowling' : 'shomer-shabbos' },
          via,
        ),
      );
      expect(user).not.toBe(guest);
      await call('PUT', '/attr/note', user, { value: { deep: [1, { x: 'y' }] } }, via);
      const who = JSON.parse((await call('GET', '/whoami', user, undefined, via)).body.toString()) as {
        sessionId: string;
      };
      expect(who.sessionId).toBe(idOf(user));
      expect(who.sessionId).not.toBe(user);
      expect(who.sessionId).toMatch(/^[A-Za-z0-9_-]{43}$/);
      switch (i % 4) {
        case 0:
          await call('POST', '/logout', user, undefined, via);
          break;
        case 1:
          await call('POST', '/stop', user, undefined, via);
          break;
        default:
          live.add(user);
      }
    }
    // Expiries: some sessions left to time out, then presented again.
    const expiring = [];
    for (let i = 0; i < 5; i++) expiring.push(tokenOf(await call('PUT', '/attr/x', undefined, { value: i })));
    clock.advance(60_001);
    for (const tk of expiring) await call('GET', '/whoami', tk);
    for (const tk of live) await call('GET', '/whoami', tk); // these expire now too
    // A fresh live set, kept alive to the end of the test.
    live.clear();
    for (let i = 0; i < 5; i++) {
      const g = tokenOf(await call('PUT', '/attr/y', undefined, { value: i }));
      live.add(tokenOf(await call('POST', '/login', g, { username: 'walter', password: 'shomer-shabbos' })));
    }
    // A corrupt record (one warning) and store failures (error logs) while clients present live tokens.
    const forged = randomBytes(32).toString('base64url');
    await inner.set(idOf(forged), '{"v":1,"broken', 60_000);
    await call('GET', '/whoami', forged);
    flaky.failing = true;
    for (const tk of live) {
      expect((await call('GET', '/whoami', tk)).status).toBe(503);
      expect((await call('PUT', '/attr/z', tk, { value: 1 })).status).toBe(503);
    }
    expect((await call('PUT', '/attr/z', undefined, { value: 1 })).status).toBe(503);
    flaky.failing = false;

    expect(issued.size).toBeGreaterThan(50);
    for (const tk of live) expect((await call('GET', '/protected', tk)).status).toBe(200);

    const { keys, values } = await dump();
    expect(keys.length).toBeGreaterThan(0);
    // Every live session is stored under its hash, and only under it.
    for (const tk of live) expect(keys.some((k) => k.endsWith(`yosai:sess:${idOf(tk)}`))).toBe(true);
    const logs = logger.lines.map((l) => `${l.level} ${l.text}`);
    expect(logs.some((l) => l.startsWith('warn'))).toBe(true);
    expect(logs.some((l) => l.startsWith('error'))).toBe(true);
    const events = t.events.events.map((e) => JSON.stringify(e));
    expect(events.length).toBeGreaterThan(50);
    const haystacks = { keys, values, logs, events };
    for (const [where, list] of Object.entries(haystacks)) {
      const leaks = [...issued].filter((tk) => list.some((s) => s.includes(tk)));
      expect({ where, leaks }).toEqual({ where, leaks: [] });
    }
  });
});
