import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { typeid } from 'typeid-js';
import { z } from 'zod';
import { ApiError, type FieldError } from '@inferq/core/errors';
import type { ApiDeps } from '../deps.ts';
import { tenantOf } from '../middleware/auth.ts';
import { batchViews, findBatchOrThrow } from '../services/batches.ts';
import { createIdempotently, idempotencyKeyOf } from '../services/idempotency.ts';
import { assignRanks, draftJob, enqueueDrafts, insertJobs, type JobDraft } from '../services/job-intake.ts';
import { fieldErrors, parseOrThrow } from '../validation.ts';
import { metadataSchema } from './v1_jobs_create.ts';

export const MAX_BATCH_LINES = 50_000;
/** How long the background enqueue of a batch may take before it is logged as failed. */
const BULK_ENQUEUE_TIMEOUT_MS = 120_000;
/** Errors reported for one refused batch; enough to fix a file without a 10 MB answer. */
const MAX_REPORTED_ERRORS = 1_000;

export const batchLineSchema = z.strictObject({
  custom_id: z.string().min(1).max(128),
  model: z.string().min(1).max(128),
  input: z.unknown().refine((input) => input !== undefined, 'required'),
  metadata: metadataSchema.optional(),
});

/** `30m`, `24h`, `7d`: at least a minute, at most 7 days. */
export const completionWindowSchema = z
  .string()
  .regex(/^\d+[smhd]$/, 'a duration such as 30m, 24h or 7d')
  .transform((value) => Number(value.slice(0, -1)) * { s: 1, m: 60, h: 3600, d: 86_400 }[value.at(-1) as 's' | 'm' | 'h' | 'd'])
  .pipe(z.int().min(60, 'at least 1 minute').max(7 * 86_400, 'at most 7 days'));

export const createBatchRequestSchema = z.strictObject({
  requests: z.array(z.unknown()).min(1, 'a batch needs at least one request').max(MAX_BATCH_LINES, `at most ${MAX_BATCH_LINES} requests`),
  completion_window: completionWindowSchema.prefault('24h'),
  metadata: metadataSchema.default({}),
});

export const ndjsonOptionsSchema = z.object({
  completion_window: completionWindowSchema.prefault('24h'),
  metadata: z
    .string()
    .transform((value, ctx) => {
      try {
        return JSON.parse(value) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON object' });
        return z.NEVER;
      }
    })
    .pipe(metadataSchema)
    .default({}),
});

/** Bodies of up to `limitBytes`: NDJSON as text, JSON parsed; the general JSON parser then leaves them alone. */
export function batchBody(limitBytes: number) {
  const ndjson = express.text({ type: 'application/x-ndjson', limit: limitBytes });
  const json = express.json({ type: ['application/json', 'application/*+json'], limit: limitBytes });
  return (req: Request, res: Response, next: NextFunction) => (req.is('application/x-ndjson') ? ndjson : json)(req, res, next);
}

/** Lines of an NDJSON body or the `requests` of a JSON one, with their 1-based line numbers. */
function readRequests(req: Request): { lines: { line: number; value: unknown }[]; errors: FieldError[]; completionWindowS: number; metadata: Record<string, string> } {
  if (typeof req.body === 'string') {
    const options = parseOrThrow(ndjsonOptionsSchema, req.query);
    const lines: { line: number; value: unknown }[] = [];
    const errors: FieldError[] = [];
    req.body.split('\n').forEach((text, index) => {
      if (text.trim() === '') return;
      try {
        lines.push({ line: index + 1, value: JSON.parse(text) });
      } catch {
        errors.push({ path: `line ${index + 1}`, message: 'not valid JSON' });
      }
    });
    if (lines.length + errors.length === 0) throw new ApiError('invalid_request', 'The batch is empty.', [{ path: '', message: 'no lines' }]);
    if (lines.length + errors.length > MAX_BATCH_LINES) throw new ApiError('invalid_request', `A batch holds at most ${MAX_BATCH_LINES} lines.`, [{ path: '', message: 'too many lines' }]);
    return { lines, errors, completionWindowS: options.completion_window, metadata: options.metadata };
  }
  const body = parseOrThrow(createBatchRequestSchema, req.body);
  return { lines: body.requests.map((value, index) => ({ line: index + 1, value })), errors: [], completionWindowS: body.completion_window, metadata: body.metadata };
}

