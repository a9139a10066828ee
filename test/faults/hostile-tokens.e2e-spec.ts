// Hostile tokens: >10,000 generated cookie/header presentations, over real HTTP (Express and Fastify) and
// straight through SubjectFactory.fromRequest. Every one must give a guest (or 401 where identity is
// required), never a 5xx, never a store read for a value of the wrong shape, and never echo the input.
import { Agent } from 'node:http';
import { CacheManagerSessionStore, SubjectFactory, type Subject } from '../../src/index.js';
import { CountingStore } from '../support/counting-store.js';
import { createTestApp, PLATFORMS, type TestApp } from '../support/test-app.js';
import { CaptureLogger, cookieToken, listen, pool, send, type RawResponse } from './fault-kit.js';
import { hostileCases, type HostileCase } from './hostile-inputs.js';

const SEED = 0x7e57;
const NODE_MAX_HEADER = 16 * 1024;
const GUEST_STATUSES = ['none', 'malformed', 'unknown'];

/** Totals reported at the end (and quoted in the README's security notes). */
const totals = { cases: 0, http: { express: 0, fastify: 0 }, httpRefused: 0, direct: 0, directRawUnicode: 0 };

function headerBytes(c: HostileCase): number {
  return Object.entries(c.headers).reduce(
    (n, [k, v]) => n + k.length + (Array.isArray(v) ? v.join('').length : v.length),
    0,
  );
}

function responseText(res: RawResponse): string {
  return `${res.body.toString('latin1')}\n${JSON.stringify(res.headers)}`;
}

interface Booted {
  t: TestApp;
  store: CountingStore;
  logger: CaptureLogger;
  port: number;
  live: string;
}

async function boot(platform: 'express' | 'fastify'): Promise<Booted> {
  const store = new CountingStore(CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 }));
  const t = await createTestApp({ platform, yosai: { store, cookie: { secure: false }, header: {} } });
  const logger = new CaptureLogger();
  t.app.useLogger(logger);
  const port = await listen(t.app);
  const login = await send(port, {
    method: 'POST',
    path: '/login',
    body: { username: 'thedude', password: 'letsgobowling' },
  });
  expect(login.status).toBe(200);
  const live = cookieToken(login.headers)!;
  expect(live).toMatch(/^[A-Za-z0-9_-]{43}$/);
  return { t, store, logger, port, live };
}

describe.each(PLATFORMS)('hostile tokens over HTTP (%s)', (platform) => {
  let b: Booted;
  let agent: Agent;
  beforeAll(async () => {
    b = await boot(platform);
    agent = new Agent({ keepAlive: true, maxSockets: 24 });
  });
  afterAll(async () => {
    agent.destroy();
    await b.t.close();
  });

  // Over 10,000 HTTP requests: the same bound as the other bulk fault specs, so a busy machine (or two Jest
  // workers sharing two cores) does not fail it on time alone.
  it('every generated presentation gives a guest or 401; no 5xx, no wrong-shape store read, no echo', async () => {
    const cases = hostileCases(SEED, b.live);
    totals.cases = cases.length;
    expect(cases.length).toBeGreaterThanOrEqual(10_000);
    const sendable = cases.filter((c) => c.sendable);

    const baseline = [
      responseText(await send(b.port, { path: '/whoami', agent })),
      responseText(await send(b.port, { path: '/protected', agent })),
      responseText(await send(b.port, { path: '/whoami', agent, headers: { cookie: 'sid=x' } })),
    ].join('\n');

    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const fire = async (c: HostileCase, i: number) => {
      const path = i % 2 === 0 ? '/whoami' : '/protected';
      const where = `${c.family}/${c.placement} #${i} ${path}`;
      const oversized = headerBytes(c) > NODE_MAX_HEADER;
      let res: RawResponse;
      try {
        // Oversized requests get a connection of their own: the server may drop it (fastify resets it).
        res = await send(b.port, { path, headers: c.headers, agent: oversized ? undefined : agent });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (oversized && (code === 'ECONNRESET' || code === 'EPIPE')) {
          totals.httpRefused++;
          return;
        }
        throw error;
      }
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500) failures.push(`${where}: ${res.status}`);
      if (oversized) {
        // Node refuses the request before the app sees it.
        if (res.status !== 431) failures.push(`${where}: oversized headers gave ${res.status}`);
        else totals.httpRefused++;
      } else if (path === '/whoami') {
        const body = JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;
        if (
          res.status !== 200 ||
          body.authenticated !== false ||
          (body.identifiers as unknown[]).length !== 0 ||
          body.sessionId !== null ||
          !GUEST_STATUSES.includes(body.tokenStatus as string)
        ) {
          failures.push(`${where}: not a guest: ${res.status} ${res.body.toString('utf8').slice(0, 200)}`);
        }
      } else if (res.status !== 401) {
        failures.push(`${where}: /protected gave ${res.status}`);
      }
      const text = responseText(res);
      for (const needle of c.needles) {
        if (!baseline.includes(needle) && text.includes(needle))
          failures.push(`${where}: input echoed in the response`);
      }
      if (res.headers['x-session-token'] !== undefined) failures.push(`${where}: a token was issued`);
    };

    // Phase 1: everything that must not reach the store at all.
    b.store.reset();
    const none = sendable.filter((c) => c.expectReads === 'none');
    await pool(none, 24, fire);
    expect(failures.slice(0, 20)).toEqual([]);
    expect(b.store.counts).toEqual({ get: 0, set: 0, compareAndSet: 0, delete: 0 });

    // Phase 2: well-formed (unknown) tokens: at most one read each, and never a write.
    b.store.reset();
    const rest = sendable.filter((c) => c.expectReads !== 'none');
    await pool(rest, 24, fire);
    expect(failures.slice(0, 20)).toEqual([]);
    const mustRead = rest.filter((c) => c.expectReads === 'one').length;
    expect(mustRead).toBeGreaterThan(500);
    expect(b.store.counts.get).toBeGreaterThanOrEqual(mustRead);
    expect(b.store.counts.get).toBeLessThanOrEqual(rest.length);
    expect(b.store.counts.set + b.store.counts.compareAndSet + b.store.counts.delete).toBe(0);

    totals.http[platform] = none.length + rest.length;
    expect([...statuses.keys()].every((s) => s < 500)).toBe(true);
    // Nothing the clients sent shows up in the logs either.
    const logs = b.logger.lines.map((l) => l.text).join('\n');
    expect(sendable.filter((c) => c.needles.some((n) => logs.includes(n))).length).toBe(0);

    // The live session survived all of it (it was presented thousands of times next to garbage).
    const still = await send(b.port, { path: '/protected', headers: { cookie: `sid=${b.live}` }, agent });
    expect(still.status).toBe(200);
  }, 120_000);
});

