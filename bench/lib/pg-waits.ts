import type { BenchDatabase } from './database.ts';

/**
 * Samples what the bench database's active Postgres backends are doing (pg_stat_activity) while a
 * phase runs. A backend mostly in IO:WALSync or LWLock:WALWrite means commits wait on the disk
 * flush: one commit per row is the limit, not CPU.
 */
export function sampleWaits(db: BenchDatabase, everyMs = 100) {
  const counts = new Map<string, number>();
  let samples = 0;
  let stopped = false;
  // Sampling is best effort: a failed query (the pool closed under it at cleanup) ends it.
  const loop = (async () => {
    while (!stopped) {
      const { rows } = await db.pool.query<{ wait: string }>(
        `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS wait
           FROM pg_stat_activity
          WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()`,
      );
      samples += 1;
      for (const { wait } of rows) counts.set(wait, (counts.get(wait) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })().catch(() => undefined);
  return {
    /** Average number of active backends in each state (CPU = running, not waiting). */
    async stop(): Promise<Record<string, number>> {
      stopped = true;
      await loop;
      return Object.fromEntries(
        [...counts].sort((a, b) => b[1] - a[1]).map(([wait, count]) => [wait, Math.round((count / Math.max(1, samples)) * 100) / 100]),
      );
    },
  };
}
