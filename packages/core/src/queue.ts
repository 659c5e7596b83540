import type { JobsOptions } from 'bullmq';
import { z } from 'zod';

/**
 * The contract between the API (producer) and workers (consumers). A queue message carries only
 * the job id: Postgres holds the job, so a lost or duplicated message changes nothing.
 */
export const inferencePayloadSchema = z.strictObject({ jobId: z.string().min(1) });
export type InferencePayload = z.output<typeof inferencePayloadSchema>;

/** One queue per model, so each model batches and scales on its own. */
export const inferenceQueueName = (model: string): string => `infer.${model}`;

export const INFERENCE_JOB_NAME = 'infer';

/** BullMQ priorities run from 1 (first) to 2^21; interactive jobs take the lower half, batch jobs the upper. */
const RANKS_PER_CLASS = 1_000_000;

/**
 * Fair share without per-tenant queues: a job's BullMQ priority is its rank among its tenant's
 * queued jobs of the model. A tenant with 5,000 queued jobs holds ranks 1–5,000; another tenant's
 * first job gets rank 1 and runs next, so tenants take turns instead of waiting behind a flood.
 * Interactive jobs always rank before batch jobs.
 */
export function queuePriority(priority: 'interactive' | 'batch', rank: number): number {
  return (priority === 'batch' ? RANKS_PER_CLASS : 0) + Math.min(Math.max(1, rank), RANKS_PER_CLASS);
}

/**
 * BullMQ's job id is the row id, so adding the same job twice (API and reconciler racing) is a
 * no-op. Finished entries are removed at once: Postgres keeps the record, and a retained entry
 * would block a legitimate re-enqueue of the same id.
 */
export function enqueueOptions(job: { id: string; priority: 'interactive' | 'batch'; maxAttempts: number; rank?: number }): JobsOptions {
  return {
    jobId: job.id,
    priority: queuePriority(job.priority, job.rank ?? 1),
    attempts: job.maxAttempts,
    backoff: { type: 'inferq' },
    removeOnComplete: true,
    removeOnFail: true,
  };
}
