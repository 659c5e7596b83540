import type { Db, Job } from './db.ts';
import type { JobNotifier } from './job-updates.ts';
import * as store from './job-store.ts';
import { finishBatches, listUnfinishedBatches } from './batch-store.ts';
import { finalJobStatuses } from './job-view.ts';
import { insertBatchEventDeliveries, insertJobEventDeliveries } from './webhook-events.ts';

/**
 * Every status change of a job, as the API, workers and reconciler make it: the conditional
 * UPDATE and the webhook deliveries it owes commit in one transaction; then waiters are woken.
 */
export class JobTransitions {
  constructor(
    private readonly db: Db,
    private readonly notifier: JobNotifier,
  ) {}

  claim(ids: string[], leaseMs: number): Promise<Job[]> {
    return this.apply((sql) => store.claimJobs(sql, ids, leaseMs));
  }

  record(outcomes: store.JobOutcome[]): Promise<Job[]> {
    return this.apply((sql) => store.recordOutcomes(sql, outcomes));
  }

  release(claims: { id: string; attempt: number }[]): Promise<Job[]> {
    return this.apply((sql) => store.releaseJobs(sql, claims));
  }

  cancel(tenantId: string, id: string): Promise<Job | undefined> {
    return this.apply((sql) => store.cancelJob(sql, tenantId, id)).then((jobs) => jobs[0]);
  }

  failExhaustedLeases(): Promise<Job[]> {
    return this.apply((sql) => store.failExhaustedLeases(sql));
  }

  releaseExpiredLeases(): Promise<Job[]> {
    return this.apply((sql) => store.releaseExpiredLeases(sql));
  }

  failTimedOut(): Promise<Job[]> {
    return this.apply((sql) => store.failTimedOutJobs(sql));
  }

  expireQueued(): Promise<Job[]> {
    return this.apply((sql) => store.expireQueuedJobs(sql));
  }

  cancelBatch(batchId: string): Promise<Job[]> {
    return this.apply((sql) => store.cancelBatchJobs(sql, batchId), [batchId]);
  }

  /** Finishes batches whose jobs are all final but which are still open; returns how many were looked at. */
  async finishOpenBatches(): Promise<number> {
    const ids = await listUnfinishedBatches(this.db, 100);
    if (ids.length > 0) await this.apply(async () => [], ids);
    return ids.length;
  }

  /** Runs the change; then, in the same transaction, the deliveries it owes and the batches it finishes. */
  private async apply(change: (sql: Db) => Promise<Job[]>, alsoCheckBatches: string[] = []): Promise<Job[]> {
    const { jobs, deliveries } = await this.db.$transaction(async (tx) => {
      const changed = await change(tx as Db);
      let owed = changed.length > 0 ? await insertJobEventDeliveries(tx, changed) : 0;
      const batchIds = new Set(alsoCheckBatches);
      for (const job of changed) if (job.batchId && finalJobStatuses.has(job.status)) batchIds.add(job.batchId);
      if (batchIds.size > 0) owed += await insertBatchEventDeliveries(tx, await finishBatches(tx, [...batchIds]));
      return { jobs: changed, deliveries: owed };
      // Prisma's defaults (2 s to get a connection, 5 s to finish) are too short for a busy pool or
      // a 50,000-job batch cancel.
    }, { maxWait: 10_000, timeout: 120_000 });
    this.notifier.jobsChanged(jobs);
    if (deliveries > 0) this.notifier.webhooksDue();
    return jobs;
  }
}
