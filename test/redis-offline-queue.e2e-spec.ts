import KeyvRedis from '@keyv/redis';
import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import { CacheManagerSessionStore, SessionStoreError } from '../src/index.js';
import { createManagerHarness, type ManagerHarness } from './support/manager-module.js';
import { OwnRedis, redisServerAvailable } from './support/redis.js';

// The README advises `disableOfflineQueue: true` for the Redis client. This proves the advice: with Redis
// dead, a store call fails at once with the client's own error instead of queueing until storeTimeoutMs
// (and then running after Redis returns, long after its request was answered 503).
(redisServerAvailable('redis-offline-queue') ? describe : describe.skip)(
  'Redis client with disableOfflineQueue',
  () => {
    const redis = new OwnRedis(6391);
    let h: ManagerHarness;
    let adapter: KeyvRedis<string>;

    beforeAll(async () => {
      await redis.start();
      adapter = new KeyvRedis({ url: redis.url, disableOfflineQueue: true });
      const keyv = new Keyv({ store: adapter, namespace: 'offline-queue', useKeyPrefix: false });
      h = await createManagerHarness({
        store: new CacheManagerSessionStore(createCache({ stores: [keyv] })),
        yosai: { storeTimeoutMs: 3_000 },
      });
    });
    afterAll(async () => {
      await h.close();
      await adapter.disconnect(true).catch(() => undefined);
      await redis.stop();
    });

    it('fails fast while Redis is down and works again once it is back', async () => {
      let token: string | null = null;
      const subject = await h.subjects.fromToken(null, { onToken: (t) => (token = t) });
      await subject.getSession();
      expect((await h.subjects.fromToken(token)).tokenStatus).toBe('valid');

      await redis.stop();
      // Wait until the client has noticed: a command written before that fails on the dead socket anyway.
      const ready = () => (adapter.client as { isReady?: boolean }).isReady;
      for (let i = 0; i < 100 && ready(); i++) await new Promise((r) => setTimeout(r, 20));
      expect(ready()).toBe(false);
      const failure = await h.subjects.fromToken(token).then(
        () => null,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(SessionStoreError);
      // Not the store timeout: the client refused the command itself.
      expect((failure as Error).message).not.toContain('no answer within');

      await redis.start();
      let resumed = false;
      for (let i = 0; i < 100 && !resumed; i++) {
        resumed = await h.manager.start().then(
          () => true,
          () => false,
        );
        if (!resumed) await new Promise((r) => setTimeout(r, 100));
      }
      expect(resumed).toBe(true);
    });
  },
);
