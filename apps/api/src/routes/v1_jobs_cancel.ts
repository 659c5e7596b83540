import type { Router } from 'express';
import { ApiError } from '@inferq/core/errors';
import type { ApiDeps } from '../deps.ts';
import { jobView } from '../job-view.ts';
import { tenantOf } from '../middleware/auth.ts';

/**
 * POST /v1/jobs/:id/cancel: queued or running → cancelled in one conditional UPDATE. A running
 * job's upstream call may still finish, but its result write matches no row and is dropped.
 */
export function registerV1JobsCancel(router: Router, deps: ApiDeps): void {
  router.post('/v1/jobs/:id/cancel', async (req, res) => {
    const where = { id: req.params.id, tenantId: tenantOf(req) };
    const now = new Date();
    const { count } = await deps.db.job.updateMany({
      where: { ...where, status: { in: ['queued', 'running'] } },
      data: { status: 'cancelled', completedAt: now, updatedAt: now, leaseExpiresAt: null },
    });
    const job = await deps.db.job.findFirst({ where });
    if (!job) throw new ApiError('not_found', `No job "${req.params.id}".`);
    if (count === 0) throw new ApiError('conflict', `Job "${job.id}" is already ${job.status}; only queued or running jobs can be cancelled.`);
    await deps.queues.remove(job.model, job.id).catch((err: unknown) => req.log.warn({ err, jobId: job.id }, 'could not remove the queue entry; the worker will skip it'));
    res.json(jobView(job));
  });
}
