import request from 'supertest';
import { CacheManagerSessionStore, ManualClock } from '../src/index.js';
import { CountingStore } from './support/counting-store.js';
import { createTestApp, PLATFORMS, sessionCookie, type TestApp } from './support/test-app.js';

// Store traffic per request, counted at the SessionStore boundary of a real app.
describe.each(PLATFORMS)('store operations per request (%s)', (platform) => {
  let t: TestApp;
  let store: CountingStore;
  const clock = new ManualClock();
  beforeAll(async () => {
    store = new CountingStore(CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 }));
    t = await createTestApp({ platform, yosai: { store, clock, touchIntervalMs: 10_000 } });
  });
  afterAll(async () => {
    await t.close();
    await store.close();
  });

  it('an anonymous GET /whoami costs no store operation', async () => {
    store.reset();
    await request(t.app.getHttpServer()).get('/whoami').expect(200);
    await request(t.app.getHttpServer()).get('/whoami').set('Cookie', 'other=1').expect(200);
    expect(store.counts).toEqual({ get: 0, set: 0, compareAndSet: 0, delete: 0 });
  });

  it('a request with a live session whose touch is not due costs exactly one get', async () => {
    const server = t.app.getHttpServer();
    const put = await request(server).put('/attr/a').send({ value: 1 }).expect(200);
    const token = sessionCookie(put.headers)!;
    clock.advance(9_999);
    store.reset();
    await request(server).get('/whoami').set('Cookie', `sid=${token}`).expect(200);
    await request(server).get('/attr/a').set('Cookie', `sid=${token}`).expect(200, { value: 1 });
    expect(store.counts).toEqual({ get: 2, set: 0, compareAndSet: 0, delete: 0 });
    clock.advance(1);
    store.reset();
    await request(server).get('/whoami').set('Cookie', `sid=${token}`).expect(200);
    expect(store.counts).toEqual({ get: 1, set: 0, compareAndSet: 1, delete: 0 });
  });
});
