import type { BenchDatabase } from './database.ts';

/**
 * Postgres work per job, from the cumulative statistics views of the bench database: commits and,
 * per table, index scans, sequential scans and rows written. "Index scans on jobs per job" counts
 * the statements a submit and a run cost; a sequential scan per submit is a bug. Backends report
 * their counters when they exit, so read the end snapshot after the apps have stopped.
 */
type Counters = Record<string, number>;

async function snapshot(db: BenchDatabase): Promise<Counters> {
  const counters: Counters = {};
  const { rows: [database] } = await db.pool.query(`SELECT xact_commit::bigint AS commits FROM pg_stat_database WHERE datname = current_database()`);
  counters.commits = Number(database.commits);
  const { rows } = await db.pool.query(
    `SELECT relname, seq_scan, coalesce(idx_scan, 0) AS idx_scan, n_tup_ins + n_tup_upd + n_tup_del AS written FROM pg_stat_user_tables`,
  );
  for (const row of rows) {
    counters[`${row.relname}: index scans`] = Number(row.idx_scan);
    counters[`${row.relname}: sequential scans`] = Number(row.seq_scan);
    counters[`${row.relname}: rows written`] = Number(row.written);
  }
  return counters;
}

export async function measurePgWork(db: BenchDatabase) {
  const before = await snapshot(db);
  return {
    /** Per-job deltas of every counter that moved, largest first. */
    async stop(jobs: number): Promise<Record<string, number>> {
      const after = await snapshot(db);
      const perJob = Object.entries(after)
        .map(([name, value]) => [name, (value - (before[name] ?? 0)) / Math.max(1, jobs)] as const)
        .filter(([, value]) => value >= 0.005)
        .sort((a, b) => b[1] - a[1]);
      return Object.fromEntries(perJob.map(([name, value]) => [name, Math.round(value * 100) / 100]));
    },
  };
}
