import type { Db } from '@inferq/core/db';
import type { JobTransitions } from '@inferq/core/job-transitions';
import type { JobQueues } from '@inferq/core/job-queues';
import { listQueuedSince, type QueuedPageCursor } from '@inferq/core/job-store';
import type { Logger } from '@inferq/core/logger';
import { runPeriodically } from './periodic.ts';

export interface ReconcilerDeps {
  db: Db;
  transitions: JobTransitions;
  queues: JobQueues;
  logger: Logger;
}

export interface ReconcileReport {
  expired: number;
  timedOut: number;
  failedExhausted: number;
  releasedLeases: number;
  reenqueued: number;
}

const PAGE_SIZE = 1_000;

/**
 * Makes Redis agree with Postgres and enforces time limits: queued jobs past their ttl expire,
 * running jobs past their timeout fail, running jobs whose worker vanished go back to the queue
 * (or fail when out of attempts), and queued jobs that Redis has no entry for (a failed enqueue,
 * a flushed or restarted Redis) are enqueued again. Safe to run in several processes at once:
 * every change is conditional and a duplicate enqueue is a no-op.
 */
export async function reconcileOnce(deps: ReconcilerDeps, minAgeMs: number): Promise<ReconcileReport> {
  const expired = await deps.transitions.expireQueued();
  const timedOut = await deps.transitions.failTimedOut();
  const failed = await deps.transitions.failExhaustedLeases();
  const released = await deps.transitions.releaseExpiredLeases();
  await deps.transitions.finishOpenBatches();
  await deps.queues.replace(released);

  let reenqueued = 0;
  const olderThan = new Date(Date.now() - minAgeMs);
  let cursor: QueuedPageCursor | null = null;
  for (;;) {
    const page = await listQueuedSince(deps.db, olderThan, cursor, PAGE_SIZE);
    const missing = await deps.queues.missing(page);
    await deps.queues.enqueue(missing);
    reenqueued += missing.length;
    if (page.length < PAGE_SIZE) break;
    const last = page[page.length - 1]!;
    cursor = { updatedAt: last.updatedAt, id: last.id };
  }

  const report = { expired: expired.length, timedOut: timedOut.length, failedExhausted: failed.length, releasedLeases: released.length, reenqueued };
  if (expired.length + timedOut.length + failed.length + released.length + reenqueued > 0) {
    deps.logger.warn({ ...report, failedJobIds: failed.map((job) => job.id), releasedJobIds: released.map((job) => job.id) }, 'reconciled Postgres and Redis');
  }
  return report;
}

/** Runs reconcileOnce every `intervalMs` until closed. */
export function startReconciler(deps: ReconcilerDeps, options: { intervalMs: number; minAgeMs: number }) {
  return runPeriodically(() => reconcileOnce(deps, options.minAgeMs), options.intervalMs, deps.logger, 'reconcile');
}
