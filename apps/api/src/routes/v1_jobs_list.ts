import type { Router } from 'express';
import { z } from 'zod';
import { jobView } from '@inferq/core/job-view';
import type { ApiDeps } from '../deps.ts';
import { tenantOf } from '../middleware/auth.ts';
import { parseOrThrow } from '../validation.ts';

export const listJobsQuerySchema = z.strictObject({
  status: z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired']).optional(),
  model: z.string().min(1).max(128).optional(),
  batch_id: z.string().min(1).max(64).optional(),
  created_after: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  /** The `next_cursor` of the previous page. */
  cursor: z.string().min(1).max(64).optional(),
});

/**
 * GET /v1/jobs: the tenant's jobs, newest first, filtered, cursor-paginated. Ids sort by creation
 * time, so the cursor is the last id seen: stable under concurrent inserts, no OFFSET scans.
 */
export function registerV1JobsList(router: Router, deps: ApiDeps): void {
  router.get('/v1/jobs', async (req, res) => {
    const query = parseOrThrow(listJobsQuerySchema, req.query);
    const jobs = await deps.db.job.findMany({
      where: {
        tenantId: tenantOf(req),
        ...(query.status ? { status: query.status } : {}),
        ...(query.model ? { model: query.model } : {}),
        ...(query.batch_id ? { batchId: query.batch_id } : {}),
        ...(query.created_after ? { createdAt: { gt: new Date(query.created_after) } } : {}),
        ...(query.cursor ? { id: { lt: query.cursor } } : {}),
      },
      orderBy: { id: 'desc' },
      take: query.limit + 1,
    });
    const page = jobs.slice(0, query.limit);
    const hasMore = jobs.length > query.limit;
    res.json({ object: 'list', data: page.map((job) => jobView(job)), has_more: hasMore, next_cursor: hasMore ? page.at(-1)!.id : null });
  });
}
