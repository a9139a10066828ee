import request from 'supertest';
import { CapturingLogger } from './support/capturing-logger.js';
import { redisSessionStore } from './support/redis.js';
import { createTestApp, PLATFORMS, type TestApp } from './support/test-app.js';

// A store outage must show in the app's logs, not only as 503s; and the log line must not hold the token.
describe.each(PLATFORMS)('guard logs store failures (%s)', (platform) => {
  let t: TestApp;
  let closeStore: () => Promise<unknown>;
  const logger = new CapturingLogger();

  beforeAll(async () => {
    // Nothing listens on 6399: every store operation fails.
    const dead = redisSessionStore(`guard-logging-${platform}`, 'redis://127.0.0.1:6399');
    closeStore = () => dead.adapter.disconnect(true).catch(() => undefined);
    t = await createTestApp({ platform, yosai: { store: dead.store, storeTimeoutMs: 300 } });
    t.app.useLogger(logger);
  });
  afterAll(async () => {
    await t.close();
    await closeStore();
  });

  it('answers 503 and logs one error without the token', async () => {
    const token = 'A'.repeat(43);
    await request(t.app.getHttpServer()).get('/whoami').set('Cookie', `sid=${token}`).expect(503);
    const errors = logger.at('error').filter((l) => l.text.includes('Session store'));
    expect(errors).toHaveLength(1);
    expect(errors[0].text).toContain('get failed');
    expect(logger.text()).not.toContain(token);
  });
});