describe('hostile tokens through SubjectFactory.fromRequest (every case, incl. what HTTP clients refuse to send)', () => {
  let b: Booted;
  beforeAll(async () => {
    b = await boot('express');
  });
  afterAll(() => b.t.close());

  /** A response object shaped like Express's, recording what the library writes. */
  function fakeResponse() {
    const headers = new Map<string, string | string[]>();
    return {
      headers,
      headersSent: false,
      getHeader: (n: string) => headers.get(n.toLowerCase()),
      setHeader: (n: string, v: string | string[]) => void headers.set(n.toLowerCase(), v),
      removeHeader: (n: string) => void headers.delete(n.toLowerCase()),
    };
  }

  it('guest Subject, exact store reads, no writes, nothing echoed into response headers', async () => {
    const subjects = b.t.app.get(SubjectFactory);
    const cases = hostileCases(SEED, b.live);
    const failures: string[] = [];
    const run = async (c: HostileCase, headers: Record<string, string | string[]>, label: string) => {
      b.store.reset();
      const res = fakeResponse();
      let subject: Subject;
      try {
        subject = await subjects.fromRequest({ headers, ip: '203.0.113.9', protocol: 'http' }, res);
      } catch (error) {
        failures.push(`${label}: threw ${String(error)}`);
        return;
      }
      if (subject.isAuthenticated || subject.identifiers.length > 0 || subject.session !== null) {
        failures.push(`${label}: not a guest`);
      }
      if (!GUEST_STATUSES.includes(subject.tokenStatus))
        failures.push(`${label}: tokenStatus ${subject.tokenStatus}`);
      const { get, set, compareAndSet, delete: del } = b.store.counts;
      if (set + compareAndSet + del > 0) failures.push(`${label}: store writes`);
      if (c.expectReads === 'none' && get !== 0)
        failures.push(`${label}: ${get} store reads for a wrong-shape value`);
      if (c.expectReads === 'one' && get !== 1) failures.push(`${label}: ${get} store reads (expected 1)`);
      if (c.expectReads === 'at-most-one' && get > 1) failures.push(`${label}: ${get} store reads`);
      const written = JSON.stringify([...res.headers.values()]);
      if (c.needles.some((n) => written.includes(n)))
        failures.push(`${label}: input echoed in a response header`);
    };
    let i = 0;
    for (const c of cases) {
      await run(c, c.headers, `${c.family}/${c.placement} #${i}`);
      totals.direct++;
      // Values with non-Latin-1 characters also as decoded JS strings (a framework that decodes UTF-8).
      if (JSON.stringify(c.rawHeaders) !== JSON.stringify(c.headers)) {
        await run({ ...c, needles: [] }, c.rawHeaders, `${c.family}/${c.placement} #${i} (decoded)`);
        totals.directRawUnicode++;
      }
      i++;
    }
    // A repeated Authorization header (an array) is ambiguous too.
    await run(
      {
        family: 'repeated-header',
        placement: 'authorization[]',
        headers: {},
        rawHeaders: {},
        expectReads: 'none',
        sendable: false,
        needles: [],
      },
      { authorization: [`Bearer ${b.live}`, 'Bearer x'] },
      'repeated authorization header',
    );
    expect(failures.slice(0, 20)).toEqual([]);
    expect(cases.filter((c) => !c.sendable).length).toBeGreaterThan(300);
    expect(b.logger.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
  });

  afterAll(() => {
    process.stdout.write(
      `hostile tokens: ${totals.cases} cases; HTTP express ${totals.http.express}, fastify ${totals.http.fastify} ` +
        `(${totals.httpRefused} oversized ones refused by Node: 431 or reset); direct ${totals.direct} + ${totals.directRawUnicode} decoded-unicode variants\n`,
    );
  });
});
