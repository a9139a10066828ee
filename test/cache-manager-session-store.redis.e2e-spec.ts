// CacheManagerSessionStore over real Redis (@keyv/redis): the store contract, the key layout, and how a
// Redis that is missing or dies surfaces. The in-memory and generic Keyv cases are unit specs beside the store.
import { randomBytes } from 'node:crypto';
import { SessionStoreError } from '../src/index.js';
import { tokenOf } from '../src/session/session.js';
import { contractId, sessionStoreContract } from '../src/testing/index.js';
import { failure } from './support/failure.js';
import { createManagerHarness, type ManagerHarness } from './support/manager-module.js';
import {
  OwnRedis,
  portOpen,
  redisAvailable,
  redisServerAvailable,
  redisSessionStore,
  REDIS_URL,
} from './support/redis.js';

const RUN = `yosai-cmstore-spec-${process.pid}-${randomBytes(3).toString('hex')}`;

// Real Redis through @keyv/redis.
const hasRedis = await redisAvailable('CacheManagerSessionStore Redis contract');
if (hasRedis) {
  sessionStoreContract('Redis (@keyv/redis), Keyv namespace per namespace', {
    fieldRecords: true,
    expiryQueue: true,
    create: async (ns) => {
      const r = redisSessionStore(`${RUN}-${ns}`);
      expect(r.store.kind).toBe('redis');
      return { store: r.store, close: () => r.close() };
    },
  });
  sessionStoreContract('Redis (@keyv/redis), one Keyv namespace, prefix per namespace', {
    fieldRecords: true,
    expiryQueue: true,
    create: async (ns) => {
      const r = redisSessionStore(RUN, REDIS_URL, { prefix: `yosai:${ns}:` });
      return { store: r.store, close: () => r.close() };
    },
  });

  describe('Redis key layout', () => {
    it('the key is <namespace>::<prefix><id>, the value the exact string, PTTL the TTL asked for', async () => {
      const r = redisSessionStore(`${RUN}-layout`);
      try {
        const id = contractId();
        await r.store.set(id, '{"v":1}', 30_000);
        const client = await r.adapter.getClient();
        const key = `${RUN}-layout::yosai:sess:${id}`;
        await expect(client.get(key)).resolves.toBe('{"v":1}');
        const pttl = await client.pTTL(key);
        expect(pttl).toBeGreaterThan(25_000);
        expect(pttl).toBeLessThanOrEqual(30_000);
        await r.store.delete(id);
        await expect(client.exists(key)).resolves.toBe(0);
      } finally {
        await r.close();
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------------
describe('readNow on Redis', () => {
  (hasRedis ? it : it.skip)('Redis: the client’s own promise, null for none', async () => {
    const r = redisSessionStore(`${RUN}-readnow`);
    try {
      const id = contractId();
      await r.store.set(id, 'value', 60_000);
      const answer = r.store.readNow!(id);
      expect(answer).toBeInstanceOf(Promise);
      await expect(answer).resolves.toBe('value');
      await expect(r.store.readNow!(contractId())).resolves.toBeNull();
      expect(r.store.onExpired).toBeUndefined();
    } finally {
      await r.close();
    }
  });
});

describe('Redis failures surface as SessionStoreError', () => {
  let h: ManagerHarness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('Redis at a closed port: every operation rejects with SessionStoreError within storeTimeoutMs', async () => {
    const port = 6394;
    expect(await portOpen(`redis://127.0.0.1:${port}`)).toBe(false);
    const r = redisSessionStore(`${RUN}-closed`, `redis://127.0.0.1:${port}`);
    h = await createManagerHarness({ store: r.store, yosai: { storeTimeoutMs: 250 } });
    try {
      for (const op of [() => h!.manager.start(), () => h!.manager.resolve(contractId())]) {
        const { error, ms } = await failure(op);
        expect(error).toBeInstanceOf(SessionStoreError);
        expect(ms).toBeLessThan(250 + 2000);
      }
    } finally {
      await r.adapter.disconnect(true);
    }
  });

  const hasServer = redisServerAvailable('own-redis failure test');

  (hasServer ? it : it.skip)(
    'a Redis that dies: operations reject with SessionStoreError within storeTimeoutMs',
    async () => {
      const own = new OwnRedis(6390);
      await own.start();
      const r = redisSessionStore(`${RUN}-own`, own.url);
      try {
        h = await createManagerHarness({ store: r.store, yosai: { storeTimeoutMs: 250 } });
        const session = await h.manager.start({ attributes: { a: 1 } });
        await expect(h.manager.resolve(tokenOf(session))).resolves.toMatchObject({ status: 'valid' });

        await own.stop();
        for (const op of [
          () => h!.manager.resolve(tokenOf(session)),
          () => session.setAttribute('b', 2),
          () => h!.manager.start(),
          () => session.stop(),
        ]) {
          const { error, ms } = await failure(op);
          expect(error).toBeInstanceOf(SessionStoreError);
          expect(ms).toBeLessThan(250 + 2000);
        }
      } finally {
        await own.stop();
        await r.adapter.disconnect(true).catch(() => undefined);
      }
    },
  );
});
