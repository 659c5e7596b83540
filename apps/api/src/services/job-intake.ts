import { Prisma, type Db, type Job } from '@inferq/core/db';
import { ApiError, type FieldError } from '@inferq/core/errors';
import { newJobId } from '@inferq/core/ids';
import { jobColumns, type JobRef } from '@inferq/core/job-store';
import { inputSchemaFor, inputUnitsOf, type ModelCatalog } from '@inferq/core/models';
import { withTimeout } from '@inferq/core/timeout';
import type { ApiDeps } from '../deps.ts';
import { fieldErrors } from '../validation.ts';
import type { QueueCounts } from './queue-counts.ts';

type Tx = Parameters<Parameters<Db['$transaction']>[0]>[0];

/** A validated job, ready to insert. */
export interface JobDraft {
  id: string;
  model: string;
  priority: 'interactive' | 'batch';
  input: unknown;
  metadata: Record<string, string>;
  max_attempts: number;
  input_units: number;
  webhook_url?: string;
  webhook_events?: string[];
  batch_id?: string;
  custom_id?: string;
  expires_at?: string;
  timeout_ms?: number;
  /** Its place among the tenant's queued jobs of its model (fair share); not stored. */
  rank?: number;
}

/**
 * Checks a job's model and its input against the model's schema. Returns the draft, or the
 * field errors (paths under `prefix`) so a bulk submit can report every bad line at once.
 */
export function draftJob(
  models: ModelCatalog,
  request: { model: string; input: unknown; priority: 'interactive' | 'batch'; metadata?: Record<string, string> },
  prefix: readonly PropertyKey[] = [],
): { draft: JobDraft } | { errors: FieldError[] } {
  const model = models.get(request.model);
  if (!model) return { errors: [{ path: [...prefix, 'model'].join('.'), message: `unknown model "${request.model}"; GET /v1/models lists the models` }] };
  const input = inputSchemaFor(model).safeParse(request.input);
  if (!input.success) return { errors: fieldErrors(input.error.issues, [...prefix, 'input']) };
  return {
    draft: {
      id: newJobId(),
      model: model.name,
      priority: request.priority,
      input: input.data,
      metadata: request.metadata ?? {},
      max_attempts: model.maxAttempts,
      input_units: inputUnitsOf(input.data),
    },
  };
}

/** The draft, or a 400 naming every offending field. */
export function draftJobOrThrow(...args: Parameters<typeof draftJob>): JobDraft {
  const result = draftJob(...args);
  if ('errors' in result) {
    const summary = result.errors.map((e) => `${e.path}: ${e.message}`).join('; ');
    throw new ApiError('invalid_request', `The request is invalid: ${summary}`, result.errors);
  }
  return result.draft;
}

/** A draft with the tenant it belongs to: what one row of `jobs` is made from. */
export type JobRow = JobDraft & { tenant_id: string };

const insertStatement = (rows: JobRow[]) => Prisma.sql`
    INSERT INTO jobs AS j (id, tenant_id, model, priority, status, input, metadata, max_attempts, input_units,
                      webhook_url, webhook_events, batch_id, custom_id, expires_at, timeout_ms, created_at, updated_at)
    SELECT v.id, v.tenant_id, v.model, v.priority::job_priority, 'queued', v.input, v.metadata, v.max_attempts, v.input_units,
           v.webhook_url, COALESCE(v.webhook_events, '{}'), v.batch_id, v.custom_id, v.expires_at, v.timeout_ms, now(), now()
      FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS v(
           id text, tenant_id text, model text, priority text, input jsonb, metadata jsonb, max_attempts int, input_units int,
           webhook_url text, webhook_events text[], batch_id text, custom_id text, expires_at timestamptz, timeout_ms int)`;

/** Inserts all of a tenant's drafts in one statement (no INSERT per job), whatever their number. */
export async function insertJobs(tx: Tx, tenantId: string, drafts: JobDraft[]): Promise<void> {
  await tx.$executeRaw(insertStatement(drafts.map((draft) => ({ ...draft, tenant_id: tenantId }))));
}

/** Inserts rows (of any tenants) in one statement and returns the stored jobs, in the rows' order. */
export async function insertJobRows(tx: Tx, rows: JobRow[]): Promise<Job[]> {
  const stored = await tx.$queryRaw<Job[]>`${insertStatement(rows)} RETURNING ${jobColumns}`;
  const byId = new Map(stored.map((job) => [job.id, job]));
  return rows.map((row) => byId.get(row.id)!);
}

/**
 * Gives each draft its fair-share rank: the next places after the tenant's queued jobs of its
 * model. Call it before inserting, so the count read is the backlog the new jobs join.
 */
export async function assignRanks(counts: QueueCounts, tenantId: string, drafts: JobDraft[]): Promise<void> {
  const backlog = new Map<string, number>();
  for (const model of new Set(drafts.map((draft) => draft.model))) backlog.set(model, await counts.queued(tenantId, model));
  const added = new Map<string, number>();
  for (const draft of drafts) {
    const n = (added.get(draft.model) ?? 0) + 1;
    added.set(draft.model, n);
    draft.rank = backlog.get(draft.model)! + n;
  }
  for (const [model, n] of added) counts.added(tenantId, model, n);
}

/**
 * Enqueues freshly inserted jobs at their ranks. A failure or a slow Redis is logged, not thrown:
 * the rows are the record and the reconciler enqueues what is missing.
 */
export async function enqueueDrafts(deps: Pick<ApiDeps, 'queues' | 'enqueueTimeoutMs'>, drafts: JobDraft[], log: ApiDeps['logger']): Promise<void> {
  const refs: JobRef[] = drafts.map((draft) => ({ id: draft.id, model: draft.model, priority: draft.priority, maxAttempts: draft.max_attempts, rank: draft.rank }));
  const enqueued = await withTimeout(deps.queues.enqueue(refs), deps.enqueueTimeoutMs);
  if (!enqueued.ok) log.warn({ err: enqueued.error, jobIds: refs.slice(0, 20).map((ref) => ref.id), count: refs.length }, 'enqueue failed or timed out; the reconciler will enqueue the jobs');
}
