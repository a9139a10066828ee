// An app instance that sweeps in a process of its own, for a test to kill mid-sweep (SIGKILL: no shutdown hook, no
// lease given back). It runs the built library (dist/), as the sample-app specs do.
//   node test/support/sweeping-child.mjs <redis url> <namespace> <clock now, epoch ms>
// Prints `due <shard> <count>` each time a shard's due sessions are read, then stalls there holding that shard's lease.
import 'reflect-metadata';

const [url, namespace, now] = process.argv.slice(2);
const lib = await import(new URL('../../dist/esm/index.js', import.meta.url).href);
const { Module } = await import('@nestjs/common');
const { NestFactory } = await import('@nestjs/core');
const { default: KeyvRedis } = await import('@keyv/redis');
const { createCache } = await import('cache-manager');
const { Keyv } = await import('keyv');

const keyv = new Keyv({ store: new KeyvRedis(url), namespace, useKeyPrefix: false });
const store = new lib.CacheManagerSessionStore(createCache({ stores: [keyv] }));
class ChildModule {}
Module({
  imports: [
    lib.YosaiModule.forRoot({
      store,
      clock: new lib.ManualClock(Number(now)),
      idleTimeoutMs: 60_000,
      guestIdleTimeoutMs: 60_000,
      expirySweepIntervalMs: 3_600_000,
      expirySweepLeaseMs: 1_000,
      storeTimeoutMs: 60_000,
      cookie: { secure: false },
    }),
  ],
})(ChildModule);
const app = await NestFactory.createApplicationContext(ChildModule, { logger: false });
const queue = store.expiryQueue;
const due = queue.due.bind(queue);
queue.due = async (shard, at, limit) => {
  const ids = await due(shard, at, limit);
  process.stdout.write(`due ${shard} ${ids.length}\n`);
  return new Promise(() => undefined);
};
await app.get(lib.SessionSweeper).sweep();
