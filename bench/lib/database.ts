import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { applyMigrations } from '../../prisma/migrate.ts';
import { onCleanup } from './cleanup.ts';

export const postgresServerUrl = process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432';
const prefix = 'inferq_bench_';

export interface BenchDatabase {
  url: string;
  /** A small pool for the bench's own SQL (stats, preloading); the apps have their own. */
  pool: pg.Pool;
}

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: `${postgresServerUrl}/postgres` });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/**
 * A fresh database migrated with the project's own runner, dropped at cleanup. Bench databases
 * left by a killed earlier run are dropped first, unless something still uses them.
 */
export async function createBenchDatabase(): Promise<BenchDatabase> {
  await admin(async (client) => {
    const stale = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${prefix}%`]);
    for (const { datname } of stale.rows) await client.query(`DROP DATABASE IF EXISTS "${datname}"`).catch(() => undefined);
  });
  const name = `${prefix}${randomBytes(5).toString('hex')}`;
  const url = `${postgresServerUrl}/${name}`;
  onCleanup(`drop database ${name}`, () => admin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)));
  await applyMigrations({ databaseUrl: url });
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // Dropping the database WITH (FORCE) at cleanup ends idle connections; that is expected, not a crash.
  pool.on('error', () => undefined);
  onCleanup('close bench pool', () => pool.end());
  return { url, pool };
}

/** Empties the jobs table so each phase's statistics cover its own jobs only. */
async function truncateJobs(db: BenchDatabase): Promise<void> {
  await db.pool.query('TRUNCATE jobs CASCADE');
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

export interface JobStats {
  total: number;
  succeeded: number;
  failed: number;
  /** Upstream-independent throughput: jobs over (last result row - first row created), per second. */
  createdToCompletedPerS: number;
  /** Worker-side throughput: jobs over (last result row - first claim), per second. */
  startedToCompletedPerS: number;
  firstCreatedMs: number;
  lastCompletedMs: number;
  queueWaitMs: Percentiles;
  endToEndMs: Percentiles;
  /** Row writes in Postgres: one insert, one claim per attempt, one result per finished job. */
  rowWrites: number;
}

const pct = (column: string) =>
  `percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM ${column}) * 1000)`;

/** Latency and throughput of every job in the table, computed from the rows' own timestamps. */
async function jobStats(db: BenchDatabase): Promise<JobStats> {
  const { rows } = await db.pool.query(`
    SELECT count(*)::int AS total,
           count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
           count(*) FILTER (WHERE status IN ('failed', 'cancelled', 'expired'))::int AS failed,
           EXTRACT(EPOCH FROM min(created_at)) * 1000 AS first_created,
           EXTRACT(EPOCH FROM min(started_at)) * 1000 AS first_started,
           EXTRACT(EPOCH FROM max(completed_at)) * 1000 AS last_completed,
           ${pct('started_at - created_at')} AS wait,
           ${pct('completed_at - created_at')} AS e2e,
           (count(*) + coalesce(sum(attempts), 0) + count(completed_at))::int AS row_writes
      FROM jobs`);
  const row = rows[0];
  const toP = (values: number[] | null): Percentiles => ({ p50: values?.[0] ?? NaN, p95: values?.[1] ?? NaN, p99: values?.[2] ?? NaN });
  const per = (from: number) => (row.total > 0 ? row.succeeded / Math.max(0.001, (row.last_completed - from) / 1000) : 0);
  return {
    total: row.total,
    succeeded: row.succeeded,
    failed: row.failed,
    createdToCompletedPerS: per(Number(row.first_created)),
    startedToCompletedPerS: per(Number(row.first_started)),
    firstCreatedMs: Number(row.first_created),
    lastCompletedMs: Number(row.last_completed),
    queueWaitMs: toP(row.wait),
    endToEndMs: toP(row.e2e),
    rowWrites: row.row_writes,
  };
}

/**
 * Waits until `expected` jobs are in a final state. Gives up when nothing finished for
 * `stallMs` or after `maxMs`, returning how many were done, so a stuck platform ends the phase
 * instead of the bench.
 */
async function waitForJobs(db: BenchDatabase, expected: number, { stallMs = 20_000, maxMs = 180_000 } = {}): Promise<{ done: number; complete: boolean }> {
  const started = Date.now();
  let last = -1;
  let lastProgress = Date.now();
  for (;;) {
    const { rows } = await db.pool.query(`SELECT count(*)::int AS done FROM jobs WHERE status NOT IN ('queued', 'running')`);
    const done: number = rows[0].done;
    if (done >= expected) return { done, complete: true };
    if (done !== last) (last = done), (lastProgress = Date.now());
    if (Date.now() - lastProgress > stallMs || Date.now() - started > maxMs) return { done, complete: false };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Inserts `count` queued job rows for `model` as the API would, in one statement; returns their ids. */
export async function insertQueuedJobs(db: BenchDatabase, tenantId: string, model: string, ids: string[]): Promise<void> {
  await db.pool.query(
    `INSERT INTO jobs (id, tenant_id, model, input, max_attempts)
     SELECT id, $2, $3, jsonb_build_object('text', 'bench input ' || ord), 3
       FROM unnest($1::text[]) WITH ORDINALITY AS t(id, ord)`,
    [ids, tenantId, model],
  );
}

/** What a phase reports about its jobs, read from the rows once they are all final. */
export interface JobsSummary {
  succeeded: number;
  failed: number;
  /** Complete: every expected job reached a final state before the wait gave up. */
  complete: boolean;
  /** Jobs from the first row created to the last result row, per second. */
  completedPerS: number;
  queueWaitMs: Percentiles;
  endToEndMs: Percentiles;
  /** Row inserts and updates in Postgres per second over the same span. */
  rowWritesPerS: number;
  /** Epoch ms of the last result row, to measure from a start the caller knows. */
  lastCompletedMs: number;
}

const incomplete: string[] = [];
/** Phases whose jobs did not all finish: their numbers are wrong, and the report says so. */
export const incompletePhases = (): string[] => [...incomplete];

/** Waits for the phase's jobs, summarises them, then empties the table for the next phase. */
export async function finishPhase(db: BenchDatabase, phase: string, expected: number): Promise<JobsSummary & { startedToCompletedPerS: number }> {
  const { complete, done } = await waitForJobs(db, expected);
  if (!complete) incomplete.push(`${phase}: only ${done} of ${expected} jobs finished (the wait gave up)`);
  const stats = await jobStats(db);
  await truncateJobs(db);
  const spanS = Math.max(0.001, (stats.lastCompletedMs - stats.firstCreatedMs) / 1000);
  return {
    succeeded: stats.succeeded,
    failed: stats.failed,
    complete,
    completedPerS: stats.createdToCompletedPerS,
    startedToCompletedPerS: stats.startedToCompletedPerS,
    queueWaitMs: stats.queueWaitMs,
    endToEndMs: stats.endToEndMs,
    rowWritesPerS: stats.total > 0 ? stats.rowWrites / spanS : 0,
    lastCompletedMs: stats.lastCompletedMs,
  };
}
