/**
 * Targeted probes: faults the process-level chaos only hits by luck, forced here so the race they
 * look for happens every time. Each returns a Check like the others.
 *
 * Batch completion race: the last two jobs of a batch finish in two concurrent transactions (two
 * inference batches of one worker, two workers, a worker and the reconciler). Each transaction
 * marks its own job final, then asks "are all of the batch's jobs final?"; under READ COMMITTED
 * neither sees the other's uncommitted change, so neither completes the batch, and nothing ever
 * looks again. The probe makes the two transitions overlap deterministically: a third session
 * holds an EXCLUSIVE lock on webhook_deliveries, so both transactions stop at their delivery
 * INSERT, after their job UPDATE and before the batch check; then the lock is released.
 */
import pg from 'pg';
import { createDb } from '@inferq/core/db';
import type { JobNotifier } from '@inferq/core/job-updates';
import { JobTransitions } from '@inferq/core/job-transitions';
import type { Check } from './checks.ts';
import { sleep } from './rng.ts';

const quietNotifier = { jobsChanged: () => undefined, webhooksDue: () => undefined } as unknown as JobNotifier;

export async function probeBatchFinishRace(databaseUrl: string): Promise<Check> {
  const name = 'a batch whose last two jobs finish in concurrent transactions is completed (forced interleaving)';
  const suffix = Math.random().toString(36).slice(2, 10);
  const ids = { tenant: `ten_probe_${suffix}`, batch: `batch_probe_${suffix}`, endpoint: `we_probe_${suffix}`, jobs: [`job_probe_${suffix}_1`, `job_probe_${suffix}_2`] };
  const admin = new pg.Client({ connectionString: databaseUrl });
  const locker = new pg.Client({ connectionString: databaseUrl });
  const db = createDb(databaseUrl, 4);
  await admin.connect();
  await locker.connect();
  try {
    await admin.query(`INSERT INTO tenants (id, name) VALUES ($1, $1)`, [ids.tenant]);
    // An endpoint subscribed to the events, so each transition inserts deliveries (where the probe holds it).
    await admin.query(`INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret) VALUES ($1, $2, 'http://127.0.0.1:9/probe', '{job.succeeded,batch.completed}', 'whsec_cHJvYmU=')`, [ids.endpoint, ids.tenant]);
    await admin.query(`INSERT INTO batches (id, tenant_id, total, completion_window_s, expires_at) VALUES ($1, $2, 2, 86400, now() + interval '1 day')`, [ids.batch, ids.tenant]);
    for (const id of ids.jobs) {
      await admin.query(
        `INSERT INTO jobs (id, tenant_id, model, input, max_attempts, status, attempts, batch_id, lease_expires_at, started_at, updated_at)
         VALUES ($1, $2, 'probe', '{"text":"probe"}', 3, 'running', 1, $3, now() + interval '1 minute', now(), now())`,
        [id, ids.tenant, ids.batch],
      );
    }

    await locker.query('BEGIN');
    await locker.query('LOCK TABLE webhook_deliveries IN EXCLUSIVE MODE');
    const transitions = new JobTransitions(db, quietNotifier);
    // Two workers store one result each, at the same moment.
    const stores = ids.jobs.map((id) => transitions.record([{ id, attempt: 1, status: 'succeeded', output: { probe: true }, usage: {} }]).catch((err: unknown) => err as Error));
    // Wait until both transactions are parked behind the lock (after their job UPDATE).
    let waiting = 0;
    for (let i = 0; i < 200 && waiting < 2; i += 1) {
      const { rows } = await admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'webhook_deliveries' AND NOT l.granted`,
      );
      waiting = rows[0]!.n;
      if (waiting < 2) await sleep(25);
    }
    await locker.query('COMMIT');
    const results = await Promise.all(stores);
    const errors = results.filter((result): result is Error => result instanceof Error);

    const { rows: [batch] } = await admin.query<{ status: string; completed_at: Date | null }>(`SELECT status::text AS status, completed_at FROM batches WHERE id = $1`, [ids.batch]);
    const { rows: jobs } = await admin.query<{ id: string; status: string }>(`SELECT id, status::text AS status FROM jobs WHERE batch_id = $1 ORDER BY id`, [ids.batch]);
    const { rows: [events] } = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE batch_id = $1 AND event_type = 'batch.completed'`, [ids.batch]);

    const evidence: string[] = [];
    if (waiting < 2) evidence.push(`only ${waiting} transaction(s) reached the delivery INSERT while it was locked: the interleaving was not forced (probe inconclusive)`);
    evidence.push(...errors.map((err) => `a store failed: ${err.message.slice(0, 300)}`));
    if (!jobs.every((job) => job.status === 'succeeded')) evidence.push(`jobs: ${jobs.map((job) => `${job.id} ${job.status}`).join(', ')}`);
    if (batch?.status !== 'completed') {
      evidence.push(`both jobs succeeded (${jobs.map((job) => job.status).join(', ')}) in two concurrent transitions, yet batch ${ids.batch} is ${batch?.status} (completed_at ${batch?.completed_at ?? 'null'}) and will stay so: neither transaction saw the other's job as final (finishBatches under READ COMMITTED)`);
    }
    if (events?.n !== 1) evidence.push(`${events?.n} batch.completed deliveries for the subscribed endpoint (expected 1)`);
    return { name, result: evidence.length === 0 ? 'pass' : 'fail', summary: evidence.length === 0 ? 'completed once, one batch.completed event' : `${evidence.length} problem(s)`, evidence };
  } finally {
    await locker.query('ROLLBACK').catch(() => undefined);
    await admin.query(`DELETE FROM tenants WHERE id = $1`, [ids.tenant]).catch(() => undefined);
    await Promise.allSettled([admin.end(), locker.end(), db.$disconnect()]);
  }
}
