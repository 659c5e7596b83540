import type { Router } from 'express';
import { ApiError } from '@inferq/core/errors';
import { withTimeout } from '@inferq/core/timeout';
import type { ApiDeps } from '../deps.ts';
import { tenantOf } from '../middleware/auth.ts';
import { findJobOrThrow, fullJobView } from '../services/jobs.ts';

/**
 * POST /v1/jobs/:id/cancel: queued or running → cancelled in one conditional UPDATE. A running
 * job's upstream call may still finish, but its result write matches no row and is dropped.
 */
export function registerV1JobsCancel(router: Router, deps: ApiDeps): void {
  router.post('/v1/jobs/:id/cancel', async (req, res) => {
    const tenantId = tenantOf(req);
    const cancelled = await deps.transitions.cancel(tenantId, req.params.id!);
    if (!cancelled) {
      const job = await findJobOrThrow(deps.db, tenantId, req.params.id!);
      throw new ApiError('conflict', `Job "${job.id}" is already ${job.status}; only queued or running jobs can be cancelled.`);
    }
    // Only tidiness: a worker that still gets the entry finds the job cancelled and skips it.
    const removed = await withTimeout(deps.queues.remove(cancelled.model, cancelled.id), deps.enqueueTimeoutMs);
    if (!removed.ok) req.log.warn({ err: removed.error, jobId: cancelled.id }, 'could not remove the queue entry; the worker will skip it');
    res.json(await fullJobView(deps.db, cancelled));
  });
}
