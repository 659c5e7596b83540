import type { Router } from 'express';
import { z } from 'zod';
import { ApiError } from '@inferq/core/errors';
import { newJobId } from '@inferq/core/ids';
import { inputSchemaFor } from '@inferq/core/models';
import { withTimeout } from '@inferq/core/timeout';
import { defaultJobEvents, jobEventTypes } from '@inferq/core/webhook-events';
import { assertSafeWebhookUrl } from '../services/webhook-urls.ts';
import type { ApiDeps } from '../deps.ts';
import { jobView } from '@inferq/core/job-view';
import { tenantOf } from '../middleware/auth.ts';
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
});
export type CreateJobRequest = z.output<typeof createJobRequestSchema>;

/**
 * POST /v1/jobs: validate everything that can be checked up front, insert the row (the record),
 * enqueue its id, answer 202. If the enqueue fails or Redis is too slow to answer, the job is
 * still accepted: the reconciler finds queued rows missing from Redis and enqueues them.
 */
export function registerV1JobsCreate(router: Router, deps: ApiDeps): void {
  router.post('/v1/jobs', async (req, res) => {
    const body = parseOrThrow(createJobRequestSchema, req.body);
    const model = deps.models.get(body.model);
    if (!model) {
      throw new ApiError('invalid_request', `Unknown model "${body.model}"; GET /v1/models lists the models.`, [{ path: 'model', message: 'unknown model' }]);
    }
    const input = parseOrThrow(inputSchemaFor(model), body.input, ['input']);
    if (body.webhook) await assertSafeWebhookUrl(body.webhook.url, deps.webhookAllow, 'webhook.url');

    const job = await deps.db.job.create({
      data: {
        id: newJobId(),
        tenantId: tenantOf(req),
        model: model.name,
        priority: body.priority,
        input: input as object,
        metadata: body.metadata,
        maxAttempts: model.maxAttempts,
        ...(body.webhook ? { webhookUrl: body.webhook.url, webhookEvents: body.webhook.events ?? defaultJobEvents } : {}),
      },
    });
    const enqueued = await withTimeout(deps.queues.enqueue([{ id: job.id, model: job.model, priority: job.priority, maxAttempts: job.maxAttempts }]), deps.enqueueTimeoutMs);
    if (!enqueued.ok) req.log.warn({ err: enqueued.error, jobId: job.id }, 'enqueue failed or timed out; the reconciler will enqueue the job');
    req.log.info({ jobId: job.id, model: job.model }, 'job accepted');
    res.status(202).location(`/v1/jobs/${job.id}`).json(jobView(job, job.webhookUrl ? 'pending' : 'none'));
  });
}
