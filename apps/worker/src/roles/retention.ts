import type { Db } from '@inferq/core/db';
import type { Logger } from '@inferq/core/logger';
import { runPeriodically } from './periodic.ts';

export interface RetentionDeps {
  db: Db;
  logger: Logger;
}

const CHUNK = 1_000;

/**
 * Removes the inputs and outputs of jobs finished more than `periodMs` ago (the rows stay, for
 * usage and audit), and Idempotency-Keys past their 24 h. Works in chunks so a large backlog never
 * holds long locks. Returns how many jobs it purged.
 */
export async function purgeExpiredData(deps: RetentionDeps, periodMs: number): Promise<number> {
  const cutoff = new Date(Date.now() - periodMs);
  let purged = 0;
  for (;;) {
    const count = await deps.db.$executeRaw`
      UPDATE jobs SET input = 'null'::jsonb, output = NULL, purged_at = now()
       WHERE id IN (SELECT id FROM jobs WHERE completed_at < ${cutoff} AND purged_at IS NULL LIMIT ${CHUNK})`;
    purged += count;
    if (count < CHUNK) break;
  }
  await deps.db.idempotencyKey.deleteMany({ where: { expiresAt: { lt: new Date() } } });
  if (purged > 0) deps.logger.info({ purged, cutoff: cutoff.toISOString() }, 'retention: removed inputs and outputs of old jobs');
  return purged;
}

/** Runs purgeExpiredData every `intervalMs` until closed. */
export function startRetention(deps: RetentionDeps, options: { periodMs: number; intervalMs: number }) {
  return runPeriodically(() => purgeExpiredData(deps, options.periodMs), options.intervalMs, deps.logger, 'retention');
}
