// Deeply nested attribute values (issue #12, bug 6): 0.1 recursed once per level and kept a copy of the
// ancestor list per level, so ~4,000 levels threw RangeError (an unexplained 500) and the check cost
// O(depth²). The refusal must be a SessionSerializationError, whatever the depth, and nothing is written.
import request from 'supertest';
import { CacheManagerSessionStore, SessionManager, SessionSerializationError } from '../../src/index.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { CountingStore } from '../support/counting-store.js';
import { createTestApp, PLATFORMS, sessionCookie, type TestApp } from '../support/test-app.js';

/** An array nested `depth` levels deep (`depth` 1 is `[0]`), built without recursion. */
function nested(depth: number): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** The same, as JSON text: what a client sends. */
const nestedJson = (depth: number) => '['.repeat(depth) + '0' + ']'.repeat(depth);

describe.each(PLATFORMS)('deeply nested attribute values (%s)', (platform) => {
  let t: TestApp;
  let server: Parameters<typeof request>[0];
  let store: CountingStore;
  const logger = new CapturingLogger();

  beforeAll(async () => {
    store = new CountingStore(CacheManagerSessionStore.inMemory());
    t = await createTestApp({ platform, yosai: { store } });
    t.app.useLogger(logger);
    server = t.app.getHttpServer() as Parameters<typeof request>[0];
  });
  afterAll(async () => {
    await t.close();
    await store.close();
  });

  it('4,000 levels from a request body: a generic 500, a SessionSerializationError logged, no RangeError', async () => {
    const guest = sessionCookie(
      (await request(server).put('/attr/k').send({ value: 1 }).expect(200)).headers,
    )!;
    logger.clear();
    store.reset();
    const res = await request(server)
      .put('/attr/deep')
      .set('Cookie', `sid=${guest}`)
      .set('Content-Type', 'application/json')
      .send(`{"value":${nestedJson(4_000)}}`)
      .expect(500);
    expect(res.body).toEqual({ statusCode: 500, message: 'Internal Server Error' });
    const log = logger.text();
    expect(log).toContain('nested more than 64 levels deep');
    expect(log).not.toContain('RangeError');
    expect(store.counts.set + store.counts.compareAndSet + store.counts.delete).toBe(0);
    await request(server).get('/attr/deep').set('Cookie', `sid=${guest}`).expect(404);
    await request(server).get('/attr/k').set('Cookie', `sid=${guest}`).expect(200, { value: 1 });
  });

  it('64 levels are stored and read back; 65 are refused', async () => {
    const res = await request(server)
      .put('/attr/deep')
      .set('Content-Type', 'application/json')
      .send(`{"value":${nestedJson(64)}}`)
      .expect(200);
    const token = sessionCookie(res.headers)!;
    const back = await request(server).get('/attr/deep').set('Cookie', `sid=${token}`).expect(200);
    expect(JSON.stringify(back.body.value)).toBe(nestedJson(64));
    await request(server)
      .put('/attr/deep')
      .set('Cookie', `sid=${token}`)
      .set('Content-Type', 'application/json')
      .send(`{"value":${nestedJson(65)}}`)
      .expect(500);
  });

  it('1,000,000 levels through the API: the typed error at once, at every entry point', async () => {
    const manager = t.app.get(SessionManager);
    const deep = nested(1_000_000);
    const { session } = await manager.startSession();
    const started = performance.now();
    await expect(session.setAttribute('deep', deep)).rejects.toBeInstanceOf(SessionSerializationError);
    await expect(manager.startSession({ attributes: { deep } })).rejects.toBeInstanceOf(
      SessionSerializationError,
    );
    // The refusal stops at the limit instead of walking the whole value (generous bound for a loaded machine).
    expect(performance.now() - started).toBeLessThan(1_000);
    // A value shared by two branches is not a cycle, and does not count twice toward the depth.
    const shared = nested(40);
    await session.setAttribute('shared', { a: shared, b: shared });
    expect(session.getAttribute('shared')).toEqual({ a: shared, b: shared });
  });
});
