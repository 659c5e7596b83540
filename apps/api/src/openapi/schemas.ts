import { z } from 'zod';
import { DeliveryStatus, JobPriority, JobStatus } from '@inferq/core/db/generated/enums';
import { apiErrorStatus, jobErrorCodes } from '@inferq/core/errors';
import { BatchStatus } from '@inferq/core/db/generated/enums';
import { endpointEventTypes } from '@inferq/core/webhook-events';
import { metadataSchema } from '../routes/v1_jobs_create.ts';

/**
 * What the API answers, as zod schemas for the OpenAPI document (requests are validated by the
 * schemas the route files export; these only describe responses). Each `.meta({ id })` becomes a
 * named component. Enums come from the code that produces the values, so they cannot drift apart.
 */

/** ISO 8601 timestamps as the API writes them. */
const timestamp = z.iso.datetime().meta({ example: '2026-01-01T12:00:00.000Z' });

const eventType = z.enum(endpointEventTypes);

/** A list answer: `{ object: "list", data: [...] }`. */
export const listOf = (item: z.ZodType, id: string) => z.object({ object: z.literal('list'), data: z.array(item) }).meta({ id });

/** A page of a cursor-paginated list: pass `next_cursor` as `cursor` for the next one. */
export const pageOf = (item: z.ZodType, id: string) =>
  z.object({ object: z.literal('list'), data: z.array(item), has_more: z.boolean(), next_cursor: z.string().nullable() }).meta({ id });

export const jobSchema = z
  .object({
    id: z.string().meta({ example: 'job_01jz3k8m0qf7r9w5x2y4v6t8s0' }),
    object: z.literal('job'),
    model: z.string().meta({ example: 'local/sentiment' }),
    status: z.enum(JobStatus),
    priority: z.enum(JobPriority),
    input: z.unknown().meta({ description: "The input as submitted, valid for the model's input schema.", example: { text: 'inferq makes async inference easy' } }),
    output: z.unknown().meta({ description: "The model's output once the job has succeeded, else null.", example: { score: 0.33, label: 'positive' } }),
    error: z
      .object({ code: z.enum(jobErrorCodes), message: z.string() })
      .nullable()
      .meta({ description: 'Why the job failed; null unless status is failed.' }),
    usage: z.object({ input_tokens: z.int(), output_tokens: z.int() }).nullable(),
    metadata: metadataSchema.meta({ example: { team: 'search' } }),
    attempts: z.int().meta({ description: 'Times a worker has claimed the job.' }),
    webhook: z.object({ url: z.string(), events: z.array(eventType) }).nullable().meta({ description: 'The per-job webhook, if any.' }),
    webhook_status: z
      .enum(['none', 'pending', 'delivered', 'failing', 'failed'])
      .optional()
      .meta({ description: "Summary of the job's webhook deliveries (in single-job answers; not in lists, events or webhook bodies)." }),
    created_at: timestamp,
    started_at: timestamp.nullable(),
    completed_at: timestamp.nullable(),
  })
  .meta({ id: 'Job', description: 'An inference job. Finished jobs have status succeeded, failed, cancelled or expired.' });

export const modelSchema = z
  .object({
    id: z.string().meta({ description: 'The name to send as `model`.', example: 'local/sentiment' }),
    object: z.literal('model'),
    provider: z.enum(['local', 'openai']),
    task: z.string().meta({ description: 'sentiment, entities or echo (local); chat or embeddings (openai).' }),
    batching: z.object({ max_batch_size: z.int(), max_wait_ms: z.int(), concurrency: z.int() }),
    timeout_ms: z.int(),
    max_attempts: z.int(),
  })
  .meta({ id: 'Model' });

const endpointFields = {
  id: z.string().meta({ example: 'we_01jz3k8m0qf7r9w5x2y4v6t8s0' }),
  object: z.literal('webhook_endpoint'),
  url: z.string(),
  events: z.array(eventType),
  status: z.enum(['enabled', 'disabled']),
  disabled_reason: z.string().nullable().meta({ description: 'Why deliveries stopped (e.g. the receiver answered 410 Gone).' }),
  created_at: timestamp,
};
const secret = z.string().meta({ description: 'Signs deliveries (Standard Webhooks); shown only in this answer.', example: 'whsec_…' });

