import { randomBytes } from 'node:crypto';
import { Queue, Worker, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { newJobId } from '@inferq/core/ids';
import { enqueueOptions, INFERENCE_JOB_NAME } from '@inferq/core/queue';
import { onCleanup } from '../lib/cleanup.ts';
import { removeKeys } from '../lib/stack.ts';

/**
 * plain: the bare loop (unique job id, removed on completion), the ceiling BullMQ sets.
 * inferq-options: the same with the options inferq enqueues with (enqueueOptions: priority,
 * attempts, backoff), so the cost of those choices shows apart from inferq's own code.
 */
export type SubstrateVariant = 'plain' | 'inferq-options';

export interface SubstrateResult {
  variant: SubstrateVariant;
  jobs: number;
  concurrency: number;
  /** addBulk of every job, then a no-op Worker drains them: jobs over the whole time. */
  jobsPerS: number;
  addPerS: number;
  drainPerS: number;
}

const CHUNK = 1_000;

const jobOptions = (variant: SubstrateVariant, id: string): JobsOptions =>
  variant === 'plain' ? { jobId: id, removeOnComplete: true, removeOnFail: true } : enqueueOptions({ id, priority: 'interactive', maxAttempts: 3 });

/**
 * The ceiling BullMQ itself sets on this machine and this Redis: inferq's payload, a Worker at the
 * same concurrency as inferq's, and a processor that does nothing.
 */
export async function runSubstrate(options: { redisUrl: string; jobs: number; concurrency: number; variant: SubstrateVariant }): Promise<SubstrateResult> {
  const prefix = `bench-substrate-${randomBytes(3).toString('hex')}`;
  const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('substrate', { connection, prefix });
  const cleanup = onCleanup(`substrate keys ${prefix}`, async () => {
    await queue.close();
    await removeKeys(connection, `${prefix}:*`);
    connection.disconnect();
  });
  try {
    const started = performance.now();
    for (let offset = 0; offset < options.jobs; offset += CHUNK) {
      const count = Math.min(CHUNK, options.jobs - offset);
      await queue.addBulk(
        Array.from({ length: count }, () => {
          const id = newJobId();
          return { name: INFERENCE_JOB_NAME, data: { jobId: id }, opts: jobOptions(options.variant, id) };
        }),
      );
    }
    const added = performance.now();

    let completed = 0;
    let worker: Worker | undefined;
    await new Promise<void>((resolve, reject) => {
      // Bounded: a stuck drain fails the scenario instead of hanging the bench.
      const timer = setTimeout(() => reject(new Error(`substrate: only ${completed}/${options.jobs} done after 120 s`)), 120_000);
      worker = new Worker('substrate', async () => undefined, { connection, prefix, concurrency: options.concurrency });
      worker.on('completed', () => {
        completed += 1;
        if (completed === options.jobs) (clearTimeout(timer), resolve());
      });
      worker.on('error', reject);
    });
    const drained = performance.now();
    await worker!.close();

    const seconds = (to: number, from: number) => (to - from) / 1000;
    return {
      variant: options.variant,
      jobs: options.jobs,
      concurrency: options.concurrency,
      jobsPerS: options.jobs / seconds(drained, started),
      addPerS: options.jobs / seconds(added, started),
      drainPerS: options.jobs / seconds(drained, added),
    };
  } finally {
    await cleanup();
  }
}
