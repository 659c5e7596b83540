import { newJobId } from '@inferq/core/ids';
import { finishPhase, insertQueuedJobs, type BenchDatabase, type JobsSummary } from '../lib/database.ts';
import type { Stack } from '../lib/stack.ts';

const CHUNK = 5_000;

/**
 * Puts `count` queued jobs for `model` in Postgres and then in Redis, as the API does for each
 * job but without HTTP, and waits for the workers to finish them. Rows go in before any queue
 * entry, so the drain measured from the first claim is the workers' pace alone.
 */
export async function drainBacklog(stack: Stack, db: BenchDatabase, model: string, count: number): Promise<JobsSummary & { startedToCompletedPerS: number }> {
  const ids = Array.from({ length: count }, () => newJobId());
  for (let offset = 0; offset < count; offset += CHUNK) await insertQueuedJobs(db, stack.tenantId, model, ids.slice(offset, offset + CHUNK));
  for (let offset = 0; offset < count; offset += CHUNK) {
    await stack.queues.enqueue(ids.slice(offset, offset + CHUNK).map((id) => ({ id, model, priority: 'interactive' as const, maxAttempts: 3 })));
  }
  return finishPhase(db, `backlog of ${count} for ${model}`, count);
}
