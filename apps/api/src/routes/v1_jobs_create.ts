import type { Router } from 'express';
import { z } from 'zod';
import type { Job } from '@inferq/core/db';
import { jobView } from '@inferq/core/job-view';
import { withTimeout } from '@inferq/core/timeout';
import { defaultJobEvents, jobEventTypes } from '@inferq/core/webhook-events';
import type { ApiDeps } from '../deps.ts';
import { tenantOf } from '../middleware/auth.ts';
import { createIdempotently, idempotencyKeyOf } from '../services/idempotency.ts';
import { assignRanks, draftJobOrThrow, insertJobRows } from '../services/job-intake.ts';
import { findJobOrThrow } from '../services/jobs.ts';
import { assertSafeWebhookUrl } from '../services/webhook-urls.ts';
import { parseOrThrow } from '../validation.ts';

export const METADATA_MAX_KEYS = 16;

export const metadataSchema = z
  .record(z.string().min(1).max(64, 'keys must be at most 64 characters'), z.string().max(512, 'values must be at most 512 characters'))
  .refine((metadata) => Object.keys(metadata).length <= METADATA_MAX_KEYS, `at most ${METADATA_MAX_KEYS} keys`);

export const webhookSchema = z.strictObject({
  url: z.string().min(1).max(2048),
  events: z.array(z.enum(jobEventTypes)).min(1).max(jobEventTypes.length).optional(),
});

export const createJobRequestSchema = z.strictObject({
  model: z.string().min(1).max(128),
  input: z.unknown().refine((input) => input !== undefined, 'required'),
  priority: z.enum(['interactive', 'batch']).default('interactive'),
  metadata: metadataSchema.default({}),
  webhook: webhookSchema.optional(),
  /** Time allowed in the queue; a job not started by then becomes `expired`. */
  ttl_seconds: z.int().min(1).max(7 * 24 * 3600).optional(),
  /** Time allowed to run; a job running longer fails with `timeout`. */
  timeout_seconds: z.int().min(1).max(24 * 3600).optional(),
});
export type CreateJobRequest = z.output<typeof createJobRequestSchema>;

/**
 * POST /v1/jobs: validate everything that can be checked up front, check the caller's limits,
 * insert the row (the record, under the Idempotency-Key if one is given; otherwise in a group
 * commit with concurrent submits), enqueue its id, answer 202. If the enqueue fails or Redis is slow, the job is still accepted: the reconciler finds
 * queued rows missing from Redis and enqueues them.
 */
export function registerV1JobsCreate(router: Router, deps: ApiDeps): void {
  router.post('/v1/jobs', async (req, res) => {
    const tenantId = tenantOf(req);
    const body = parseOrThrow(createJobRequestSchema, req.body);
    const draft = draftJobOrThrow(deps.models, body);
    if (body.webhook) {
      await assertSafeWebhookUrl(body.webhook.url, deps.webhookAllow, 'webhook.url');
      draft.webhook_url = body.webhook.url;
      draft.webhook_events = body.webhook.events ?? defaultJobEvents;
    }
    if (body.ttl_seconds) draft.expires_at = new Date(Date.now() + body.ttl_seconds * 1000).toISOString();
    if (body.timeout_seconds) draft.timeout_ms = body.timeout_seconds * 1000;
    const idempotencyKey = idempotencyKeyOf(req.get('idempotency-key'));

    // Independent checks (Redis and Postgres), so they run side by side.
    await Promise.all([deps.limits.consumeUnits(req.principal!, draft.input_units), deps.limits.assertTenantCanSubmit(deps.db, tenantId, 1)]);
    await assignRanks(deps.queueCounts, tenantId, [draft]);
    const row = { ...draft, tenant_id: tenantId };
    let inserted: Job | undefined;
    const result = await createIdempotently(deps.db, tenantId, idempotencyKey, 'job', req.body, async (tx) => {
      // Without a key the insert joins the group commit; with one it belongs to the key's transaction.
      [inserted] = idempotencyKey === undefined ? [await deps.submits.insert(row)] : await insertJobRows(tx, [row]);
      return draft.id;
    }, { atomic: false });
    if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
    else {
      const ref = { id: draft.id, model: draft.model, priority: draft.priority, maxAttempts: draft.max_attempts, rank: draft.rank };
      const enqueued = await withTimeout(deps.submits.enqueue(ref), deps.enqueueTimeoutMs);
      if (!enqueued.ok) req.log.warn({ err: enqueued.error, jobId: draft.id }, 'enqueue failed or timed out; the reconciler will enqueue the job');
    }

    const job = inserted ?? (await findJobOrThrow(deps.db, tenantId, result.resourceId));
    req.log.info({ jobId: job.id, model: job.model, replayed: result.replayed }, 'job accepted');
    res.status(202).location(`/v1/jobs/${job.id}`).json(jobView(job, job.webhookUrl ? 'pending' : 'none'));
  });
}
