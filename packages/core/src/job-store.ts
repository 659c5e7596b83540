import type { Db } from './db.ts';
import type { JobErrorCode } from './errors.ts';

/**
 * Every change of a job's status, each one conditional UPDATE. The `WHERE status = …` (and, for a
 * running job, `attempts = <the claim's attempt>`) is what makes at-least-once delivery from Redis
 * an exactly-once effect here: a late, duplicate or fenced-off worker matches no row.
 */

export interface ClaimedJob {
  id: string;
  input: unknown;
  /** This claim's attempt number: the fencing token its result must carry. */
  attempt: number;
  maxAttempts: number;
}

export type JobOutcome =
  | { id: string; attempt: number; status: 'succeeded'; output: unknown; usage: unknown }
  | { id: string; attempt: number; status: 'failed'; errorCode: JobErrorCode; errorMessage: string; usage?: unknown };

export interface JobRef {
  id: string;
  model: string;
  priority: 'interactive' | 'batch';
  maxAttempts: number;
}

/**
 * Takes queued jobs (or running ones whose worker's lease ran out) for this worker until
 * `leaseMs` from now. Jobs that are finished, cancelled, held by a live lease or out of attempts
 * are not returned.
 */
export async function claimJobs(db: Db, ids: string[], leaseMs: number): Promise<ClaimedJob[]> {
  return db.$queryRaw<ClaimedJob[]>`
    UPDATE jobs
       SET status = 'running', attempts = attempts + 1, started_at = COALESCE(started_at, now()),
           lease_expires_at = now() + ${leaseMs} * interval '1 millisecond', updated_at = now()
     WHERE id = ANY(${ids}::text[])
       AND attempts < max_attempts
       AND (status = 'queued' OR (status = 'running' AND lease_expires_at < now()))
 RETURNING id, input, attempts AS attempt, max_attempts AS "maxAttempts"`;
}

/** Writes the results of one batch in one statement; returns the ids whose result was stored. */
export async function recordOutcomes(db: Db, outcomes: JobOutcome[]): Promise<string[]> {
  if (outcomes.length === 0) return [];
  const rows = outcomes.map((o) =>
    o.status === 'succeeded'
      ? { id: o.id, attempt: o.attempt, status: o.status, output: o.output, usage: o.usage, error_code: null, error_message: null }
      : { id: o.id, attempt: o.attempt, status: o.status, output: null, usage: o.usage ?? null, error_code: o.errorCode, error_message: o.errorMessage },
  );
  const stored = await db.$queryRaw<{ id: string }[]>`
    UPDATE jobs AS j
       SET status = v.status::job_status, output = v.output, usage = v.usage,
           error_code = v.error_code, error_message = v.error_message,
           completed_at = now(), updated_at = now(), lease_expires_at = NULL
      FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
           AS v(id text, attempt int, status text, output jsonb, usage jsonb, error_code text, error_message text)
     WHERE j.id = v.id AND j.status = 'running' AND j.attempts = v.attempt
 RETURNING j.id`;
  return stored.map((row) => row.id);
}

/** Sends running jobs back to the queue after a transient failure; returns the ids released. */
export async function releaseJobs(db: Db, claims: { id: string; attempt: number }[]): Promise<string[]> {
  if (claims.length === 0) return [];
  const released = await db.$queryRaw<{ id: string }[]>`
    UPDATE jobs AS j
       SET status = 'queued', lease_expires_at = NULL, updated_at = now()
      FROM jsonb_to_recordset(${JSON.stringify(claims)}::jsonb) AS v(id text, attempt int)
     WHERE j.id = v.id AND j.status = 'running' AND j.attempts = v.attempt
 RETURNING j.id`;
  return released.map((row) => row.id);
}

/** Running jobs whose lease expired with no attempts left fail for good (a job that keeps killing its worker). */
export async function failExhaustedLeases(db: Db): Promise<string[]> {
  const failed = await db.$queryRaw<{ id: string }[]>`
    UPDATE jobs
       SET status = 'failed', error_code = ${'attempts_exhausted' satisfies JobErrorCode},
           error_message = 'the job was attempted ' || attempts || ' times and its worker stopped each time',
           completed_at = now(), updated_at = now(), lease_expires_at = NULL
     WHERE status = 'running' AND lease_expires_at < now() AND attempts >= max_attempts
 RETURNING id`;
  return failed.map((row) => row.id);
}

/** Running jobs whose worker vanished go back to queued, to be enqueued again. */
export async function releaseExpiredLeases(db: Db): Promise<JobRef[]> {
  return db.$queryRaw<JobRef[]>`
    UPDATE jobs
       SET status = 'queued', lease_expires_at = NULL, updated_at = now()
     WHERE status = 'running' AND lease_expires_at < now() AND attempts < max_attempts
 RETURNING id, model, priority::text AS priority, max_attempts AS "maxAttempts"`;
}

export interface QueuedPageCursor {
  updatedAt: Date;
  id: string;
}

/** A page of jobs queued since before `olderThan`, in (updated_at, id) order, after `cursor`. */
export async function listQueuedSince(
  db: Db,
  olderThan: Date,
  cursor: QueuedPageCursor | null,
  limit: number,
): Promise<(JobRef & { updatedAt: Date })[]> {
  const after = cursor ?? { updatedAt: new Date(0), id: '' };
  return db.$queryRaw<(JobRef & { updatedAt: Date })[]>`
    SELECT id, model, priority::text AS priority, max_attempts AS "maxAttempts", updated_at AS "updatedAt"
      FROM jobs
     WHERE status = 'queued' AND updated_at < ${olderThan}
       AND (updated_at, id) > (${after.updatedAt}, ${after.id})
  ORDER BY updated_at, id
     LIMIT ${limit}`;
}
