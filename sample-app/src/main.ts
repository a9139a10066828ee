import { Logger } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { createSampleApp } from './app.js';
import { DEFAULT_REDIS_URL } from './sample.config.js';

const logger = new Logger('Sample');

/**
 * `node sample-app/dist/main.js [--redis]`: `--redis` means REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS,
 * or redis://127.0.0.1:6379 when none is set.
 */
async function main(): Promise<void> {
  const env = { ...process.env };
  const redisSet = [env.REDIS_URL, env.REDIS_CLUSTER_NODES, env.REDIS_SENTINELS].some((value) =>
    value?.trim(),
  );
  if (process.argv.slice(2).includes('--redis') && !redisSet) env.REDIS_URL = DEFAULT_REDIS_URL;
  const { app, config } = await createSampleApp(env);
  app.enableShutdownHooks();
  await app.listen(config.port);
  const { port } = app.getHttpServer().address() as AddressInfo;
  logger.log(`Listening on http://localhost:${port}`);
}

main().catch((error: unknown) => {
  logger.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
