import type { Redis } from 'ioredis';
import type { Db } from '@inferq/core/db';
import { JobQueues } from '@inferq/core/job-queues';
import { JobTransitions } from '@inferq/core/job-transitions';
import { JobNotifier } from '@inferq/core/job-updates';
import type { Logger } from '@inferq/core/logger';
import type { ModelCatalog } from '@inferq/core/models';
import type { ApiDeps } from './deps.ts';
import type { ApiEnv } from './env.ts';
import { JobWatcher } from './services/job-watcher.ts';
import { Limits } from './services/limits.ts';
import { QueueCounts } from './services/queue-counts.ts';
import { SubmitBatcher } from './services/submit-batcher.ts';

/** The settings the API's services take: the environment's, or a test's own. */
export type ApiSettings = Omit<ApiEnv, 'DATABASE_URL' | 'REDIS_URL' | 'INFERQ_MODELS_FILE' | 'LOG_LEVEL' | 'DATABASE_POOL_SIZE' | 'PORT' | 'HOST' | 'SHUTDOWN_GRACE_MS'>;

/** Wires the API's services onto its stores; `close` releases what they hold (not the stores). */
export function buildApiDeps(stores: { db: Db; redis: Redis; logger: Logger; models: ModelCatalog }, settings: ApiSettings): ApiDeps & { close(): Promise<void> } {
  const { db, redis, logger } = stores;
  const prefix = settings.QUEUE_PREFIX;
  const queues = new JobQueues(redis, prefix, logger);
  const notifier = new JobNotifier(redis, prefix, logger);
  const watcher = new JobWatcher(redis, prefix, logger);
  const queueCounts = new QueueCounts(db, settings.QUEUE_COUNT_CACHE_MS);
  const limits = new Limits(
    redis,
    prefix,
    { requestsPerMinute: settings.RATE_LIMIT_REQUESTS_PER_MINUTE, unitsPerMinute: settings.RATE_LIMIT_UNITS_PER_MINUTE, maxQueuedJobs: settings.MAX_QUEUED_JOBS_PER_TENANT },
    queueCounts,
    settings.TENANT_CACHE_MS,
  );
  return {
    ...stores,
    queues,
    transitions: new JobTransitions(db, notifier),
    notifier,
    watcher,
    limits,
    queueCounts,
    submits: new SubmitBatcher(db, queues, { maxWaitMs: settings.SUBMIT_GROUP_WAIT_MS, maxBatchSize: 64 }),
    authCacheMs: settings.AUTH_CACHE_MS,
    bodyLimitBytes: settings.BODY_LIMIT_BYTES,
    batchBodyLimitBytes: settings.BATCH_BODY_LIMIT_BYTES,
    enqueueTimeoutMs: settings.ENQUEUE_TIMEOUT_MS,
    webhookAllow: settings.WEBHOOK_ALLOW_PRIVATE,
    sseHeartbeatMs: settings.SSE_HEARTBEAT_MS,
    async close() {
      watcher.close();
      limits.close();
      await queues.close();
    },
  };
}
