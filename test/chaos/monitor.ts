/**
 * Watches Postgres during the run: the first time a job is seen in a final state its status,
 * attempts, result and completion time are remembered, and every later look must find exactly
 * that. A change means a second result was applied to a finished job (or it was reopened).
 * It also keeps a small status timeline for the report.
 */
import type pg from 'pg';
import { sleep } from './rng.ts';

export const FINAL_STATUSES = ['succeeded', 'failed', 'cancelled', 'expired'] as const;

interface FinalSnapshot {
  status: string;
  attempts: number;
  digest: string;
  completedAt: string;
  seenAt: number;
}

export interface FinalChange {
  jobId: string;
  before: FinalSnapshot;
  after: FinalSnapshot | { status: string; attempts: number; seenAt: number };
}

export interface StatusSample {
  at: number;
  counts: Record<string, number>;
}

export class FinalStateMonitor {
  readonly firstFinal = new Map<string, FinalSnapshot>();
  readonly changes: FinalChange[] = [];
  readonly samples: StatusSample[] = [];
  errors = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly intervalMs = 1_000,
  ) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        await this.pollOnce().catch(() => {
          this.errors += 1;
        });
        await sleep(this.intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.pollOnce();
  }

  async pollOnce(): Promise<void> {
    const at = Date.now();
    const { rows } = await this.pool.query<{ id: string; status: string; attempts: number; digest: string; completed_at: string | null }>(
      `SELECT id, status::text AS status, attempts,
              md5(coalesce(output::text, '') || '|' || coalesce(error_code, '') || '|' || coalesce(error_message, '')) AS digest,
              to_char(completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS completed_at
         FROM jobs`,
    );
    const counts: Record<string, number> = {};
    for (const row of rows) {
      counts[row.status] = (counts[row.status] ?? 0) + 1;
      const isFinal = (FINAL_STATUSES as readonly string[]).includes(row.status);
      const before = this.firstFinal.get(row.id);
      if (!before) {
        if (isFinal) this.firstFinal.set(row.id, { status: row.status, attempts: row.attempts, digest: row.digest, completedAt: row.completed_at ?? '', seenAt: at });
        continue;
      }
      if (!isFinal) {
        this.recordChange(row.id, before, { status: row.status, attempts: row.attempts, seenAt: at });
        continue;
      }
      if (before.status !== row.status || before.attempts !== row.attempts || before.digest !== row.digest || before.completedAt !== (row.completed_at ?? '')) {
        this.recordChange(row.id, before, { status: row.status, attempts: row.attempts, digest: row.digest, completedAt: row.completed_at ?? '', seenAt: at });
      }
    }
    const present = new Set(rows.map((row) => row.id));
    for (const [jobId, before] of this.firstFinal) {
      if (!present.has(jobId)) this.recordChange(jobId, before, { status: '(row gone)', attempts: -1, seenAt: at });
    }
    this.samples.push({ at, counts });
  }

  private recordChange(jobId: string, before: FinalSnapshot, after: FinalChange['after']): void {
    // Report each job once, with the first divergence seen.
    if (this.changes.some((change) => change.jobId === jobId)) return;
    this.changes.push({ jobId, before, after });
  }
}
