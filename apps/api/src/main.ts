import type { Server } from 'node:http';
import { createDb } from '@inferq/core/db';
import { JobQueues } from '@inferq/core/job-queues';
import { JobTransitions } from '@inferq/core/job-transitions';
import { JobNotifier } from '@inferq/core/job-updates';
import { createLogger } from '@inferq/core/logger';
import { loadModelCatalog } from '@inferq/core/models';
import { createRedis, warnUnlessNoEviction } from '@inferq/core/redis';
import { createApp } from './app.ts';
import { readApiEnv } from './env.ts';
import { JobWatcher } from './services/job-watcher.ts';
import { Limits } from './services/limits.ts';
import { QueueCounts } from './services/queue-counts.ts';
import { SubmitBatcher } from './services/submit-batcher.ts';

const env = readApiEnv();
const logger = createLogger('api', env.LOG_LEVEL);
const models = loadModelCatalog(env.INFERQ_MODELS_FILE);
const db = createDb(env.DATABASE_URL, env.DATABASE_POOL_SIZE);
const redis = createRedis(env.REDIS_URL, logger);
const queues = new JobQueues(redis, env.QUEUE_PREFIX, logger);
const notifier = new JobNotifier(redis, env.QUEUE_PREFIX, logger);
const transitions = new JobTransitions(db, notifier);
const watcher = new JobWatcher(redis, env.QUEUE_PREFIX, logger);
const queueCounts = new QueueCounts(db, env.QUEUE_COUNT_CACHE_MS);
const limits = new Limits(
  redis,
  env.QUEUE_PREFIX,
  { requestsPerMinute: env.RATE_LIMIT_REQUESTS_PER_MINUTE, unitsPerMinute: env.RATE_LIMIT_UNITS_PER_MINUTE, maxQueuedJobs: env.MAX_QUEUED_JOBS_PER_TENANT },
  queueCounts,
  env.TENANT_CACHE_MS,
);
await warnUnlessNoEviction(redis, logger);

const app = createApp({
  db,
  redis,
  queues,
  transitions,
  notifier,
  watcher,
  limits,
  queueCounts,
  submits: new SubmitBatcher(db, queues, { maxWaitMs: env.SUBMIT_GROUP_WAIT_MS, maxBatchSize: 64 }),
  authCacheMs: env.AUTH_CACHE_MS,
  models,
  logger,
  bodyLimitBytes: env.BODY_LIMIT_BYTES,
  batchBodyLimitBytes: env.BATCH_BODY_LIMIT_BYTES,
  enqueueTimeoutMs: env.ENQUEUE_TIMEOUT_MS,
  webhookAllow: env.WEBHOOK_ALLOW_PRIVATE,
  sseHeartbeatMs: env.SSE_HEARTBEAT_MS,
});
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
  watcher.close();
  limits.close();
  await queues.close();
  await Promise.allSettled([db.$disconnect(), redis.quit()]);
  logger.info('api stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
