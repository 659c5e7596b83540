import type { Router } from 'express';
import { z } from 'zod';
import type { ApiDeps } from '../deps.ts';
import { tenantOf } from '../middleware/auth.ts';
import { batchViews, findBatchOrThrow } from '../services/batches.ts';
import { parseOrThrow } from '../validation.ts';

export const listBatchesQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  /** The `next_cursor` of the previous page. */
  cursor: z.string().min(1).max(64).optional(),
});

/** Rows streamed per query: the output of a 50,000-job batch never sits in memory at once. */
const OUTPUT_PAGE = 1_000;

/**
 * GET /v1/batches/:id (with request counts), GET /v1/batches (newest first, cursor-paginated),
 * GET /v1/batches/:id/output (NDJSON `{ custom_id, job_id, status, output, error }`, streamed
 * from Postgres page by page, honouring the client's pace).
 */
export function registerV1BatchesRead(router: Router, deps: ApiDeps): void {
  router.get('/v1/batches/:id', async (req, res) => {
    const [view] = await batchViews(deps.db, [await findBatchOrThrow(deps.db, tenantOf(req), req.params.id!)]);
    res.json(view);
  });

  router.get('/v1/batches', async (req, res) => {
    const query = parseOrThrow(listBatchesQuerySchema, req.query);
    const batches = await deps.db.batch.findMany({
      where: { tenantId: tenantOf(req), ...(query.cursor ? { id: { lt: query.cursor } } : {}) },
      orderBy: { id: 'desc' },
      take: query.limit + 1,
    });
    const page = batches.slice(0, query.limit);
    const hasMore = batches.length > query.limit;
    res.json({ object: 'list', data: await batchViews(deps.db, page), has_more: hasMore, next_cursor: hasMore ? page.at(-1)!.id : null });
  });

  router.get('/v1/batches/:id/output', async (req, res) => {
    const batch = await findBatchOrThrow(deps.db, tenantOf(req), req.params.id!);
    res.status(200).type('application/x-ndjson');
    let after = '';
    let closed = false;
    req.on('close', () => (closed = true));
    while (!closed) {
      const jobs = await deps.db.job.findMany({
        where: { batchId: batch.id, id: { gt: after } },
        orderBy: { id: 'asc' },
        take: OUTPUT_PAGE,
        select: { id: true, customId: true, status: true, output: true, errorCode: true, errorMessage: true },
      });
      const chunk = jobs
        .map((job) => JSON.stringify({ custom_id: job.customId, job_id: job.id, status: job.status, output: job.output ?? null, error: job.errorCode ? { code: job.errorCode, message: job.errorMessage } : null }))
        .join('\n');
      if (jobs.length > 0 && !res.write(`${chunk}\n`)) await new Promise((resolve) => res.once('drain', resolve));
      if (jobs.length < OUTPUT_PAGE) break;
      after = jobs.at(-1)!.id;
    }
    res.end();
  });
}
