import type { Redis } from 'ioredis';
import type { Db } from '@inferq/core/db';
import { JobQueues } from '@inferq/core/job-queues';
import type { Logger } from '@inferq/core/logger';
import type { ModelCatalog } from '@inferq/core/models';
import type { WorkerEnv } from './env.ts';
import { createProvider } from './providers/index.ts';
import { startInferenceWorker } from './roles/inference.ts';
import { startReconciler } from './roles/reconciler.ts';

export interface WorkerDeps {
  db: Db;
  redis: Redis;
  logger: Logger;
  models: ModelCatalog;
  env: Pick<WorkerEnv, 'WORKER_ROLES' | 'WORKER_MODELS' | 'QUEUE_PREFIX' | 'LEASE_MARGIN_MS' | 'QUEUE_LOCK_MS' | 'RECONCILE_INTERVAL_MS' | 'RECONCILE_MIN_AGE_MS'>;
  /** Where upstream API keys are read from. */
  secrets: NodeJS.ProcessEnv;
}

/** Starts the roles the configuration names; `close` stops them in order (intake first). */
export function startWorkerRoles(deps: WorkerDeps) {
  const { env, logger } = deps;
  const served = env.WORKER_MODELS.length > 0 ? env.WORKER_MODELS : [...deps.models.keys()];
  const unknown = served.filter((name) => !deps.models.has(name));
  if (unknown.length > 0) throw new Error(`WORKER_MODELS names models that are not configured: ${unknown.join(', ')}`);

  const inference = env.WORKER_ROLES.includes('inference')
    ? served.map((name) => {
        const model = deps.models.get(name)!;
        const inferenceDeps = { db: deps.db, redis: deps.redis, logger, queuePrefix: env.QUEUE_PREFIX, leaseMarginMs: env.LEASE_MARGIN_MS, queueLockMs: env.QUEUE_LOCK_MS };
        return startInferenceWorker(inferenceDeps, model, createProvider(model, deps.secrets));
      })
    : [];
  const queues = new JobQueues(deps.redis, env.QUEUE_PREFIX, logger);
  const reconciler = env.WORKER_ROLES.includes('reconciler')
    ? startReconciler({ db: deps.db, queues, logger }, { intervalMs: env.RECONCILE_INTERVAL_MS, minAgeMs: env.RECONCILE_MIN_AGE_MS })
    : undefined;
  logger.info({ roles: env.WORKER_ROLES, models: inference.map((w) => w.model) }, 'worker started');

  return {
    async close(graceMs: number): Promise<void> {
      await Promise.all(inference.map((worker) => worker.close(graceMs)));
      await reconciler?.close();
      await queues.close();
    },
  };
}
