import type { Server } from 'node:http';
import { createDb } from '@inferq/core/db';
import { createLogger } from '@inferq/core/logger';
import { loadModelCatalog } from '@inferq/core/models';
import { createRedis, warnUnlessNoEviction } from '@inferq/core/redis';
import { createApp } from './app.ts';
import { buildApiDeps } from './build-deps.ts';
import { readApiEnv } from './env.ts';

const env = readApiEnv();
const logger = createLogger('api', env.LOG_LEVEL);
const models = loadModelCatalog(env.INFERQ_MODELS_FILE);
const db = createDb(env.DATABASE_URL, env.DATABASE_POOL_SIZE);
const redis = createRedis(env.REDIS_URL, logger);
await warnUnlessNoEviction(redis, logger);

const deps = buildApiDeps({ db, redis, logger, models }, env);
const app = createApp(deps);
const server: Server = app.listen(env.PORT, env.HOST, () => {
  const address = server.address();
  logger.info({ port: typeof address === 'object' && address ? address.port : env.PORT, models: [...models.keys()] }, 'api listening');
});

// Stop taking requests, let in-flight ones finish (bounded), then close the stores.
let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'api shutting down');
  const forced = setTimeout(() => server.closeAllConnections(), env.SHUTDOWN_GRACE_MS).unref();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  clearTimeout(forced);
  await deps.close();
  await Promise.allSettled([db.$disconnect(), redis.quit()]);
  logger.info('api stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
