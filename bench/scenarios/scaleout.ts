import { measureCpu, type CpuUsage } from '../lib/cpu.ts';
import type { BenchDatabase } from '../lib/database.ts';
import { startUpstream } from '../lib/processes.ts';
import { startStack } from '../lib/stack.ts';
import { drainBacklog } from './backlog.ts';
import { idealPerS, UPSTREAM_COST, upstreamModel } from './batching.ts';
import { ECHO, rolesOf } from './e2e.ts';

export interface ScaleoutPoint {
  model: string;
  /** What bounds this model: inferq's own CPU cost (echo) or upstream calls in flight (upstream). */
  bound: 'cpu' | 'upstream';
  workers: number;
  jobs: number;
  jobsPerS: number;
  cpu: CpuUsage;
}

export interface ScaleoutResult {
  points: ScaleoutPoint[];
}

const UPSTREAM_BATCH = 8;

/**
 * 1 vs 2 worker processes draining the same backlog, for two kinds of model: the zero-cost echo
 * (bound by CPU, which two processes on two cores share with Postgres and Redis) and an upstream
 * model (bound by calls in flight per process, which a second process doubles).
 */
export async function runScaleout(options: { db: BenchDatabase; redisUrl: string; echoJobs: number; upstreamSeconds: number }): Promise<ScaleoutResult> {
  const upstream = await startUpstream(UPSTREAM_COST);
  try {
    const embed = upstreamModel(`bench/embed-${UPSTREAM_BATCH}`, upstream.url, UPSTREAM_BATCH);
    const stack = await startStack({ db: options.db, redisUrl: options.redisUrl, models: [ECHO, embed], workers: 1, label: 'scaleout' });
    try {
      const points: ScaleoutPoint[] = [];
      for (const workers of [1, 2]) {
        if (workers !== stack.workers().length) await stack.setWorkers(workers);
        for (const [model, bound, jobs] of [
          [ECHO.name, 'cpu', options.echoJobs],
          [embed.name, 'upstream', Math.round(idealPerS(UPSTREAM_BATCH, workers) * options.upstreamSeconds)],
        ] as const) {
          const cpu = measureCpu(rolesOf(stack));
          const summary = await drainBacklog(stack, options.db, model, jobs);
          points.push({ model, bound, workers, jobs, jobsPerS: summary.startedToCompletedPerS, cpu: cpu.stop(jobs) });
        }
      }
      return { points };
    } finally {
      await stack.close();
    }
  } finally {
    await upstream.stop();
  }
}
