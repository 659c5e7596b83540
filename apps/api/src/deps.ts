import type { Redis } from 'ioredis';
import type { Db } from '@inferq/core/db';
import type { JobQueues } from '@inferq/core/job-queues';
import type { JobTransitions } from '@inferq/core/job-transitions';
import type { JobNotifier } from '@inferq/core/job-updates';
import type { Logger } from '@inferq/core/logger';
import type { ModelCatalog } from '@inferq/core/models';
import type { AllowList } from '@inferq/core/ssrf';
import type { JobWatcher } from './services/job-watcher.ts';
import type { Limits } from './services/limits.ts';
import type { QueueCounts } from './services/queue-counts.ts';
import type { SubmitBatcher } from './services/submit-batcher.ts';

/** Everything a route needs, passed in so tests build the app against their own database and Redis. */
export interface ApiDeps {
  db: Db;
  redis: Redis;
  queues: JobQueues;
  transitions: JobTransitions;
  notifier: JobNotifier;
  watcher: JobWatcher;
  limits: Limits;
  queueCounts: QueueCounts;
  submits: SubmitBatcher;
  models: ModelCatalog;
  logger: Logger;
  bodyLimitBytes: number;
  /** Largest bulk batch body (50,000 lines). */
  batchBodyLimitBytes: number;
  /** How long a submit waits for Redis before answering 202 anyway (the reconciler enqueues later). */
  enqueueTimeoutMs: number;
  /** Private addresses webhooks may reach (development and tests). */
  webhookAllow: AllowList;
  /** Interval of the comment lines that keep an idle event stream open. */
  sseHeartbeatMs: number;
  /** How long a looked-up API key is trusted before it is read again (revocations take effect within it); 0: always read. */
  authCacheMs: number;
}
