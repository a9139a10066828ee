import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import supertest from 'supertest';
import { SubjectFactory } from '../src/index.js';
import { createTestApp, PLATFORMS, sessionCookie, type TestApp } from './support/test-app.js';

/** One GET with headers given as arrays, so a header can be sent twice (supertest merges them). */
function rawGet(app: TestApp, path: string, headers: Record<string, string | string[]>) {
  const { port } = (app.app.getHttpServer() as { address(): AddressInfo }).address();
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.each(PLATFORMS)('token parsing (%s)', (platform) => {
  let t: TestApp;
  let live: string;

  beforeAll(async () => {
    t = await createTestApp({ platform, yosai: { header: {} } });
    await t.app.listen(0, '127.0.0.1');
    const login = await supertest(t.app.getHttpServer())
      .post('/login')
      .send({ username: 'thedude', password: 'letsgobowling' })
      .expect(200);
    live = sessionCookie(login.headers)!;
  });
  afterAll(() => t.close());

  it('a second Authorization header cannot hide behind the first: two tokens are ambiguous', async () => {
    const one = await rawGet(t, '/protected', { authorization: `Bearer ${live}` });
    expect(one.status).toBe(200);
    const two = await rawGet(t, '/protected', {
      authorization: [`Bearer ${live}`, `Bearer ${'B'.repeat(43)}`],
    });
    expect(two.status).toBe(401);
  });

  it('another Authorization scheme (Basic) is not a session token and leaves the cookie in charge', async () => {
    const res = await supertest(t.app.getHttpServer())
      .get('/protected')
      .set('Cookie', `sid=${live}`)
      .set('Authorization', 'Basic dXNlcjpwYXNz')
      .expect(200);
    expect(sessionCookie(res.headers)).toBeUndefined(); // not cleared
  });

  it('an empty Bearer beside a live cookie is a bad presentation: guest, no store read', async () => {
    await supertest(t.app.getHttpServer())
      .get('/protected')
      .set('Cookie', `sid=${live}`)
      .set('Authorization', 'Bearer ')
      .expect(401);
  });
});

describe('token parsing stays linear in the size of hostile headers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ platform: 'express', yosai: { header: { name: 'x-token' } } });
  });
  afterAll(() => t.close());

  // Runs of blanks once cost quadratic time (a regular-expression trim): a 16 KB header took ~100 ms,
  // a 1 MB one would take minutes and so trip Jest's timeout. Straight through the factory, because
  // Node's HTTP server refuses headers this large before any app code sees them.
  it.each([
    ['a cookie name (not ours)', { cookie: `a${' '.repeat(1 << 20)}b=1` }, 'none'],
    ['a cookie value', { cookie: `sid=a${'\t'.repeat(1 << 20)}b` }, 'malformed'],
    ['a token header', { 'x-token': `a${' '.repeat(1 << 20)}b` }, 'malformed'],
    ['trailing blanks', { cookie: `sid=${'A'.repeat(43)}${' '.repeat(1 << 20)}x` }, 'malformed'],
  ])('1 MB of blanks in %s resolves to a guest', async (_label, headers, status) => {
    const subjects = t.app.get(SubjectFactory);
    const subject = await subjects.fromRequest({ headers });
    expect(subject.isAuthenticated).toBe(false);
    expect(subject.tokenStatus).toBe(status);
  });

  // Parts without `=` once made the search for each part's `=` run to the header's end: 1 MB of `;` took 7 s,
  // so 4 MB would take about two minutes, past Jest's timeout.
  it.each([
    ['alone', { cookie: ';'.repeat(1 << 22) }, 'none'],
    ['before a cookie', { cookie: `${';'.repeat(1 << 22)}x=1` }, 'none'],
    ['before the session cookie', { cookie: `${'a;'.repeat(1 << 21)}sid=${'A'.repeat(42)}*` }, 'malformed'],
  ])('4 MB of cookie parts without "=" %s resolves to a guest', async (_label, headers, status) => {
    const subjects = t.app.get(SubjectFactory);
    const subject = await subjects.fromRequest({ headers });
    expect(subject.isAuthenticated).toBe(false);
    expect(subject.tokenStatus).toBe(status);
  });
});
