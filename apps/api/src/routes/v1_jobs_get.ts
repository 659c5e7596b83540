import type { Router } from 'express';
import { ApiError } from '@inferq/core/errors';
import type { ApiDeps } from '../deps.ts';
import { jobView } from '../job-view.ts';
import { tenantOf } from '../middleware/auth.ts';

/** GET /v1/jobs/:id: the job as Postgres has it. Another tenant's job is "not found", so ids do not leak. */
export function registerV1JobsGet(router: Router, deps: ApiDeps): void {
  router.get('/v1/jobs/:id', async (req, res) => {
    const job = await deps.db.job.findFirst({ where: { id: req.params.id, tenantId: tenantOf(req) } });
    if (!job) throw new ApiError('not_found', `No job "${req.params.id}".`);
    res.json(jobView(job));
  });
}
