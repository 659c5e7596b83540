import { z } from 'zod';
import { commonEnv, parseEnv } from '@inferq/core/env';

export const workerRoles = ['inference', 'reconciler', 'webhooks', 'retention'] as const;
export type WorkerRole = (typeof workerRoles)[number];

export const workerEnvSchema = z
  .object({
    ...commonEnv,
    /** Roles this process runs (comma-separated); a small install runs all in one process. */
    WORKER_ROLES: z
      .string()
      .default(workerRoles.join(','))
      .transform((value) => value.split(',').map((role) => role.trim()).filter(Boolean))
      .pipe(z.array(z.enum(workerRoles)).min(1, 'name at least one role')),
    /** Models this process serves (comma-separated); empty means every model in the catalog. */
    WORKER_MODELS: z
      .string()
      .default('')
      .transform((value) => value.split(',').map((name) => name.trim()).filter(Boolean)),
    /** Added to a model's worst-case call time to form a job's lease; a job whose lease ran out is handed to another worker. */
    LEASE_MARGIN_MS: z.coerce.number().int().min(100).default(15_000),
    /** How often the reconciler compares Postgres with Redis. */
    RECONCILE_INTERVAL_MS: z.coerce.number().int().min(50).default(10_000),
    /** Queued jobs younger than this are left alone by the reconciler (their enqueue may be in flight). */
    RECONCILE_MIN_AGE_MS: z.coerce.number().int().min(0).default(5_000),
    /** BullMQ lock on an active job; after it lapses (a dead worker) the job is redelivered. */
    QUEUE_LOCK_MS: z.coerce.number().int().min(1_000).default(30_000),
    /** Delays before each webhook retry, in ms, comma-separated; after the last one a delivery fails. About a day by default. */
    WEBHOOK_RETRY_SCHEDULE_MS: z
      .string()
      .default([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000].join(','))
      .transform((value) => value.split(',').map((part) => Number(part.trim())))
      .pipe(z.array(z.int().min(0)).min(1, 'give at least one delay')),
    /** A webhook receiver must answer within this. */
    WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
    /** Deliveries in flight at once, per process. */
    WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).default(32),
    /** How often the dispatcher looks for due deliveries when nothing woke it. */
    WEBHOOK_POLL_MS: z.coerce.number().int().min(10).default(1_000),
    /** How long inputs and outputs of finished jobs are kept (default 30 days). */
    RETENTION_PERIOD_MS: z.coerce.number().int().min(1_000).default(30 * 86_400_000),
    /** How often the retention role looks for data past its period. */
    RETENTION_INTERVAL_MS: z.coerce.number().int().min(100).default(3_600_000),
    /** How long shutdown waits for batches in flight before giving them up to the lease mechanism. */
    SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(30_000),
  });

export type WorkerEnv = z.output<typeof workerEnvSchema>;

export const readWorkerEnv = (source: NodeJS.ProcessEnv = process.env): WorkerEnv => parseEnv(workerEnvSchema, source);
