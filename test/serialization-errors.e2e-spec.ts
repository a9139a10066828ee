import request from 'supertest';
import { CapturingLogger } from './support/capturing-logger.js';
import { createTestApp, PLATFORMS, type TestApp } from './support/test-app.js';

// Domain errors thrown while a handler runs: what the client gets, and what the log keeps.
describe.each(PLATFORMS)('domain errors from handlers (%s)', (platform) => {
  let t: TestApp;
  const logger = new CapturingLogger();

  beforeAll(async () => {
    t = await createTestApp({ platform });
    t.app.useLogger(logger);
  });
  afterAll(() => t.close());

  // A value (or key) the app's own code tries to store is a programming error: a generic 500 for the client, the
  // reason in the log. 0.1 answered 400 and echoed the attribute path to the client.
  it('an unstorable attribute: a generic 500, nothing written, and the log says what was refused', async () => {
    logger.clear();
    const res = await request(t.app.getHttpServer()).put('/attr-unstorable').expect(500);
    expect(JSON.stringify(res.body)).not.toContain('secret-path');
    expect(res.body).toEqual({ statusCode: 500, message: 'Internal Server Error' });
    const errors = logger.at('error');
    expect(errors).toHaveLength(1);
    expect(errors[0].text).toContain('`secret-path.inner` cannot be stored: an instance of Map');
  });

  // A handler that answered by hand (`@Res()`) and then threw: the filter must not answer again (on Express that
  // threw ERR_HTTP_HEADERS_SENT inside the filter, which Nest logged as an error with a stack).
  it('after the handler answered: the answer stands, and only the domain error is logged', async () => {
    logger.clear();
    const res = await request(t.app.getHttpServer()).get('/answered-then-failed').expect(200);
    expect(res.text).toBe('answered');
    const errors = logger.at('error').map((l) => l.text);
    expect(errors).toEqual([expect.stringContaining('Session store get failed: after the answer')]);
  });
});
