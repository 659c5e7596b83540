import type { Request, Router } from 'express';
import { z } from 'zod';
import { finalJobStatuses } from '@inferq/core/job-view';
import type { ApiDeps } from '../deps.ts';
import { tenantOf } from '../middleware/auth.ts';
import { findJobOrThrow, fullJobView } from '../services/jobs.ts';
import { parseOrThrow } from '../validation.ts';

export const MAX_WAIT_SECONDS = 60;

export const waitQuerySchema = z.object({ wait: z.coerce.number().int().min(0).max(MAX_WAIT_SECONDS).optional() });
const preferWaitSchema = z.coerce.number().int().min(0).max(MAX_WAIT_SECONDS);

/** Seconds to wait for the job to finish: `?wait=N` or `Prefer: wait=N` (RFC 7240), at most 60. */
function requestedWait(req: Request): number {
  const query = parseOrThrow(waitQuerySchema, req.query);
  if (query.wait !== undefined) return query.wait;
  const prefer = req.get('prefer')?.match(/(?:^|[,;\s])wait=([^,;\s]+)/i)?.[1];
  return prefer === undefined ? 0 : parseOrThrow(preferWaitSchema, prefer, ['Prefer', 'wait']);
}

/**
 * GET /v1/jobs/:id: the job as Postgres has it. With a wait, answers as soon as the job is
 * finished (woken over Redis pub/sub) or, at the latest, after the wait with the current job: a
 * lost wake-up costs latency, never the right answer.
 */
export function registerV1JobsGet(router: Router, deps: ApiDeps): void {
  router.get('/v1/jobs/:id', async (req, res) => {
    const tenantId = tenantOf(req);
    const waitSeconds = requestedWait(req);
    let job = await findJobOrThrow(deps.db, tenantId, req.params.id!);
    if (waitSeconds > 0 && !finalJobStatuses.has(job.status)) {
      let finished!: () => void;
      const done = new Promise<void>((resolve) => (finished = resolve));
      const unwatch = await deps.watcher.watch(job.id, (update) => {
        if (finalJobStatuses.has(update.status)) finished();
      });
      const timer = setTimeout(finished, waitSeconds * 1000);
      req.on('close', finished);
      try {
        // Read again now that we are subscribed: the job may have finished in between.
        job = await findJobOrThrow(deps.db, tenantId, job.id);
        if (!finalJobStatuses.has(job.status)) {
          await done;
          job = await findJobOrThrow(deps.db, tenantId, job.id);
        }
      } finally {
        clearTimeout(timer);
        unwatch();
      }
      res.setHeader('Preference-Applied', `wait=${waitSeconds}`);
    }
    res.json(await fullJobView(deps.db, job));
  });
}
