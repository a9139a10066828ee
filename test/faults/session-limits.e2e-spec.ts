// Session size limits under concurrency: 1,500 parallel PUTs of distinct attributes against one session, split
// between an Express and a Fastify instance sharing one store (two SessionManagers, so no in-process queue
// serialises them). Every value either instance writes is watched: none ever passes `maxAttributes` or
// `maxRecordBytes`, and the writes beyond them are answered 413, never 500.
import { Agent } from 'node:http';
import { CacheManagerSessionStore, type SessionStore } from '../../src/index.js';
import { CountingStore } from '../support/counting-store.js';
import { redisAvailable, redisStorePair } from '../support/redis.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { cookieToken, listen, pool, send } from './fault-kit.js';

const MAX_ATTRIBUTES = 40;
const MAX_RECORD_BYTES = 8 * 1024;
const PUTS = 1_500;

/** Remembers the largest record ever written through it. */
class WatchingStore extends CountingStore {
  maxBytes = 0;
  maxAttributes = 0;
  private watch(value: string) {
    this.maxBytes = Math.max(this.maxBytes, Buffer.byteLength(value));
    const parsed = JSON.parse(value) as { at: object };
    this.maxAttributes = Math.max(this.maxAttributes, Object.keys(parsed.at).length);
  }
  override set(id: string, value: string, ttlMs: number) {
    this.watch(value);
    return super.set(id, value, ttlMs);
  }
  override compareAndSet(id: string, expected: string, value: string, ttlMs: number) {
    this.watch(value);
    return super.compareAndSet(id, expected, value, ttlMs);
  }
}

describe.each(['memory', 'redis'] as const)('session limits under 1,500 parallel PUTs (%s store)', (kind) => {
  let express: TestApp;
  let fastify: TestApp;
  let ports: number[];
  let watched: WatchingStore[];
  let peek: SessionStore;
  let run = true;
  const closers: (() => Promise<void>)[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });

  beforeAll(async () => {
    if (kind === 'redis' && !(await redisAvailable('session limits (redis)'))) {
      run = false;
      return;
    }
    let stores: SessionStore[];
    if (kind === 'memory') {
      const shared = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
      stores = [shared, shared];
    } else {
      const namespace = `yosai-faults-limits-${process.pid}`;
      const pair = redisStorePair(namespace);
      stores = [pair.a, pair.b];
      closers.push(pair.close);
    }
    watched = stores.map((s) => new WatchingStore(s));
    peek = stores[0];
    const yosai = {
      maxAttributes: MAX_ATTRIBUTES,
      maxRecordBytes: MAX_RECORD_BYTES,
      cookie: { secure: false },
    };
    express = await createTestApp({ platform: 'express', yosai: { ...yosai, store: watched[0] } });
    fastify = await createTestApp({ platform: 'fastify', yosai: { ...yosai, store: watched[1] } });
    ports = [await listen(express.app), await listen(fastify.app)];
  });
  afterAll(async () => {
    agent.destroy();
    if (!run) return;
    await express.close();
    await fastify.close();
    for (const close of closers) await close();
  });

  async function burst(valueOf: (i: number) => unknown) {
    const first = await send(ports[0], { method: 'PUT', path: '/attr/first', body: { value: 0 }, agent });
    expect(first.status).toBe(200);
    const token = cookieToken(first.headers)!;
    const sessionId = (JSON.parse(first.body.toString()) as { sessionId: string }).sessionId;
    const statuses = await pool(
      Array.from({ length: PUTS }, (_, i) => i),
      64,
      async (i) =>
        (
          await send(ports[i % 2], {
            method: 'PUT',
            path: `/attr/k${i}`,
            headers: { cookie: `sid=${token}` },
            body: { value: valueOf(i) },
            agent,
          })
        ).status,
    );
    const count = (s: number) => statuses.filter((x) => x === s).length;
    // On Redis the field model must be the one under test (the limits are judged inside its script).
    expect(peek.fieldRecords !== undefined && watched[0].fieldRecords !== undefined).toBe(kind === 'redis');
    if (peek.fieldRecords) {
      // The field model (Redis): a hash, its size the store-kept byte total `b`, which must match the fields. Writes
      // only add attributes here, so a final record within the limits was within them all along.
      const found = await peek.fieldRecords.read(sessionId);
      if (!found || !('fields' in found)) throw new Error('no field record');
      const { v, n, b, ...rest } = found.fields;
      void v;
      let bytes = 0;
      for (const [name, value] of Object.entries(rest))
        bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
      expect(Number(b)).toBe(bytes);
      const attributes = Object.keys(rest).filter((name) => name.startsWith('a:')).length;
      expect(Number(n)).toBe(attributes);
      return { count, statuses, bytes, attributes };
    }
    const raw = (await peek.get(sessionId))!;
    const stored = JSON.parse(raw) as { at: object };
    return { count, statuses, bytes: Buffer.byteLength(raw), attributes: Object.keys(stored.at).length };
  }

  it('maxAttributes: the record never holds more, and the writes beyond it are 413', async () => {
    if (!run) return;
    const { count, statuses, attributes } = await burst((i) => i);
    expect(new Set(statuses)).toEqual(new Set(statuses.filter((s) => [200, 413, 503].includes(s))));
    expect(count(413)).toBeGreaterThan(PUTS / 2);
    expect(attributes).toBe(MAX_ATTRIBUTES);
    // Every acknowledged write is in the record ('first' took one place).
    expect(count(200)).toBe(MAX_ATTRIBUTES - 1);
    for (const store of watched) expect(store.maxAttributes).toBeLessThanOrEqual(MAX_ATTRIBUTES);
  }, 120_000);

  it('maxRecordBytes: no record written is ever larger, and the writes beyond it are 413', async () => {
    if (!run) return;
    const { count, statuses, bytes, attributes } = await burst((i) => `${i}:`.padEnd(500, 'x'));
    expect(new Set(statuses)).toEqual(new Set(statuses.filter((s) => [200, 413, 503].includes(s))));
    expect(count(413)).toBeGreaterThan(PUTS / 2);
    expect(bytes).toBeLessThanOrEqual(MAX_RECORD_BYTES);
    expect(bytes).toBeGreaterThan(MAX_RECORD_BYTES - 600); // filled up to the limit
    expect(count(200)).toBe(attributes - 1);
    for (const store of watched) expect(store.maxBytes).toBeLessThanOrEqual(MAX_RECORD_BYTES);
  }, 120_000);
});
