import type { Router } from 'express';
import type { Db } from '@inferq/core/db';
import { ApiError } from '@inferq/core/errors';
import type { ApiDeps } from '../deps.ts';
import { tenantOf } from '../middleware/auth.ts';
import { findJobOrThrow } from '../services/jobs.ts';

type DeliveryWithAttempts = NonNullable<Awaited<ReturnType<Db['webhookDelivery']['findFirst']>>> & {
  attemptLog: { attemptedAt: Date; statusCode: number | null; latencyMs: number; error: string | null }[];
};

function deliveryView(delivery: DeliveryWithAttempts) {
  return {
    id: delivery.id,
    object: 'webhook_delivery' as const,
    job_id: delivery.jobId,
    endpoint_id: delivery.endpointId,
    event_type: delivery.eventType,
    url: delivery.url,
    status: delivery.status,
    attempt_count: delivery.attempts,
    next_attempt_at: delivery.status === 'pending' ? delivery.nextAttemptAt.toISOString() : null,
    delivered_at: delivery.deliveredAt?.toISOString() ?? null,
    created_at: delivery.createdAt.toISOString(),
    attempts: delivery.attemptLog.map((attempt) => ({
      attempted_at: attempt.attemptedAt.toISOString(),
      status_code: attempt.statusCode,
      latency_ms: attempt.latencyMs,
      error: attempt.error,
    })),
  };
}

const withAttempts = { attemptLog: { orderBy: { attemptedAt: 'asc' as const } } };

/**
 * GET /v1/jobs/:id/deliveries: every webhook delivery of the job, with each attempt's time,
 * status code, latency and error. POST /v1/deliveries/:id/redeliver: send again now (also a
 * delivery that has failed for good; it gets one more attempt).
 */
export function registerV1Deliveries(router: Router, deps: ApiDeps): void {
  router.get('/v1/jobs/:id/deliveries', async (req, res) => {
    const job = await findJobOrThrow(deps.db, tenantOf(req), req.params.id!);
    const deliveries = await deps.db.webhookDelivery.findMany({ where: { jobId: job.id }, orderBy: { createdAt: 'asc' }, include: withAttempts });
    res.json({ object: 'list', data: deliveries.map(deliveryView) });
  });

  router.post('/v1/deliveries/:id/redeliver', async (req, res) => {
    const where = { id: req.params.id!, tenantId: tenantOf(req) };
    const { count } = await deps.db.webhookDelivery.updateMany({ where, data: { status: 'pending', nextAttemptAt: new Date() } });
    if (count === 0) throw new ApiError('not_found', `No delivery "${req.params.id}".`);
    deps.notifier.webhooksDue();
    const delivery = await deps.db.webhookDelivery.findFirstOrThrow({ where, include: withAttempts });
    res.status(202).json(deliveryView(delivery));
  });
}
