import { createDb } from '@inferq/core/db';
import { createLogger } from '@inferq/core/logger';
import { loadModelCatalog } from '@inferq/core/models';
import { createRedis, warnUnlessNoEviction } from '@inferq/core/redis';
import { readWorkerEnv } from './env.ts';
import { startWorkerRoles } from './worker.ts';

const env = readWorkerEnv();
const logger = createLogger('worker', env.LOG_LEVEL);
const models = loadModelCatalog(env.INFERQ_MODELS_FILE);
const db = createDb(env.DATABASE_URL, env.DATABASE_POOL_SIZE);
const redis = createRedis(env.REDIS_URL, logger);
await warnUnlessNoEviction(redis, logger);

const worker = startWorkerRoles({ db, redis, logger, models, env, secrets: process.env });

// Stop intake, let batches in flight finish (bounded by the grace period), then close the stores.
let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'worker shutting down');
  await worker.close(env.SHUTDOWN_GRACE_MS);
  await Promise.allSettled([db.$disconnect(), redis.quit()]);
  logger.info('worker stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
