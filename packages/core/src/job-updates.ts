import type { Redis } from 'ioredis';
import type { Job } from './db.ts';
import type { Logger } from './logger.ts';
import { jobView } from './job-view.ts';

/**
 * Wake-up calls over Redis pub/sub: a job's status changed, or webhook deliveries are due.
 * They only shorten waits: a lost message costs latency, never correctness, because waiters
 * re-read Postgres and the dispatcher also polls.
 */
export const jobChannel = (prefix: string, jobId: string): string => `${prefix}:job:${jobId}`;
export const webhooksDueChannel = (prefix: string): string => `${prefix}:webhooks:due`;

export class JobNotifier {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {}

  /** Publishes each job's new state on its channel (the job object, as GET /v1/jobs/:id shows it). */
  jobsChanged(jobs: Job[]): void {
    if (jobs.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const job of jobs) pipeline.publish(jobChannel(this.prefix, job.id), JSON.stringify(jobView(job)));
    pipeline.exec().catch((err: unknown) => this.logger.warn({ err, jobIds: jobs.map((job) => job.id) }, 'could not publish job updates; waiters fall back to Postgres'));
  }

  webhooksDue(): void {
    this.redis.publish(webhooksDueChannel(this.prefix), '1').catch((err: unknown) => this.logger.warn({ err }, 'could not wake webhook dispatchers; they will poll'));
  }
}
