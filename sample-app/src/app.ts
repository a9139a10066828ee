import 'reflect-metadata';
import KeyvRedis from '@keyv/redis';
import { Logger, type LoggerService, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { WsAdapter } from '@nestjs/platform-ws';
import { createCache, type Cache } from 'cache-manager';
import { Keyv } from 'keyv';
import {
  CacheManagerSessionStore,
  type Clock,
  type SessionStore,
  type YosaiModuleOptions,
} from 'nestjs-yosai';
import { useJsonBodies } from './json-body.middleware.js';
import {
  describeRedis,
  LIMITS,
  readSampleConfig,
  REDIS_NAMESPACE,
  type RedisTarget,
  type SampleConfig,
} from './sample.config.js';
import { SampleModule } from './sample.module.js';
import { SampleRealm } from './sample.realm.js';

export interface SampleApp {
  /** The Nest app, initialised but not listening. */
  readonly app: NestExpressApplication;
  readonly config: SampleConfig;
}

export interface CreateSampleAppOptions {
  /** Nest's logger option. @default Nest's console logger */
  logger?: LoggerService | LogLevel[] | false;
  /** Source of time, for tests that move it (`ManualClock`). @default Date.now */
  clock?: Clock;
}

const logger = new Logger('SampleApp');

interface RedisStore {
  store: SessionStore;
  cache: Cache;
}

/** How long the sample waits for Redis at startup before it gives up. */
const CONNECT_TIMEOUT_MS = 2_000;

/**
 * The `@keyv/redis` adapter for the target: a client for one server, a cluster client, or a sentinel client.
 * disableOfflineQueue: while Redis is down, commands fail at once (503) instead of queueing and running after
 * Redis returns, long after their requests were answered (see the README's Redis section).
 */
function redisAdapter(target: RedisTarget): KeyvRedis<unknown> {
  const node = { disableOfflineQueue: true, socket: { connectTimeout: CONNECT_TIMEOUT_MS } };
  const options = { throwOnConnectError: true, connectionTimeout: CONNECT_TIMEOUT_MS };
  // @keyv/redis makes the client from its options: createCluster for rootNodes, createSentinel for sentinelRootNodes.
  if (target.kind === 'cluster') {
    const rootNodes = target.nodes.map(({ host, port }) => ({
      url: `redis://${host.includes(':') ? `[${host}]` : host}:${port}`,
    }));
    return new KeyvRedis({ rootNodes, defaults: node }, options);
  }
  if (target.kind === 'sentinel') {
    const sentinel = {
      name: target.name,
      sentinelRootNodes: [...target.sentinels],
      nodeClientOptions: node,
      sentinelClientOptions: { socket: { connectTimeout: CONNECT_TIMEOUT_MS } },
    };
    return new KeyvRedis(sentinel, options);
  }
  return new KeyvRedis({ url: target.url, ...node }, options);
}

/** Sessions in Redis through @keyv/redis, under their own namespace. Fails fast when Redis does not answer. */
async function redisStore(
  target: RedisTarget,
  waitForReplicas: SampleConfig['waitForReplicas'],
): Promise<RedisStore> {
  const cache = createCache({
    stores: [new Keyv({ store: redisAdapter(target), namespace: REDIS_NAMESPACE, useKeyPrefix: false })],
  });
  // waitForReplicas (REDIS_WAIT_REPLICAS): a logout answers only once that many replicas have the delete.
  const store = new CacheManagerSessionStore(cache, { readyTimeoutMs: CONNECT_TIMEOUT_MS, waitForReplicas });
  try {
    await store.ready();
  } catch (error) {
    await cache.disconnect().catch(() => undefined);
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Cannot reach ${describeRedis(target)}: ${reason}`, { cause: error });
  }
  return { store, cache };
}

/**
 * Builds the sample app from environment variables (see `readSampleConfig`): hashes the two accounts,
 * picks the store, and initialises Nest on Express. The caller listens (`app.listen(config.port)`).
 * @throws SampleConfigError for a bad variable, Error when Redis does not answer.
 */
export async function createSampleApp(
  env: NodeJS.ProcessEnv = process.env,
  options: CreateSampleAppOptions = {},
): Promise<SampleApp> {
  const config = readSampleConfig(env);
  const realm = await SampleRealm.create();
  const redis = config.redis ? await redisStore(config.redis, config.waitForReplicas) : null;

  const yosai: YosaiModuleOptions = {
    realm,
    cookie: { secure: config.cookieSecure },
    // The controller's own check gives a clear 400 but cannot see concurrent requests; the module's check, made
    // on the record about to be written, holds under them (413).
    maxAttributes: LIMITS.attributesPerSession,
    // After YOSAI_LOGIN_MAX_FAILURES failed logins for one username, attempts for it get 429 (Retry-After) until
    // YOSAI_LOGIN_LOCK_MS has passed, even with the right password; a success before then resets the count.
    loginThrottle: { maxFailures: config.loginMaxFailures, lockMs: config.loginLockMs },
    // A 429 is answered after YOSAI_LOGIN_REFUSAL_DELAY_MS, so a script resending refusals at once makes few requests.
    passwordVerification: { refusalDelayMs: config.loginRefusalDelayMs },
    // Every session that expires reports it (`expired` in GET /api/events), whether its user comes back or not.
    expirySweepIntervalMs: config.expirySweepIntervalMs,
    ...(options.clock && { clock: options.clock }),
    ...(redis && { store: redis.store }),
    ...(config.idleTimeoutMs !== undefined && { idleTimeoutMs: config.idleTimeoutMs }),
    ...(config.absoluteTimeoutMs !== undefined && { absoluteTimeoutMs: config.absoluteTimeoutMs }),
    ...(config.guestIdleTimeoutMs !== undefined && { guestIdleTimeoutMs: config.guestIdleTimeoutMs }),
    // The sessions list and "sign out" of other devices (SessionRegistry) read the principal index.
    principalIndex: true,
    // YOSAI_MAX_SESSIONS_PER_USER: a login beyond it stops the user's oldest session (evict-oldest), or gets 409
    // (refuse); the store judges it atomically, so concurrent logins on several instances cannot pass it.
    ...(config.maxSessionsPerUser !== undefined && {
      maxSessionsPerPrincipal: config.maxSessionsPerUser,
      maxSessionsPerPrincipalPolicy: config.maxSessionsPolicy,
    }),
  };

  let app: NestExpressApplication | undefined;
  try {
    app = await NestFactory.create<NestExpressApplication>(
      SampleModule.register({
        yosai,
        storeKind: redis ? 'redis' : 'memory',
        onShutdown: redis ? () => redis.cache.disconnect() : undefined,
      }),
      new ExpressAdapter(),
      {
        bodyParser: false,
        abortOnError: false,
        ...(options.logger !== undefined && { logger: options.logger }),
      },
    );
    app.disable('x-powered-by');
    useJsonBodies(app);
    // WebSockets on the app's own port (`/ws`), with the `ws` library.
    app.useWebSocketAdapter(new WsAdapter(app));
    await app.init();
  } catch (error) {
    if (app) await app.close().catch(() => undefined);
    else await redis?.cache.disconnect().catch(() => undefined);
    throw error;
  }

  logger.log(
    redis
      ? `Sessions in ${describeRedis(config.redis!)} (namespace ${REDIS_NAMESPACE})`
      : 'Sessions in memory (one process only; set REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS to use Redis)',
  );
  if (config.cookieSecure !== true) {
    logger.warn(
      `Session cookie Secure flag: ${String(config.cookieSecure)}. Set YOSAI_COOKIE_SECURE=true in production.`,
    );
  }
  return { app, config };
}
