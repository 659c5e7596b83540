import { z } from 'zod';
import { commonEnv, parseEnv } from '@inferq/core/env';

export const apiEnvSchema = z.object({
  ...commonEnv,
  /** Port the HTTP server listens on. */
  PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  /** Address to bind; 0.0.0.0 in containers. */
  HOST: z.string().min(1).default('0.0.0.0'),
  /** Largest accepted request body, in bytes (larger → 413). */
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(100 * 1024 * 1024).default(1024 * 1024),
  /** Largest accepted bulk batch body (POST /v1/batches), in bytes. */
  BATCH_BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(1024 * 1024 * 1024).default(100 * 1024 * 1024),
  /** How long a submit waits for Redis before answering 202 anyway; the row is stored and the reconciler enqueues it. */
  ENQUEUE_TIMEOUT_MS: z.coerce.number().int().min(10).default(2_000),
  /** Requests per minute per API key, unless the key sets its own. */
  RATE_LIMIT_REQUESTS_PER_MINUTE: z.coerce.number().int().min(1).default(100_000),
  /** Input units (≈ tokens) per minute per API key, unless the key sets its own. */
  RATE_LIMIT_UNITS_PER_MINUTE: z.coerce.number().int().min(1).default(10_000_000),
  /** Queued jobs per tenant before submits get 429, unless the tenant sets its own. */
  MAX_QUEUED_JOBS_PER_TENANT: z.coerce.number().int().min(1).default(1_000_000),
  /** How long a valid API key is trusted before Postgres is asked again (revocations take effect within it). */
  AUTH_CACHE_MS: z.coerce.number().int().min(0).default(5_000),
  /** How long per-tenant queue counts are reused before being counted again (backpressure and fair share). */
  QUEUE_COUNT_CACHE_MS: z.coerce.number().int().min(0).default(1_000),
  /** How long a submit waits for others to share its insert and enqueue (group commit); with 0 it waits for none, and submits still group while a statement is in flight. */
  SUBMIT_GROUP_WAIT_MS: z.coerce.number().int().min(0).max(100).default(0),
  /** How long a tenant's limits and month-to-date usage are reused before being read again. */
  TENANT_CACHE_MS: z.coerce.number().int().min(0).default(5_000),
  /** Interval of the keep-alive comments on an idle event stream. */
  SSE_HEARTBEAT_MS: z.coerce.number().int().min(100).default(15_000),
  /** How long shutdown waits for in-flight requests before closing connections. */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
});

export type ApiEnv = z.output<typeof apiEnvSchema>;

export const readApiEnv = (source: NodeJS.ProcessEnv = process.env): ApiEnv => parseEnv(apiEnvSchema, source);
