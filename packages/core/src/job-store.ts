import type { Db, Job } from './db.ts';
import { Prisma } from './db/generated/client.ts';
import type { JobErrorCode } from './errors.ts';

/**
 * The SQL of every change of a job's status, each one conditional UPDATE. The `WHERE status = …`
 * (and, for a running job, `attempts = <the claim's attempt>`) is what makes at-least-once
 * delivery from Redis an exactly-once effect here: a late, duplicate or fenced-off worker matches
 * no row. Statements return the changed rows whole, for events and notifications.
 * `db` may be a transaction client.
 */

type Sql = Pick<Db, '$queryRaw'>;

/** Every column of `jobs AS j`, named as Prisma's Job type names them. */
export const jobColumns = Prisma.raw(`j.id, j.tenant_id AS "tenantId", j.model, j.priority, j.status, j.input, j.output,
  j.error_code AS "errorCode", j.error_message AS "errorMessage", j.usage, j.metadata, j.attempts,
  j.max_attempts AS "maxAttempts", j.lease_expires_at AS "leaseExpiresAt", j.created_at AS "createdAt",
  j.updated_at AS "updatedAt", j.started_at AS "startedAt", j.completed_at AS "completedAt",
  j.webhook_url AS "webhookUrl", j.webhook_events AS "webhookEvents", j.batch_id AS "batchId", j.custom_id AS "customId",
  j.input_units AS "inputUnits", j.expires_at AS "expiresAt", j.timeout_ms AS "timeoutMs", j.purged_at AS "purgedAt"`);

export type JobOutcome =
  | { id: string; attempt: number; status: 'succeeded'; output: unknown; usage: unknown }
  | { id: string; attempt: number; status: 'failed'; errorCode: JobErrorCode; errorMessage: string; usage?: unknown };

export interface JobRef {
  id: string;
  model: string;
  priority: 'interactive' | 'batch';
  maxAttempts: number;
  /** The job's place among its tenant's queued jobs of this model (1 = next): the fair-share order. */
  rank?: number;
}

/**
 * Takes queued jobs (or running ones whose worker's lease ran out) for this worker until
 * `leaseMs` from now. Jobs that are finished, cancelled, held by a live lease, out of attempts or
 * past their time in the queue (left for the reconciler to expire) are not returned. A returned job's `attempts` is this claim's attempt number: the fencing token
 * its result must carry.
 */
export function claimJobs(db: Sql, ids: string[], leaseMs: number): Promise<Job[]> {
  return db.$queryRaw<Job[]>`
    UPDATE jobs AS j
       SET status = 'running', attempts = attempts + 1, started_at = COALESCE(started_at, now()),
           lease_expires_at = now() + ${leaseMs} * interval '1 millisecond', updated_at = now()
     WHERE id = ANY(${ids}::text[])
       AND attempts < max_attempts
       AND (expires_at IS NULL OR expires_at > now())
       AND (status = 'queued' OR (status = 'running' AND lease_expires_at < now()))
 RETURNING ${jobColumns}`;
}

/** Writes the results of one batch in one statement; returns the jobs whose result was stored. */
export function recordOutcomes(db: Sql, outcomes: JobOutcome[]): Promise<Job[]> {
  if (outcomes.length === 0) return Promise.resolve([]);
  const rows = outcomes.map((o) =>
    o.status === 'succeeded'
      ? { id: o.id, attempt: o.attempt, status: o.status, output: o.output, usage: o.usage, error_code: null, error_message: null }
      : { id: o.id, attempt: o.attempt, status: o.status, output: null, usage: o.usage ?? null, error_code: o.errorCode, error_message: o.errorMessage },
  );
  return db.$queryRaw<Job[]>`
    UPDATE jobs AS j
       SET status = v.status::job_status, output = v.output, usage = v.usage,
           error_code = v.error_code, error_message = v.error_message,
           completed_at = now(), updated_at = now(), lease_expires_at = NULL
      FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
           AS v(id text, attempt int, status text, output jsonb, usage jsonb, error_code text, error_message text)
     WHERE j.id = v.id AND j.status = 'running' AND j.attempts = v.attempt
 RETURNING ${jobColumns}`;
}

