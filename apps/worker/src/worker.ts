import type { Redis } from 'ioredis';
import type { Db } from '@inferq/core/db';
import { JobQueues } from '@inferq/core/job-queues';
import { JobTransitions } from '@inferq/core/job-transitions';
import { JobNotifier } from '@inferq/core/job-updates';
import type { Logger } from '@inferq/core/logger';
import type { ModelCatalog } from '@inferq/core/models';
import type { WorkerEnv } from './env.ts';
import { createProvider } from './providers/index.ts';
import { startInferenceWorker } from './roles/inference.ts';
import { startReconciler } from './roles/reconciler.ts';
import { startRetention } from './roles/retention.ts';
import { startWebhookDispatcher } from './roles/webhooks.ts';

export type WorkerSettings = Pick<
  WorkerEnv,
  | 'WORKER_ROLES'
  | 'WORKER_MODELS'
  | 'QUEUE_PREFIX'
  | 'LEASE_MARGIN_MS'
  | 'QUEUE_LOCK_MS'
  | 'RECONCILE_INTERVAL_MS'
  | 'RECONCILE_MIN_AGE_MS'
  | 'WEBHOOK_ALLOW_PRIVATE'
  | 'WEBHOOK_RETRY_SCHEDULE_MS'
  | 'WEBHOOK_TIMEOUT_MS'
  | 'WEBHOOK_CONCURRENCY'
  | 'WEBHOOK_POLL_MS'
  | 'RETENTION_PERIOD_MS'
  | 'RETENTION_INTERVAL_MS'
>;

export interface WorkerDeps {
  db: Db;
  redis: Redis;
  logger: Logger;
  models: ModelCatalog;
  env: WorkerSettings;
  /** Where upstream API keys are read from. */
  secrets: NodeJS.ProcessEnv;
}

/** Starts the roles the configuration names; `close` stops them in order (intake first). */
export function startWorkerRoles(deps: WorkerDeps) {
  const { env, logger, db, redis } = deps;
  const served = env.WORKER_MODELS.length > 0 ? env.WORKER_MODELS : [...deps.models.keys()];
  const unknown = served.filter((name) => !deps.models.has(name));
  if (unknown.length > 0) throw new Error(`WORKER_MODELS names models that are not configured: ${unknown.join(', ')}`);

  const transitions = new JobTransitions(db, new JobNotifier(redis, env.QUEUE_PREFIX, logger));
  const queues = new JobQueues(redis, env.QUEUE_PREFIX, logger);
  const has = (role: WorkerSettings['WORKER_ROLES'][number]) => env.WORKER_ROLES.includes(role);

  const inference = has('inference')
    ? served.map((name) => {
        const model = deps.models.get(name)!;
        const inferenceDeps = { transitions, redis, logger, queuePrefix: env.QUEUE_PREFIX, leaseMarginMs: env.LEASE_MARGIN_MS, queueLockMs: env.QUEUE_LOCK_MS };
        return startInferenceWorker(inferenceDeps, model, createProvider(model, deps.secrets));
      })
    : [];
  const reconciler = has('reconciler')
    ? startReconciler({ db, transitions, queues, logger }, { intervalMs: env.RECONCILE_INTERVAL_MS, minAgeMs: env.RECONCILE_MIN_AGE_MS })
    : undefined;
  const webhooks = has('webhooks')
    ? startWebhookDispatcher({
        db,
        redis,
        logger,
        queuePrefix: env.QUEUE_PREFIX,
        allow: env.WEBHOOK_ALLOW_PRIVATE,
        retryScheduleMs: env.WEBHOOK_RETRY_SCHEDULE_MS,
        timeoutMs: env.WEBHOOK_TIMEOUT_MS,
        concurrency: env.WEBHOOK_CONCURRENCY,
        pollMs: env.WEBHOOK_POLL_MS,
      })
    : undefined;
  const retention = has('retention') ? startRetention({ db, logger }, { periodMs: env.RETENTION_PERIOD_MS, intervalMs: env.RETENTION_INTERVAL_MS }) : undefined;
  logger.info({ roles: env.WORKER_ROLES, models: inference.map((w) => w.model) }, 'worker started');

  return {
    async close(graceMs: number): Promise<void> {
      await Promise.all(inference.map((worker) => worker.close(graceMs)));
      await Promise.all([reconciler?.close(), webhooks?.close(), retention?.close()]);
      await queues.close();
    },
  };
}
