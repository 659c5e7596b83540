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

/**
 * BullMQ's job id is the row id, so adding the same job twice (API and reconciler racing) is a
 * no-op. Finished entries are removed at once: Postgres keeps the record, and a retained entry
 * would block a legitimate re-enqueue of the same id.
 * Interactive jobs go to BullMQ's plain wait list, which workers drain before the prioritized set
 * that holds batch jobs.
 */
export function enqueueOptions(job: { id: string; priority: 'interactive' | 'batch'; maxAttempts: number }): JobsOptions {
  return {
    jobId: job.id,
    ...(job.priority === 'batch' ? { priority: 10 } : {}),
    attempts: job.maxAttempts,
    backoff: { type: 'inferq' },
    removeOnComplete: true,
    removeOnFail: true,
  };
}