/**
 * POST /v1/batches: up to 50,000 requests as NDJSON (or JSON `{ requests }`). Every line is
 * validated first; any bad line refuses the whole batch, naming each line and reason, and
 * nothing is created. Otherwise the batch row and all job rows go in one transaction with one
 * multi-row INSERT, the answer goes out, and the jobs are enqueued in bulk at batch priority.
 */
export function registerV1BatchesCreate(router: Router, deps: ApiDeps): void {
  router.post('/v1/batches', async (req, res) => {
    const tenantId = tenantOf(req);
    const { lines, errors, completionWindowS, metadata } = readRequests(req);
    const batchId = typeid('batch').toString();
    const expiresAt = new Date(Date.now() + completionWindowS * 1000);
    const seen = new Set<string>();
    const drafts: JobDraft[] = [];
    for (const { line, value } of lines) {
      const prefix = `line ${line}`;
      const parsed = batchLineSchema.safeParse(value);
      if (!parsed.success) {
        errors.push(...fieldErrors(parsed.error.issues, [prefix]));
        continue;
      }
      if (seen.has(parsed.data.custom_id)) errors.push({ path: `${prefix}.custom_id`, message: `duplicate custom_id "${parsed.data.custom_id}"` });
      seen.add(parsed.data.custom_id);
      const result = draftJob(deps.models, { ...parsed.data, priority: 'batch' }, [prefix]);
      if ('errors' in result) errors.push(...result.errors);
      else drafts.push({ ...result.draft, batch_id: batchId, custom_id: parsed.data.custom_id, expires_at: expiresAt.toISOString(), ...(parsed.data.metadata ? { metadata: parsed.data.metadata } : {}) });
    }
    if (errors.length > 0) {
      const shown = errors.slice(0, MAX_REPORTED_ERRORS);
      throw new ApiError('invalid_request', `${errors.length} problem(s) in the batch; nothing was created. ${shown.slice(0, 3).map((e) => `${e.path}: ${e.message}`).join('; ')}`, shown);
    }
    const idempotencyKey = idempotencyKeyOf(req.get('idempotency-key'));
    await Promise.all([
      deps.limits.consumeUnits(req.principal!, drafts.reduce((sum, draft) => sum + draft.input_units, 0)),
      deps.limits.assertTenantCanSubmit(deps.db, tenantId, drafts.length),
    ]);
    await assignRanks(deps.queueCounts, tenantId, drafts);

    const result = await createIdempotently(deps.db, tenantId, idempotencyKey, 'batch', req.body, async (tx) => {
      await tx.batch.create({ data: { id: batchId, tenantId, total: drafts.length, metadata, completionWindowS, expiresAt } });
      await insertJobs(tx, tenantId, drafts);
      return batchId;
    }, { atomic: true });
    if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
    // Not awaited: 50,000 entries take Redis a few seconds, and the rows are already the record
    // (the reconciler enqueues whatever this misses, should the process stop half-way).
    else void enqueueDrafts({ ...deps, enqueueTimeoutMs: BULK_ENQUEUE_TIMEOUT_MS }, drafts, req.log);

    const [view] = await batchViews(deps.db, [await findBatchOrThrow(deps.db, tenantId, result.resourceId)]);
    req.log.info({ batchId: result.resourceId, jobs: drafts.length, replayed: result.replayed }, 'batch accepted');
    res.status(202).location(`/v1/batches/${result.resourceId}`).json(view);
  });
}
