import type { Router } from 'express';
import { finalJobStatuses, type JobView } from '@inferq/core/job-view';
import type { ApiDeps } from '../deps.ts';
import { tenantOf } from '../middleware/auth.ts';
import { findJobOrThrow, fullJobView } from '../services/jobs.ts';

const progress = (status: string): number => (finalJobStatuses.has(status) ? 2 : status === 'running' ? 1 : 0);

/**
 * GET /v1/jobs/:id/events: Server-Sent Events, one `status` event per status change (data: the
 * job object), closing after the final one. A client that arrives after the end gets the final
 * event at once. Comment lines keep idle proxies from closing the stream.
 */
export function registerV1JobsEvents(router: Router, deps: ApiDeps): void {
  router.get('/v1/jobs/:id/events', async (req, res) => {
    const tenantId = tenantOf(req);
    await findJobOrThrow(deps.db, tenantId, req.params.id!);

    let lastStatus: string | undefined;
    let ended = false;
    const pending: JobView[] = [];
    const send = (job: JobView) => {
      if (ended || job.status === lastStatus) return;
      lastStatus = job.status;
      res.write(`event: status\ndata: ${JSON.stringify(job)}\n\n`);
      if (finalJobStatuses.has(job.status)) end();
    };
    // Updates that arrive before the snapshot is read are held, then replayed if they are newer.
    let live = false;
    const unwatch = await deps.watcher.watch(req.params.id!, (job) => (live ? send(job) : pending.push(job)));
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), deps.sseHeartbeatMs);
    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      unwatch();
      res.end();
    };
    req.on('close', end);

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    const snapshot = await fullJobView(deps.db, await findJobOrThrow(deps.db, tenantId, req.params.id!));
    send(snapshot);
    live = true;
    for (const job of pending) if (progress(job.status) > progress(snapshot.status)) send(job);
  });
}
