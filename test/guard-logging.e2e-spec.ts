import type { LoggerService } from '@nestjs/common';
import request from 'supertest';
import { redisSessionStore } from './support/redis.js';
import { createTestApp, PLATFORMS, type TestApp } from './support/test-app.js';

/** Collects every log line. */
class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  private push = (level: string, message: unknown, ...rest: unknown[]) =>
    this.lines.push(`${level} ${String(message)} ${rest.map(String).join(' ')}`);
  log = (m: unknown, ...r: unknown[]) => this.push('log', m, ...r);
  error = (m: unknown, ...r: unknown[]) => this.push('error', m, ...r);
  warn = (m: unknown, ...r: unknown[]) => this.push('warn', m, ...r);
  debug = (m: unknown, ...r: unknown[]) => this.push('debug', m, ...r);
  verbose = (m: unknown, ...r: unknown[]) => this.push('verbose', m, ...r);
}

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
    const errors = logger.lines.filter((l) => l.startsWith('error') && l.includes('Session store'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('get failed');
    expect(logger.lines.join('\n')).not.toContain(token);
  });
});
