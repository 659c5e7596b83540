import type { Router } from 'express';
import { Prisma } from '@inferq/core/db';
import { ApiError } from '@inferq/core/errors';
import type { ApiDeps } from '../deps.ts';
import { tenantOf } from '../middleware/auth.ts';
import { assignRanks, enqueueDrafts } from '../services/job-intake.ts';
import { findJobOrThrow, fullJobView } from '../services/jobs.ts';

/**
 * DELETE /v1/jobs/:id removes the job's input and output now (the row stays, for usage and
 * audit). POST /v1/jobs/:id/retry puts a failed, expired or cancelled job back in the queue with
 * fresh attempts.
 */
export function registerV1JobsManage(router: Router, deps: ApiDeps): void {
  router.delete('/v1/jobs/:id', async (req, res) => {
    const tenantId = tenantOf(req);
    const job = await findJobOrThrow(deps.db, tenantId, req.params.id!);
    const purged = await deps.db.job.update({ where: { id: job.id }, data: { input: Prisma.JsonNull, output: Prisma.DbNull, purgedAt: new Date(), updatedAt: new Date() } });
    res.json({ ...(await fullJobView(deps.db, purged)), deleted: true });
  });

  router.post('/v1/jobs/:id/retry', async (req, res) => {
    const tenantId = tenantOf(req);
    const job = await findJobOrThrow(deps.db, tenantId, req.params.id!);
    if (job.purgedAt) throw new ApiError('conflict', `Job "${job.id}" has had its input deleted; it cannot run again.`);
    const { count } = await deps.db.job.updateMany({
      where: { id: job.id, status: { in: ['failed', 'expired', 'cancelled'] } },
      data: { status: 'queued', attempts: 0, output: Prisma.DbNull, usage: Prisma.DbNull, errorCode: null, errorMessage: null, startedAt: null, completedAt: null, expiresAt: null, leaseExpiresAt: null, updatedAt: new Date() },
    });
    if (count === 0) throw new ApiError('conflict', `Job "${job.id}" is ${job.status}; only failed, expired or cancelled jobs can be retried.`);
    const draft = { id: job.id, model: job.model, priority: job.priority, max_attempts: job.maxAttempts, input: job.input, metadata: {}, input_units: job.inputUnits };
    await assignRanks(deps.queueCounts, tenantId, [draft]);
    await enqueueDrafts(deps, [draft], req.log);
    res.status(202).json(await fullJobView(deps.db, await findJobOrThrow(deps.db, tenantId, job.id)));
  });
}
