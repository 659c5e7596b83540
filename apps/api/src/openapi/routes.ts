/**
 * Every HTTP route of the API, as the OpenAPI document (GET /openapi.json, /docs) describes it.
 *
 * Adding a route = one entry in `apiRoutes`, keyed exactly as app.ts registers it:
 *
 *   'POST /v1/jobs/:id/retry': {
 *     operationId: 'retryJob', tag: 'Jobs', summary: 'Retry a failed job',
 *     params: jobId,                      // optional: each `:name` is a string path parameter anyway
 *     body: retryJobRequestSchema,        // the zod schema the route file validates with, if any
 *     responses: { 202: json(jobSchema, 'The job, queued again') },
 *     problems: ['conflict'],             // problem+json answers beyond the implied ones (ApiRoute.problems)
 *   },
 *
 * New response shapes go in ./schemas.ts (`.meta({ id })` names them in the document).
 * test/openapi.test.ts fails while a registered route has no entry or an entry has no route;
 * give the new route's real answers an `expectDocumented(...)` there too.
 */
import { z } from 'zod';
import type { ZodOpenApiResponseObject } from 'zod-openapi';
import type { ApiErrorCode } from '@inferq/core/errors';
import { createBatchRequestSchema, ndjsonOptionsSchema } from '../routes/v1_batches_create.ts';
import { listBatchesQuerySchema } from '../routes/v1_batches_read.ts';
import { createJobRequestSchema } from '../routes/v1_jobs_create.ts';
import { listJobsQuerySchema } from '../routes/v1_jobs_list.ts';
import { usageQuerySchema } from '../routes/v1_usage_get.ts';
import { MAX_WAIT_SECONDS, waitQuerySchema } from '../routes/v1_jobs_get.ts';
import { createEndpointRequestSchema } from '../routes/v1_webhook_endpoints.ts';
import {
  batchSchema,
  createdWebhookEndpointSchema,
  deletedJobSchema,
  pageOf,
  usageSchema,
  deletedWebhookEndpointSchema,
  deliverySchema,
  healthSchema,
  jobSchema,
  listOf,
  modelSchema,
  readinessSchema,
  rotatedWebhookEndpointSchema,
  webhookEndpointSchema,
  webhookSecretSchema,
} from './schemas.ts';

/** Sections of the docs, in this order. */
export const tags = {
  Jobs: 'Submit inference jobs and get their results: poll, long-poll or stream.',
  Batches: 'Bulk submission of up to 50,000 requests, run at batch priority.',
  Webhooks: 'Job events pushed to your URLs, signed per Standard Webhooks.',
  Usage: 'What the tenant has used, by model and day.',
  Models: 'What can be run.',
  System: 'Health checks and this documentation.',
} as const;

export interface ApiRoute {
  /** Unique, camelCase: names the operation in docs links and generated clients. */
  operationId: string;
  summary: string;
  description?: string;
  tag: keyof typeof tags;
  /** No API key needed. Otherwise the route needs `Authorization: Bearer iq_…` with the method's scope. */
  public?: true;
  /** Path parameters; without it each `:name` of the key is a plain string. */
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  /** The JSON request body: the zod schema the route validates it with. */
  body?: z.ZodType;
  /** Success answers by status: `json(schema, description)` or any OpenAPI response object. */
  responses: Record<number, ZodOpenApiResponseObject>;
  /**
   * problem+json answers beyond the implied ones: unauthorized, forbidden and rate_limited unless public;
   * invalid_request, payload_too_large and unsupported_media_type with a body; invalid_request
   * with query or headers; not_found with path parameters.
   */
  problems?: ApiErrorCode[];
}

/** A JSON success answer. */
const json = (schema: z.ZodType, description: string, headers?: z.ZodObject): ZodOpenApiResponseObject => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'application/json': { schema } },
});

const location = z.object({ Location: z.string().meta({ description: 'The URL of the created resource.' }) });
const idParam = (description: string, example: string) => z.object({ id: z.string().meta({ description, example }) });
const jobId = idParam('The job id.', 'job_01jz3k8m0qf7r9w5x2y4v6t8s0');
const batchId = idParam('The batch id.', 'batch_01jz3k8m0qf7r9w5x2y4v6t8s0');
const endpointId = idParam('The webhook endpoint id.', 'we_01jz3k8m0qf7r9w5x2y4v6t8s0');
/** For creates that may be retried safely: the same key and body give the first answer again. */
const idempotencyHeaders = z.object({
  'Idempotency-Key': z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/)
    .optional()
    .meta({ description: 'Retrying with the same key and body returns the first result (for 24 h); another body with the key is a 409.', example: 'order-1234' }),
});
const replayed = z.object({ 'Idempotent-Replayed': z.literal('true').optional().meta({ description: 'Set when this is the answer to an earlier request with the same Idempotency-Key.' }) });
const waitDescription = `Seconds (at most ${MAX_WAIT_SECONDS}) to wait for the job to finish before answering.`;