export const webhookEndpointSchema = z.object(endpointFields).meta({ id: 'WebhookEndpoint' });
export const createdWebhookEndpointSchema = z.object({ ...endpointFields, secret }).meta({ id: 'CreatedWebhookEndpoint' });
export const rotatedWebhookEndpointSchema = z
  .object({ ...endpointFields, secret, previous_secret_expires_at: timestamp.meta({ description: 'Until then the old secret signs beside the new one.' }) })
  .meta({ id: 'RotatedWebhookEndpoint' });
export const deletedWebhookEndpointSchema = z.object({ id: z.string(), object: z.literal('webhook_endpoint'), deleted: z.literal(true) }).meta({ id: 'DeletedWebhookEndpoint' });

export const webhookSecretSchema = z.object({ object: z.literal('webhook_secret'), secret }).meta({ id: 'WebhookSecret' });

export const deliverySchema = z
  .object({
    id: z.string().meta({ description: 'Also the `webhook-id` header of every attempt.', example: 'msg_01jz3k8m0qf7r9w5x2y4v6t8s0' }),
    object: z.literal('webhook_delivery'),
    job_id: z.string().nullable(),
    endpoint_id: z.string().nullable().meta({ description: 'Null for the per-job webhook.' }),
    event_type: eventType,
    url: z.string(),
    status: z.enum(DeliveryStatus),
    attempt_count: z.int(),
    next_attempt_at: timestamp.nullable().meta({ description: 'When the next attempt is due; null unless pending.' }),
    delivered_at: timestamp.nullable(),
    created_at: timestamp,
    attempts: z.array(
      z.object({
        attempted_at: timestamp,
        status_code: z.int().nullable().meta({ description: "The receiver's HTTP status; null when it did not answer." }),
        latency_ms: z.int(),
        error: z.string().nullable(),
      }),
    ),
  })
  .meta({ id: 'WebhookDelivery' });

/** RFC 9457 problem details, as apps/api/src/middleware/problem-details.ts renders every error. */
export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    code: z.enum(Object.keys(apiErrorStatus) as [keyof typeof apiErrorStatus]),
    request_id: z.string().meta({ description: 'Also in the X-Request-Id header; names the request in our logs.' }),
    errors: z
      .array(z.object({ path: z.string().meta({ example: 'input.text' }), message: z.string() }))
      .optional()
      .meta({ description: 'One entry per offending field (400 only).' }),
  })
  .meta({ id: 'Problem' });

export const healthSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });

const check = z.enum(['ok', 'down']);
export const readinessSchema = z.object({ status: z.enum(['ready', 'unavailable']), checks: z.object({ postgres: check, redis: check }) }).meta({ id: 'Readiness' });

export const deletedJobSchema = jobSchema.extend({ deleted: z.literal(true) }).meta({ id: 'DeletedJob', description: 'The job with its input and output removed.' });

const count = z.int().min(0);
export const batchSchema = z
  .object({
    id: z.string().meta({ example: 'batch_01jz3k8m0qf7r9w5x2y4v6t8s0' }),
    object: z.literal('batch'),
    status: z.enum(BatchStatus),
    request_counts: z.object({ total: count, succeeded: count, failed: count, cancelled: count, expired: count }),
    metadata: metadataSchema,
    completion_window: z.string().meta({ description: 'In seconds, e.g. 86400s.', example: '86400s' }),
    created_at: timestamp,
    expires_at: timestamp.meta({ description: 'Jobs not started by then expire.' }),
    completed_at: timestamp.nullable(),
  })
  .meta({ id: 'Batch' });

export const usageSchema = z
  .object({
    object: z.literal('usage'),
    from: z.iso.date(),
    to: z.iso.date(),
    data: z.array(z.object({ day: z.iso.date(), model: z.string(), jobs: count, input_tokens: count, output_tokens: count, units: count })),
  })
  .meta({ id: 'Usage' });
