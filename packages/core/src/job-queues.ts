import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobRef } from './job-store.ts';
import type { Logger } from './logger.ts';
import { enqueueOptions, inferenceQueueName, INFERENCE_JOB_NAME, type InferencePayload } from './queue.ts';

const ADD_BULK_CHUNK = 1_000;

/** The per-model BullMQ queues, opened lazily on one shared Redis connection. */
export class JobQueues {
  private readonly queues = new Map<string, Queue<InferencePayload>>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {}

  queueFor(model: string): Queue<InferencePayload> {
    let queue = this.queues.get(model);
    if (!queue) {
      queue = new Queue<InferencePayload>(inferenceQueueName(model), { connection: this.redis, prefix: this.prefix });
      queue.on('error', (err) => this.logger.warn({ err: err.message, model }, 'queue connection error'));
      this.queues.set(model, queue);
    }
    return queue;
  }

  /** Adds the jobs (a job already in Redis is left as it is), in addBulk calls of at most 1,000 per model. */
  async enqueue(jobs: JobRef[]): Promise<void> {
    const byModel = new Map<string, JobRef[]>();
    for (const job of jobs) {
      const group = byModel.get(job.model);
      if (group) group.push(job);
      else byModel.set(job.model, [job]);
    }
    await Promise.all(
      [...byModel].map(async ([model, group]) => {
        for (let start = 0; start < group.length; start += ADD_BULK_CHUNK) {
          const chunk = group.slice(start, start + ADD_BULK_CHUNK);
          await this.queueFor(model).addBulk(chunk.map((job) => ({ name: INFERENCE_JOB_NAME, data: { jobId: job.id }, opts: enqueueOptions(job) })));
        }
      }),
    );
  }

  /**
   * Enqueues jobs whose previous entry may still sit in Redis as active for a worker that died:
   * such an entry is removed first (BullMQ refuses to remove one a live worker still locks), so
   * the add is not swallowed as a duplicate.
   */
  async replace(jobs: JobRef[]): Promise<void> {
    await Promise.all(jobs.map((job) => this.queueFor(job.model).remove(job.id).catch(() => 0)));
    await this.enqueue(jobs);
  }

  /** The jobs among `jobs` that Redis holds no entry for (lost in a flush, a restart, or a failed add). */
  async missing<T extends JobRef>(jobs: T[]): Promise<T[]> {
    if (jobs.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const job of jobs) pipeline.exists(this.queueFor(job.model).toKey(job.id));
    const replies = (await pipeline.exec()) ?? [];
    return jobs.filter((_, index) => replies[index]?.[1] === 0);
  }

  async remove(model: string, jobId: string): Promise<void> {
    await this.queueFor(model).remove(jobId);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
  }
}
