import type { Db, Job } from './db.ts';
import type { JobNotifier } from './job-updates.ts';
import * as store from './job-store.ts';
import { insertJobEventDeliveries } from './webhook-events.ts';

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

  private async apply(change: (sql: Db) => Promise<Job[]>): Promise<Job[]> {
    const { jobs, deliveries } = await this.db.$transaction(async (tx) => {
      const changed = await change(tx as Db);
      return { jobs: changed, deliveries: changed.length > 0 ? await insertJobEventDeliveries(tx, changed) : 0 };
    });
    this.notifier.jobsChanged(jobs);
    if (deliveries > 0) this.notifier.webhooksDue();
    return jobs;
  }
}
