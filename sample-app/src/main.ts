import { Logger } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { createSampleApp } from './app.js';
import { DEFAULT_REDIS_URL } from './sample.config.js';

const logger = new Logger('Sample');

/** `node sample-app/dist/main.js [--redis]`: `--redis` means REDIS_URL, or redis://127.0.0.1:6379 when unset. */
async function main(): Promise<void> {
  const env = { ...process.env };
  if (process.argv.slice(2).includes('--redis') && !env.REDIS_URL?.trim()) env.REDIS_URL = DEFAULT_REDIS_URL;
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