export const apiRoutes: Record<`${'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'} /${string}`, ApiRoute> = {
  'GET /health': {
    operationId: 'getHealth',
    tag: 'System',
    summary: 'Liveness: the process is up',
    public: true,
    responses: { 200: json(healthSchema, 'The process is up.') },
  },
  'GET /ready': {
    operationId: 'getReadiness',
    tag: 'System',
    summary: 'Readiness: Postgres and Redis answer',
    public: true,
    responses: { 200: json(readinessSchema, 'Ready to serve.'), 503: json(readinessSchema, 'Postgres or Redis does not answer; `checks` says which.') },
  },
  'GET /openapi.json': {
    operationId: 'getOpenApiDocument',
    tag: 'System',
    summary: 'This OpenAPI 3.1 document',
    public: true,
    responses: { 200: json(z.record(z.string(), z.unknown()), 'The OpenAPI document.') },
  },
  'GET /docs': {
    operationId: 'getDocs',
    tag: 'System',
    summary: 'This documentation, as a web page',
    public: true,
    responses: { 200: { description: 'An HTML page rendering GET /openapi.json.', content: { 'text/html': { schema: z.string() } } } },
  },
  'GET /v1/models': {
    operationId: 'listModels',
    tag: 'Models',
    summary: 'List the models and their batching limits',
    responses: { 200: json(listOf(modelSchema, 'ModelList'), 'The configured models.') },
  },
  'POST /v1/jobs': {
    operationId: 'createJob',
    tag: 'Jobs',
    summary: 'Submit a job',
    description:
      "`input` must match the model's input: `{ \"text\" }` for local/* and embeddings models, `{ \"messages\": [{ \"role\", \"content\" }], \"max_tokens\"?, \"temperature\"? }` for chat models. " +
      'A 202 means the job is stored and will run, whatever happens to the queue.',
    body: createJobRequestSchema.meta({
      id: 'CreateJobRequest',
      example: { model: 'local/sentiment', input: { text: 'inferq makes async inference easy' }, metadata: { team: 'search' } },
    }),
    headers: idempotencyHeaders,
    responses: { 202: json(jobSchema, 'The job, accepted (status queued).', location.extend(replayed.shape)) },
    problems: ['conflict'],
  },
  'GET /v1/jobs/:id': {
    operationId: 'getJob',
    tag: 'Jobs',
    summary: 'Get a job, optionally waiting for it to finish',
    description: 'With `?wait=N` or `Prefer: wait=N`, answers as soon as the job is finished, or after N seconds with the job as it is then.',
    params: jobId,
    query: z.object({ wait: waitQuerySchema.shape.wait.meta({ description: waitDescription }) }),
    headers: z.object({ Prefer: z.string().optional().meta({ description: `\`wait=N\` (RFC 7240), the same as ?wait=N.`, example: 'wait=30' }) }),
    responses: {
      200: json(jobSchema, 'The job.', z.object({ 'Preference-Applied': z.string().optional().meta({ description: 'Set when the answer waited.', example: 'wait=30' }) })),
    },
  },
  'GET /v1/jobs': {
    operationId: 'listJobs',
    tag: 'Jobs',
    summary: "List the tenant's jobs, newest first",
    query: listJobsQuerySchema,
    responses: { 200: json(pageOf(jobSchema, 'JobList'), 'A page of jobs.') },
  },
  'DELETE /v1/jobs/:id': {
    operationId: 'deleteJobData',
    tag: 'Jobs',
    summary: "Remove a job's input and output now",
    description: 'The job row stays, for usage and audit; its input and output become null.',
    params: jobId,
    responses: { 200: json(deletedJobSchema, 'The job, without its data.') },
  },
  'POST /v1/jobs/:id/retry': {
    operationId: 'retryJob',
    tag: 'Jobs',
    summary: 'Queue a failed, expired or cancelled job again',
    params: jobId,
    responses: { 202: json(jobSchema, 'The job, queued again with fresh attempts.') },
    problems: ['conflict'],
  },
  'GET /v1/jobs/:id/events': {
    operationId: 'streamJobEvents',
    tag: 'Jobs',
    summary: "Stream a job's status changes (Server-Sent Events)",
    params: jobId,
    responses: {
      200: {
        description:
          'One `status` event per status change, its data the job object (as JSON; `webhook_status` may be absent), ending after the final one. ' +
          'Comment lines (`: keep-alive`) keep idle connections open.',
        content: { 'text/event-stream': { schema: z.string().meta({ example: 'event: status\ndata: {"id":"job_…","status":"running",…}\n\n' }) } },
      },
    },
  },
  'POST /v1/jobs/:id/cancel': {
    operationId: 'cancelJob',
    tag: 'Jobs',
    summary: 'Cancel a queued or running job',
    params: jobId,
    responses: { 200: json(jobSchema, 'The job, now cancelled.') },
    problems: ['conflict'],
  },
  'GET /v1/jobs/:id/deliveries': {
    operationId: 'listJobDeliveries',
    tag: 'Webhooks',
    summary: "List a job's webhook deliveries and their attempts",
    params: jobId,
    responses: { 200: json(listOf(deliverySchema, 'WebhookDeliveryList'), 'The deliveries, oldest first.') },
  },
  'POST /v1/deliveries/:id/redeliver': {
    operationId: 'redeliverWebhook',
    tag: 'Webhooks',
    summary: 'Send a webhook delivery again now',
    params: idParam('The delivery id (the webhook-id header).', 'msg_01jz3k8m0qf7r9w5x2y4v6t8s0'),
    responses: { 202: json(deliverySchema, 'The delivery, due now.') },
  },
  'POST /v1/batches': {
    operationId: 'createBatch',
    tag: 'Batches',
    summary: 'Submit up to 50,000 requests at once',
    description:
      'As JSON (below) or as `application/x-ndjson`, one `{ "custom_id", "model", "input" }` per line, with `completion_window` and `metadata` (a JSON object) in the query. ' +
      'Any invalid line refuses the whole batch with every line and reason; nothing is created.',
    body: createBatchRequestSchema.meta({
      id: 'CreateBatchRequest',
      example: { requests: [{ custom_id: 'review-1', model: 'local/sentiment', input: { text: 'Great product' } }], completion_window: '24h' },
    }),
    query: ndjsonOptionsSchema,
    headers: idempotencyHeaders,
    responses: { 202: json(batchSchema, 'The batch, accepted.', location.extend(replayed.shape)) },
    problems: ['conflict'],
  },
  'GET /v1/batches': {
    operationId: 'listBatches',
    tag: 'Batches',
    summary: 'List batches, newest first',
    query: listBatchesQuerySchema,
    responses: { 200: json(pageOf(batchSchema, 'BatchList'), 'A page of batches.') },
  },
  'GET /v1/batches/:id': {
    operationId: 'getBatch',
    tag: 'Batches',
    summary: 'Get a batch and its request counts',
    params: batchId,
    responses: { 200: json(batchSchema, 'The batch.') },
  },
  'GET /v1/batches/:id/output': {
    operationId: 'getBatchOutput',
    tag: 'Batches',
    summary: "Stream a batch's results as NDJSON",
    params: batchId,
    responses: {
      200: {
        description: 'One line per job: `{ custom_id, job_id, status, output, error }`.',
        content: { 'application/x-ndjson': { schema: z.string().meta({ example: '{"custom_id":"review-1","job_id":"job_…","status":"succeeded","output":{…},"error":null}\n' }) } },
      },
    },
  },
  'POST /v1/batches/:id/cancel': {
    operationId: 'cancelBatch',
    tag: 'Batches',
    summary: 'Cancel the queued jobs of a batch',
    params: batchId,
    responses: { 200: json(batchSchema, 'The batch, cancelling or cancelled.') },
    problems: ['conflict'],
  },
  'GET /v1/usage': {
    operationId: 'getUsage',
    tag: 'Usage',
    summary: 'Usage by model and day',
    query: usageQuerySchema,
    responses: { 200: json(usageSchema, 'Usage of finished jobs, single and batch alike.') },
  },
  'POST /v1/webhook-endpoints': {
    operationId: 'createWebhookEndpoint',
    tag: 'Webhooks',
    summary: 'Subscribe a URL to job events of the whole tenant',
    description: 'The URL must be http(s) and resolve to a public address.',
    body: createEndpointRequestSchema.meta({
      id: 'CreateWebhookEndpointRequest',
      example: { url: 'https://example.com/hooks/inferq', events: ['job.succeeded', 'job.failed'] },
    }),
    responses: { 201: json(createdWebhookEndpointSchema, 'The endpoint, with its signing secret (shown only here).', location) },
  },
  'GET /v1/webhook-endpoints': {
    operationId: 'listWebhookEndpoints',
    tag: 'Webhooks',
    summary: 'List webhook endpoints',
    responses: { 200: json(listOf(webhookEndpointSchema, 'WebhookEndpointList'), 'The endpoints, oldest first.') },
  },
  'DELETE /v1/webhook-endpoints/:id': {
    operationId: 'deleteWebhookEndpoint',
    tag: 'Webhooks',
    summary: 'Delete a webhook endpoint and its pending deliveries',
    params: endpointId,
    responses: { 200: json(deletedWebhookEndpointSchema, 'The endpoint is gone.') },
  },
  'POST /v1/webhook-endpoints/:id/rotate-secret': {
    operationId: 'rotateWebhookEndpointSecret',
    tag: 'Webhooks',
    summary: "Replace an endpoint's signing secret",
    description: 'The old secret keeps signing beside the new one for 24 hours.',
    params: endpointId,
    responses: { 200: json(rotatedWebhookEndpointSchema, 'The endpoint, with its new secret (shown only here).') },
  },
  'GET /v1/webhook-secret': {
    operationId: 'getWebhookSecret',
    tag: 'Webhooks',
    summary: 'Get the secret that signs per-job webhooks',
    responses: { 200: json(webhookSecretSchema, "The tenant's default signing secret.") },
  },
};
