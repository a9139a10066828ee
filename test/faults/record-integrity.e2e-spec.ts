// Record integrity (recordKeys): a record forged straight into Redis under the module's key, as someone with
// write access to the store but not the keys would, logs nobody in when keys are set (it is discarded and
// logged); the same record is honoured without keys. A signed record copied under another session's id is
// refused too. Express and Fastify.
import { randomBytes } from 'node:crypto';
import { bucketTag, sessionBucketOf } from '../../src/store/session-tag.js';
import { createClient } from 'redis';
import { redisAvailable, redisSessionStore, REDIS_URL } from '../support/redis.js';
import { createTestApp, PLATFORMS, USERS, type Platform, type TestApp } from '../support/test-app.js';
import { CaptureLogger, cookieToken, idOf, listen, send } from './fault-kit.js';

const KEYS = [randomBytes(32).toString('base64url')];
const forged = () =>
  JSON.stringify({
    v: 1,
    s: Date.now(),
    l: Date.now(),
    i: 1_800_000,
    x: 28_800_000,
    h: null,
    u: ['thedude'],
    au: true,
    at: {},
  });

const up = await redisAvailable('record integrity (redis)');

describe.each(PLATFORMS.flatMap((p) => [[p, true] as const, [p, false] as const]))(
  'forged records in Redis (%s, recordKeys set: %s)',
  (platform: Platform, signed: boolean) => {
    const namespace = `yosai-faults-integrity-${process.pid}-${platform}-${signed}`;
    const key = (id: string) => `${namespace}::yosai:sess:${id}`;
    const fieldKey = (id: string) => `${namespace}::yosai:sess:{${bucketTag(sessionBucketOf(id))}}${id}`;
    let t: TestApp;
    let port: number;
    let logger: CaptureLogger;
    let r: ReturnType<typeof redisSessionStore>;
    let raw: ReturnType<typeof createClient>;

    beforeAll(async () => {
      if (!up) return;
      r = redisSessionStore(namespace);
      raw = createClient({ url: REDIS_URL });
      await raw.connect();
      t = await createTestApp({
        platform,
        yosai: { store: r.store, cookie: { secure: false }, ...(signed && { recordKeys: KEYS }) },
      });
      logger = new CaptureLogger();
      t.app.useLogger(logger);
      port = await listen(t.app);
    });
    afterAll(async () => {
      if (!up) return;
      await t.close();
      const keys = await raw.keys(`${namespace}::*`);
      if (keys.length) await raw.del(keys);
      raw.destroy();
      await r.close();
    });

    const whoami = async (token: string) =>
      JSON.parse(
        (await send(port, { path: '/whoami', headers: { cookie: `sid=${token}` } })).body.toString(),
      ) as { authenticated: boolean; tokenStatus: string };

    it(
      signed ? 'a forged record is refused and removed' : 'a forged record is honoured (no keys)',
      async () => {
        if (!up) return;
        const token = randomBytes(32).toString('base64url');
        await raw.set(key(idOf(token)), forged(), { PX: 60_000 });
        const me = await whoami(token);
        if (signed) {
          expect(me).toMatchObject({ authenticated: false, tokenStatus: 'unknown' });
          expect(await raw.exists(key(idOf(token)))).toBe(0);
          expect(
            logger
              .at('warn')
              .map((l) => l.text)
              .join('\n'),
          ).toMatch(/Discarded an unreadable session record.*signed/);
        } else {
          expect(me).toMatchObject({ authenticated: true, tokenStatus: 'valid' });
        }
      },
    );

    it('a real session works, and its record copied under another id works only without keys', async () => {
      if (!up) return;
      const login = await send(port, {
        method: 'POST',
        path: '/login',
        body: { username: 'thedude', password: USERS.thedude },
      });
      const token = cookieToken(login.headers)!;
      expect(await whoami(token)).toMatchObject({ authenticated: true, tokenStatus: 'valid' });
      const mine = randomBytes(32).toString('base64url');
      if (signed) {
        // Signed records stay whole strings (the MAC covers the whole record).
        const stored = (await raw.get(key(idOf(token))))!;
        expect(stored.startsWith('h1.')).toBe(true);
        await raw.set(key(idOf(mine)), stored, { PX: 60_000 });
      } else {
        // Without keys, the field model: a hash, copied field by field.
        const fields = await raw.hGetAll(fieldKey(idOf(token)));
        // The compact metadata: version 2, three times, then the authenticated flag.
        expect(fields.m).toMatch(/^2,[0-9a-z]+,[0-9a-z]+,[0-9a-z]+,1,/);
        await raw.hSet(fieldKey(idOf(mine)), fields);
        await raw.pExpire(fieldKey(idOf(mine)), 60_000);
      }
      expect((await whoami(mine)).authenticated).toBe(!signed);
    });
  },
);
