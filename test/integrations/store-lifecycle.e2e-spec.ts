import { randomUUID } from 'node:crypto';
import { Module } from '@nestjs/common';
import { CACHE_MANAGER, CacheModule } from '@nestjs/cache-manager';
import { APP_GUARD } from '@nestjs/core';
import KeyvRedis, { createClient } from '@keyv/redis';
import type { Cache } from 'cache-manager';
import { jest } from '@jest/globals';
import request from 'supertest';
import { CacheManagerSessionStore, SessionStore, YosaiGuard, YosaiModule } from '../../src/index.js';
import { bootApp, SignInController } from '../support/boot.js';
import { bucketTag, expirySubqueueOf, sessionBucketOf } from '../../src/store/session-tag.js';
import { sessionIdOf } from '../support/cookies.js';
import { redisAvailable, redisSessionStore, REDIS_URL } from '../support/redis.js';
import { MapRealm, PLATFORMS, sessionCookie, TEST_HASHING, USERS } from '../support/test-app.js';

// Who closes the store at `app.close()`: the module closes what it made and what it was handed
// (`closeStoreOnShutdown`); a store the app passes is otherwise the app's. A Redis connection left open keeps
// Node (and Jest) running after the tests, so these look at the client itself.
const RUN = `lifecycle-${randomUUID().slice(0, 8)}`;
let redisUp = false;
beforeAll(async () => {
  redisUp = await redisAvailable('store lifecycle');
});

describe('the store the module makes', () => {
  it('is closed by app.close()', async () => {
    @Module({ imports: [YosaiModule.forRoot({ cookie: { secure: false } })] })
    class AppModule {}
    const app = await bootApp(AppModule, 'express');
    const store = app.get(SessionStore);
    const close = jest.spyOn(store, 'close');
    await app.close();
    expect(close).toHaveBeenCalledTimes(1);
  });
});

describe('a Redis store the app passes', () => {
  async function appWith(namespace: string, closeStoreOnShutdown?: boolean) {
    const redis = redisSessionStore(`${RUN}-${namespace}`);
    @Module({
      imports: [
        YosaiModule.forRoot({
          store: redis.store,
          cookie: { secure: false },
          ...(closeStoreOnShutdown === undefined ? {} : { closeStoreOnShutdown }),
        }),
      ],
    })
    class AppModule {}
    const app = await bootApp(AppModule, 'express');
    // The module waits for the store at bootstrap, so the connection is open here.
    const client = await redis.adapter.getClient();
    expect(client.isOpen).toBe(true);
    return { app, client, redis };
  }

  it('is left open by default: the app closes it', async () => {
    if (!redisUp) return;
    const { app, client, redis } = await appWith('default');
    await app.close();
    expect(client.isOpen).toBe(true);
    await redis.store.close();
    expect(client.isOpen).toBe(false);
  });

  it('is closed by app.close() when handed over (closeStoreOnShutdown: true)', async () => {
    if (!redisUp) return;
    const { app, client } = await appWith('handed-over', true);
    await app.close();
    expect(client.isOpen).toBe(false);
  });

  it('closeStoreOnShutdown: false is the default, said explicitly', async () => {
    if (!redisUp) return;
    const { app, client, redis } = await appWith('kept', false);
    await app.close();
    expect(client.isOpen).toBe(true);
    await redis.close();
  });
});

describe.each(PLATFORMS)("@nestjs/cache-manager's CACHE_MANAGER reused as the store (%s)", (platform) => {
  const namespace = `${RUN}-cachemodule-${platform}`;
  const raw = createClient({ url: REDIS_URL });
  let realm: MapRealm;

  beforeAll(async () => {
    realm = await MapRealm.create(USERS);
    if (redisUp) await raw.connect();
  });
  afterAll(async () => {
    if (!redisUp) return;
    const keys = await raw.keys(`${namespace}*`);
    if (keys.length) await raw.del(keys);
    await raw.close();
  });

  it('stores sessions under <namespace>::yosai:sess:<id> (the namespace once), and CacheModule closes the client', async () => {
    if (!redisUp) return;
    // As Nest's caching docs set it up: a Keyv adapter and a namespace, which @nestjs/cache-manager wraps in a Keyv
    // instance that prefixes keys itself (useKeyPrefix) and hands the namespace to the adapter too.
    const adapter = new KeyvRedis(REDIS_URL);
    @Module({
      imports: [
        YosaiModule.forRootAsync({
          imports: [CacheModule.register({ stores: [adapter], namespace })],
          inject: [CACHE_MANAGER],
          useFactory: (cache: Cache) => ({
            store: new CacheManagerSessionStore(cache),
            realm,
            passwordHashing: TEST_HASHING,
            cookie: { secure: false },
          }),
        }),
      ],
      controllers: [SignInController],
      providers: [{ provide: APP_GUARD, useClass: YosaiGuard }],
    })
    class AppModule {}
    const app = await bootApp(AppModule, platform);
    const server = app.getHttpServer();

    const login = await request(server).post('/login').send({ username: 'thedude', password: USERS.thedude });
    expect(login.status).toBe(200);
    const token = sessionCookie(login.headers)!;
    const me = await request(server).get('/whoami').set('Cookie', `sid=${token}`).expect(200);
    expect(me.body).toEqual({ username: 'thedude' });

    // The field model's key: the namespace once, the prefix, the id's bucket as a hash tag, the id.
    const id = sessionIdOf(token);
    // Besides it, only the login throttle's counter for the client address (a success gives its place back).
    const keys = await raw.keys(`${namespace}*`);
    const tag = bucketTag(sessionBucketOf(id));
    expect(
      keys.filter((key) => !key.startsWith(`${namespace}::yosai:sess:yosai-login-throttle:`)).sort(),
    ).toEqual(
      [
        `${namespace}::yosai:sess:{${tag}}${id}`,
        // The session's sub-queue of its bucket's expiry queue (the sweeper's).
        `${namespace}::yosai:sess:{${tag}}:expiry:${expirySubqueueOf(id)}`,
      ].sort(),
    );

    const client = adapter.client;
    expect(client.isOpen).toBe(true);
    await app.close();
    expect(client.isOpen).toBe(false);
  });
});
