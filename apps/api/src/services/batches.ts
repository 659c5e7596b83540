import { batchView, requestCounts, type Batch } from '@inferq/core/batch-store';
import type { Db } from '@inferq/core/db';
import { ApiError } from '@inferq/core/errors';

/** The tenant's batch, or a 404 (also for another tenant's). */
export async function findBatchOrThrow(db: Db, tenantId: string, id: string): Promise<Batch> {
  const batch = await db.batch.findFirst({ where: { id, tenantId } });
  if (!batch) throw new ApiError('not_found', `No batch "${id}".`);
  return batch;
}

/** Batch objects with their request counts. */
export async function batchViews(db: Db, batches: Batch[]) {
  const counts = await requestCounts(db, batches);
  return batches.map((batch) => batchView(batch, counts.get(batch.id)!));
}
