// Corrupt records: values that are not valid session records, written straight into the store under the
// module's own keys (memory: through the store; Redis: a raw client on the exact key). Each must give a
// guest, remove the record, log exactly one warning without the token, and never answer 500.
import { randomBytes } from 'node:crypto';
import { bucketTag, sessionBucketOf } from '../../src/store/session-tag.js';
import { createClient } from 'redis';
import { CacheManagerSessionStore, type SessionStore } from '../../src/index.js';
import { redisAvailable, redisSessionStore, REDIS_URL } from '../support/redis.js';
import { createTestApp, type Platform, type TestApp } from '../support/test-app.js';
import { CaptureLogger, cookieToken, idOf, listen, send } from './fault-kit.js';

const NOW = Date.now();
/** A valid stored record (the compact envelope of session.serializer.ts: s startedAt, l lastAccessedAt,
 * i idleTimeoutMs, x absoluteTimeoutMs, h host, u identifiers, au authenticated, at attributes). */
const valid = {
  v: 1,
  s: NOW,
  l: NOW,
  i: 1_800_000,
  x: 28_800_000,
  h: null,
  u: ['thedude'],
  au: true,
  at: {},
};
const validJson = JSON.stringify(valid);
const withField = (patch: Record<string, unknown>) => JSON.stringify({ ...valid, ...patch });
const without = (field: string) =>
  JSON.stringify(Object.fromEntries(Object.entries(valid).filter(([k]) => k !== field)));

/** Not one of these may be honoured: several would log a user in if the reader were lenient. */
export const CORRUPT: [string, string][] = [
  ['garbage bytes', 'not json \u0000\u00ff\ufffd at all'],
  ['empty string', ''],
  ['truncated JSON', validJson.slice(0, Math.floor(validJson.length / 2))],
  ['truncated by one byte', validJson.slice(0, -1)],
  ['unknown older schema version (v: 0)', withField({ v: 0 })],
  ['fractional schema version (v: 1.5)', withField({ v: 1.5 })],
  ['schema version as string', withField({ v: '1' })],
  ['no schema version', without('v')],
  ['startedAt as a date string', withField({ s: new Date(NOW).toISOString() })],
  ['negative lastAccessedAt', withField({ l: -5 })],
  ['idleTimeoutMs as string', withField({ i: '1800000' })],
  ['identifiers as a string', withField({ u: 'thedude' })],
  ['identifiers with a number', withField({ u: [1] })],
  ['authenticated as "true"', withField({ au: 'true' })],
  ['authenticated as 1', withField({ au: 1 })],
  ['attributes as an array', withField({ at: [] })],
  ['attributes null', withField({ at: null })],
  ['host as a number', withField({ h: 127001 })],
  ['missing authenticated', without('au')],
  ['JSON array', '[1,2,3]'],
  ['JSON null', 'null'],
  ['JSON number', '42'],
  ['JSON string', '"a string"'],
  ['huge string (1 MB)', JSON.stringify('x'.repeat(1024 * 1024))],
  ['huge version field (100 KB)', withField({ v: 'v'.repeat(100 * 1024) })],
  // JSON.parse reads it; any later walk of it (a touch's write, reading the attribute) would exhaust the stack.
  [
    'an attribute nested 200,000 levels deep',
    validJson.replace('"at":{}', `"at":{"d":${'['.repeat(200_000)}${']'.repeat(200_000)}}`),
  ],
];

interface Target {
  name: string;
  platform: Platform;
  make(): Promise<{
    store: SessionStore;
    write(id: string, value: string): Promise<void>;
    exists(id: string): Promise<boolean>;
    close(): Promise<void>;
  }>;
}

const NAMESPACE = `yosai-faults-corrupt-${process.pid}`;

const targets: Target[] = [
  {
    name: 'memory',
    platform: 'express',
    make: async () => {
      const store = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
      return {
        store,
        write: (id, value) => store.set(id, value, 60_000),
        exists: async (id) => (await store.get(id)) !== undefined,
        close: () => store.close(),
      };
    },
  },
  {
    name: 'redis',
    platform: 'fastify',
    make: async () => {
      const r = redisSessionStore(NAMESPACE);
      const raw = createClient({ url: REDIS_URL });
      await raw.connect();
      // The exact key the module uses: Keyv namespace + '::' + prefix + base64url(sha256(token)).
      const key = (id: string) => `${NAMESPACE}::yosai:sess:${id}`;
      return {
        store: r.store,
        write: async (id, value) => {
          await raw.set(key(id), value, { PX: 60_000 });
        },
        // A new session is a hash under its hash-tagged key (the field model); the corrupt strings below are
        // written where the string model keeps records, which the field model reads as records of an earlier release.
        exists: async (id) =>
          (await raw.exists([
            key(id),
            `${NAMESPACE}::yosai:sess:{${bucketTag(sessionBucketOf(id))}}${id}`,
          ])) === 1,
        close: async () => {
          const keys = await raw.keys(`${NAMESPACE}::*`);
          if (keys.length) await raw.del(keys);
          raw.destroy();
          await r.close();
        },
      };
    },
  },
];

