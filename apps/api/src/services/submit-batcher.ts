import { Batcher } from '@inferq/core/batcher';
import type { Db, Job } from '@inferq/core/db';
import type { JobQueues } from '@inferq/core/job-queues';
import type { JobRef } from '@inferq/core/job-store';
import { insertJobRows, type JobRow } from './job-intake.ts';

/**
 * Group commit for single submits: the inserts (and then the enqueues) of requests that arrive
 * together, or while the previous statement is still running, go to Postgres as one statement
 * and to Redis as one addBulk.
 * Each request still answers only after its own row is committed and its entry added, so the
 * guarantee behind the 202 is unchanged; under load, commits and round trips are shared.
 */
export class SubmitBatcher {
  private readonly inserts: Batcher<JobRow, Job>;
  private readonly enqueues: Batcher<JobRef, undefined>;

  constructor(db: Db, queues: JobQueues, options: { maxWaitMs: number; maxBatchSize: number }) {
    // Few statements in flight: while they run, the next submits gather into the following one.
    this.inserts = new Batcher({ ...options, concurrency: 4 }, (rows) => insertJobRows(db, rows));
    this.enqueues = new Batcher({ ...options, concurrency: 2 }, async (refs) => {
      await queues.enqueue(refs);
      return refs.map(() => undefined);
    });
  }

  insert(row: JobRow): Promise<Job> {
    return this.inserts.add(row);
  }

  enqueue(ref: JobRef): Promise<undefined> {
    return this.enqueues.add(ref);
  }
}
