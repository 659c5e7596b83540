import type { Router } from 'express';
import { ApiError } from '@inferq/core/errors';
import type { ApiDeps } from '../deps.ts';
import { tenantOf } from '../middleware/auth.ts';
import { batchViews, findBatchOrThrow } from '../services/batches.ts';

/**
 * POST /v1/batches/:id/cancel: the batch goes to `cancelling`, its queued jobs to `cancelled`;
 * jobs already running finish, and the batch becomes `cancelled` when the last one has.
 */
export function registerV1BatchesCancel(router: Router, deps: ApiDeps): void {
  router.post('/v1/batches/:id/cancel', async (req, res) => {
    const tenantId = tenantOf(req);
    const batch = await findBatchOrThrow(deps.db, tenantId, req.params.id!);
    const { count } = await deps.db.batch.updateMany({ where: { id: batch.id, status: 'in_progress' }, data: { status: 'cancelling' } });
    if (count === 0) throw new ApiError('conflict', `Batch "${batch.id}" is ${batch.status}; only a batch in progress can be cancelled.`);
    const cancelled = await deps.transitions.cancelBatch(batch.id);
    req.log.info({ batchId: batch.id, cancelledJobs: cancelled.length }, 'batch cancelled');
    const [view] = await batchViews(deps.db, [await findBatchOrThrow(deps.db, tenantId, batch.id)]);
    res.json(view);
  });
}