describe.each(targets)('corrupt records ($name store)', (target) => {
  let t: TestApp;
  let port: number;
  let logger: CaptureLogger;
  let kit: Awaited<ReturnType<Target['make']>>;
  let run = true;

  beforeAll(async () => {
    if (target.name === 'redis' && !(await redisAvailable('corrupt records (redis)'))) {
      run = false;
      return;
    }
    kit = await target.make();
    t = await createTestApp({
      platform: target.platform,
      yosai: { store: kit.store, cookie: { secure: false } },
    });
    logger = new CaptureLogger();
    t.app.useLogger(logger);
    port = await listen(t.app);
  });
  afterAll(async () => {
    if (!run) return;
    await t.close();
    await kit.close();
  });

  it('the helper writes under the module key (a real session is found there)', async () => {
    if (!run) return;
    const res = await send(port, { method: 'PUT', path: '/attr/x', body: { value: 1 } });
    const token = cookieToken(res.headers)!;
    expect(await kit.exists(idOf(token))).toBe(true);
  });

  it('the valid record the cases below corrupt is itself honoured (so each case fails for its own fault)', async () => {
    if (!run) return;
    const token = randomBytes(32).toString('base64url');
    await kit.write(idOf(token), validJson);
    const res = await send(port, { path: '/whoami', headers: { cookie: `sid=${token}` } });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toMatchObject({
      authenticated: true,
      identifiers: ['thedude'],
      tokenStatus: 'valid',
    });
  });

  it.each(CORRUPT)(
    '%s → guest, record removed, one warning without the token, no 500',
    async (_label, value) => {
      if (!run) return;
      for (const path of ['/whoami', '/protected', '/attr/x']) {
        const token = randomBytes(32).toString('base64url');
        const id = idOf(token);
        await kit.write(id, value);
        expect(await kit.exists(id)).toBe(true);
        logger.clear();
        const res = await send(port, { path, headers: { cookie: `sid=${token}` } });
        if (path === '/whoami') {
          expect(res.status).toBe(200);
          expect(JSON.parse(res.body.toString())).toEqual({
            authenticated: false,
            identifiers: [],
            sessionId: null,
            tokenStatus: 'unknown',
          });
          // The client is told to drop the cookie.
          expect(cookieToken(res.headers)).toBe('');
        } else if (path === '/protected') {
          expect(res.status).toBe(401);
        } else {
          expect(res.status).toBe(404); // no session, so no attribute
        }
        expect(await kit.exists(id)).toBe(false);
        const warnings = logger.lines.filter((l) => l.level === 'warn');
        expect(warnings).toHaveLength(1);
        expect(warnings[0].text).toContain(id); // the public id, to find the record
        expect(warnings[0].text).not.toContain(token);
        expect(warnings[0].text.length).toBeLessThan(1000); // a stored value cannot blow up the log
        expect(logger.lines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
      }
    },
  );

  it('a record of a newer schema version (a newer release, rolling deploy) → guest, record and cookie kept, no log', async () => {
    if (!run) return;
    for (const path of ['/whoami', '/protected']) {
      const token = randomBytes(32).toString('base64url');
      const id = idOf(token);
      const newer = withField({ v: 2 });
      await kit.write(id, newer);
      logger.clear();
      const res = await send(port, { path, headers: { cookie: `sid=${token}` } });
      expect(res.status).toBe(path === '/whoami' ? 200 : 401);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(await kit.exists(id)).toBe(true);
      expect(
        logger.lines.filter((l) => l.level !== 'log' && l.level !== 'debug' && l.level !== 'verbose'),
      ).toEqual([]);
    }
  });

  it('a record with "__proto__" attributes is read without polluting prototypes', async () => {
    if (!run) return;
    const token = randomBytes(32).toString('base64url');
    await kit.write(
      idOf(token),
      withField({ at: JSON.parse('{"__proto__":{"polluted":true},"cart":[1]}') as unknown }),
    );
    const res = await send(port, { path: '/attr/cart', headers: { cookie: `sid=${token}` } });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toEqual({ value: [1] });
    const proto = await send(port, { path: '/attr/__proto__', headers: { cookie: `sid=${token}` } });
    expect(proto.status).toBe(200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });
});
