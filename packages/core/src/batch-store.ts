import type { Db } from './db.ts';
import type { Batch } from './db/generated/client.ts';

export type { Batch };

type Sql = Pick<Db, '$queryRaw'>;

export interface RequestCounts {
  total: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  expired: number;
}

/** How many of each batch's jobs ended which way (one grouped query for all of them). */
export async function requestCounts(db: Sql, batches: Pick<Batch, 'id' | 'total'>[]): Promise<Map<string, RequestCounts>> {
  const rows = batches.length === 0 ? [] : await db.$queryRaw<{ batchId: string; status: string; n: number }[]>`
    SELECT batch_id AS "batchId", status::text AS status, count(*)::int AS n
      FROM jobs WHERE batch_id = ANY(${batches.map((b) => b.id)}::text[]) AND status IN ('succeeded', 'failed', 'cancelled', 'expired')
  GROUP BY batch_id, status`;
  const counts = new Map(batches.map((b) => [b.id, { total: b.total, succeeded: 0, failed: 0, cancelled: 0, expired: 0 }]));
  for (const row of rows) {
    const entry = counts.get(row.batchId);
    if (entry) entry[row.status as keyof Omit<RequestCounts, 'total'>] = row.n;
  }
  return counts;
}

/**
 * Batches none of whose jobs is queued or running any more reach their final status: cancelled
 * after a cancel, expired when the window closed on unstarted jobs, else completed. Returns them.
 * Run inside the transaction that finished the jobs: the batch rows are locked first, so two
 * transactions finishing the last jobs of one batch take turns, and the second one's check (a
 * new statement, so a new snapshot) sees the first one's jobs as finished.
 */
export async function finishBatches(db: Sql, batchIds: string[]): Promise<Batch[]> {
  await db.$queryRaw`SELECT id FROM batches WHERE id = ANY(${batchIds}::text[]) AND status IN ('in_progress', 'cancelling') ORDER BY id FOR UPDATE`;
  return db.$queryRaw<Batch[]>`
    UPDATE batches AS b
       SET status = (CASE
             WHEN b.status = 'cancelling' THEN 'cancelled'
             WHEN EXISTS (SELECT 1 FROM jobs WHERE batch_id = b.id AND status = 'expired') THEN 'expired'
             ELSE 'completed' END)::batch_status,
           completed_at = now()
     WHERE b.id = ANY(${batchIds}::text[]) AND b.status IN ('in_progress', 'cancelling')
       AND NOT EXISTS (SELECT 1 FROM jobs WHERE batch_id = b.id AND status IN ('queued', 'running'))
 RETURNING b.id, b.tenant_id AS "tenantId", b.status, b.total, b.metadata, b.completion_window_s AS "completionWindowS",
           b.created_at AS "createdAt", b.expires_at AS "expiresAt", b.completed_at AS "completedAt"`;
}

/** The public batch object of the v1 API. */
export function batchView(batch: Batch, counts: RequestCounts) {
  return {
    id: batch.id,
    object: 'batch' as const,
    status: batch.status,
    request_counts: counts,
    metadata: batch.metadata,
    completion_window: `${batch.completionWindowS}s`,
    created_at: batch.createdAt.toISOString(),
    expires_at: batch.expiresAt.toISOString(),
    completed_at: batch.completedAt?.toISOString() ?? null,
  };
}

/** Batches still open although all their jobs are final (e.g. finished before this release): for the reconciler. */
export async function listUnfinishedBatches(db: Sql, limit: number): Promise<string[]> {
  const rows = await db.$queryRaw<{ id: string }[]>`
    SELECT b.id FROM batches AS b
     WHERE b.status IN ('in_progress', 'cancelling')
       AND NOT EXISTS (SELECT 1 FROM jobs WHERE batch_id = b.id AND status IN ('queued', 'running'))
     LIMIT ${limit}`;
  return rows.map((row) => row.id);
}
