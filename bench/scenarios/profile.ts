import { mkdirSync, rmSync } from 'node:fs';
import type { BenchDatabase } from '../lib/database.ts';
import { measurePgWork } from '../lib/pg-stats.ts';
import { summariseProfiles, type ProfileSummary } from '../lib/profile.ts';
import { startStack } from '../lib/stack.ts';
import { ECHO, sustainedSinglePost, type SustainedResult } from './e2e.ts';

export interface ProfileResult {
  /** The profiled run itself (slower than unprofiled: --cpu-prof costs a few percent). */
  run: SustainedResult;
  profiles: (ProfileSummary & { role: string })[];
  /** Where the raw .cpuprofile files are (open them in Chrome DevTools or speedscope). */
  dir: string;
  /** Postgres commits, scans and row writes per accepted job during the profiled run. */
  pgPerJob: Record<string, number>;
}

/**
 * The sustained single-POST run again with API and worker under --cpu-prof, summarised into where
 * their CPU time goes, with the Postgres work per job; the evidence the report gives for a miss.
 */
export async function runProfile(options: { db: BenchDatabase; redisUrl: string; dir: string; connections: number; durationS: number }): Promise<ProfileResult> {
  rmSync(options.dir, { recursive: true, force: true });
  mkdirSync(options.dir, { recursive: true });
  const pgWork = await measurePgWork(options.db);
  const stack = await startStack({ db: options.db, redisUrl: options.redisUrl, models: [ECHO], workers: 1, label: 'profile', cpuProfDir: options.dir });
  let run: SustainedResult;
  const roles = new Map([[stack.api.pid, 'api'], ...stack.workers().map((worker, i) => [worker.pid, `worker ${i + 1}`] as [number, string])]);
  try {
    run = await sustainedSinglePost(stack, options.db, options.connections, options.durationS);
  } finally {
    // Profiles are written when the processes exit.
    await stack.close();
  }
  // Backends report their statistics when they exit, which the stack's close made them do.
  const pgPerJob = await pgWork.stop(run.load.ok);
  return { run, profiles: summariseProfiles(options.dir, roles), dir: options.dir, pgPerJob };
}
