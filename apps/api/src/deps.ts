import type { Redis } from 'ioredis';
import type { Db } from '@inferq/core/db';
import type { JobQueues } from '@inferq/core/job-queues';
import type { Logger } from '@inferq/core/logger';
import type { ModelCatalog } from '@inferq/core/models';

/** Everything a route needs, passed in so tests build the app against their own database and Redis. */
export interface ApiDeps {
  db: Db;
  redis: Redis;
  queues: JobQueues;
  models: ModelCatalog;
  logger: Logger;
  bodyLimitBytes: number;
  /** How long a submit waits for Redis before answering 202 anyway (the reconciler enqueues later). */
  enqueueTimeoutMs: number;
}