/** Sends running jobs back to the queue after a transient failure; returns the jobs released. */
export function releaseJobs(db: Sql, claims: { id: string; attempt: number }[]): Promise<Job[]> {
  if (claims.length === 0) return Promise.resolve([]);
  return db.$queryRaw<Job[]>`
    UPDATE jobs AS j
       SET status = 'queued', lease_expires_at = NULL, updated_at = now()
      FROM jsonb_to_recordset(${JSON.stringify(claims)}::jsonb) AS v(id text, attempt int)
     WHERE j.id = v.id AND j.status = 'running' AND j.attempts = v.attempt
 RETURNING ${jobColumns}`;
}

/** queued or running → cancelled, for the tenant's job; empty when it is not cancellable (or not theirs). */
export function cancelJob(db: Sql, tenantId: string, id: string): Promise<Job[]> {
  return db.$queryRaw<Job[]>`
    UPDATE jobs AS j
       SET status = 'cancelled', completed_at = now(), updated_at = now(), lease_expires_at = NULL
     WHERE j.id = ${id} AND j.tenant_id = ${tenantId} AND j.status IN ('queued', 'running')
 RETURNING ${jobColumns}`;
}

/** Queued jobs past their time in the queue (ttl_seconds or their batch's window) → expired. */
export function expireQueuedJobs(db: Sql): Promise<Job[]> {
  return db.$queryRaw<Job[]>`
    UPDATE jobs AS j
       SET status = 'expired', completed_at = now(), updated_at = now()
     WHERE status = 'queued' AND expires_at <= now()
 RETURNING ${jobColumns}`;
}

/** Running jobs past their own execution limit (timeout_seconds) fail with `timeout`. */
export function failTimedOutJobs(db: Sql): Promise<Job[]> {
  return db.$queryRaw<Job[]>`
    UPDATE jobs AS j
       SET status = 'failed', error_code = ${'timeout' satisfies JobErrorCode},
           error_message = 'the job ran longer than its timeout of ' || (timeout_ms / 1000) || ' s',
           completed_at = now(), updated_at = now(), lease_expires_at = NULL
     WHERE status = 'running' AND timeout_ms IS NOT NULL AND updated_at + timeout_ms * interval '1 millisecond' < now()
 RETURNING ${jobColumns}`;
}

/** Every still-queued job of a batch → cancelled (running ones finish). */
export function cancelBatchJobs(db: Sql, batchId: string): Promise<Job[]> {
  return db.$queryRaw<Job[]>`
    UPDATE jobs AS j
       SET status = 'cancelled', completed_at = now(), updated_at = now()
     WHERE batch_id = ${batchId} AND status = 'queued'
 RETURNING ${jobColumns}`;
}

/** Running jobs whose lease expired with no attempts left fail for good (a job that keeps killing its worker). */
export function failExhaustedLeases(db: Sql): Promise<Job[]> {
  return db.$queryRaw<Job[]>`
    UPDATE jobs AS j
       SET status = 'failed', error_code = ${'attempts_exhausted' satisfies JobErrorCode},
           error_message = 'the job was attempted ' || attempts || ' times and its worker stopped each time',
           completed_at = now(), updated_at = now(), lease_expires_at = NULL
     WHERE status = 'running' AND lease_expires_at < now() AND attempts >= max_attempts
 RETURNING ${jobColumns}`;
}

/** Running jobs whose worker vanished go back to queued, to be enqueued again. */
export function releaseExpiredLeases(db: Sql): Promise<Job[]> {
  return db.$queryRaw<Job[]>`
    UPDATE jobs AS j
       SET status = 'queued', lease_expires_at = NULL, updated_at = now()
     WHERE status = 'running' AND lease_expires_at < now() AND attempts < max_attempts
 RETURNING ${jobColumns}`;
}

export interface QueuedPageCursor {
  updatedAt: Date;
  id: string;
}

/** A page of jobs queued since before `olderThan`, in (updated_at, id) order, after `cursor`. */
export function listQueuedSince(db: Sql, olderThan: Date, cursor: QueuedPageCursor | null, limit: number): Promise<(JobRef & { updatedAt: Date })[]> {
  const after = cursor ?? { updatedAt: new Date(0), id: '' };
  return db.$queryRaw<(JobRef & { updatedAt: Date })[]>`
    SELECT id, model, priority::text AS priority, max_attempts AS "maxAttempts", updated_at AS "updatedAt"
      FROM jobs
     WHERE status = 'queued' AND updated_at < ${olderThan}
       AND (updated_at, id) > (${after.updatedAt}, ${after.id})
  ORDER BY updated_at, id
     LIMIT ${limit}`;
}
