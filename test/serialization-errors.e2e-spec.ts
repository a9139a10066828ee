import request from 'supertest';
import { CapturingLogger } from './support/capturing-logger.js';
import { createTestApp, PLATFORMS, type TestApp } from './support/test-app.js';

// A value (or key) the app's own code tries to store is a programming error: a generic 500 for the client, the
// reason in the log. 0.1 answered 400 and echoed the attribute path to the client.
describe.each(PLATFORMS)('unstorable attribute (%s)', (platform) => {
  let t: TestApp;
  const logger = new CapturingLogger();

  beforeAll(async () => {
    t = await createTestApp({ platform });
    t.app.useLogger(logger);
  });
  afterAll(() => t.close());

  it('answers a generic 500, writes nothing, and logs what was refused', async () => {
    logger.clear();
    const res = await request(t.app.getHttpServer()).put('/attr-unstorable').expect(500);
    expect(JSON.stringify(res.body)).not.toContain('secret-path');
    expect(res.body).toEqual({ statusCode: 500, message: 'Internal Server Error' });
    const errors = logger.at('error');
    expect(errors).toHaveLength(1);
    expect(errors[0].text).toContain('`secret-path.inner` cannot be stored: an instance of Map');
  });
});
