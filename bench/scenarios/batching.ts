import type { BenchDatabase, Percentiles } from '../lib/database.ts';
import { startUpstream } from '../lib/processes.ts';
import { startStack, type ModelSpec } from '../lib/stack.ts';
import { drainBacklog } from './backlog.ts';

/** The simulated provider's cost: per call plus per item, as the issue sets it. */
export const UPSTREAM_COST = { latencyMs: 50, perItemMs: 0.5 };
/** Upstream calls in flight per worker process, the same for every batch size. */
export const UPSTREAM_CONCURRENCY = 4;

export interface BatchingPoint {
  maxBatchSize: number;
  jobs: number;
  /** Jobs from the first claim to the last result row, per second (one worker process). */
  jobsPerS: number;
  upstreamCalls: number;
  callsPerJob: number;
  /** What the cost model allows: concurrency × size / (latency + size × per-item). */
  idealPerS: number;
  endToEndMs: Percentiles;
  failed: number;
}

export interface BatchingResult {
  concurrency: number;
  upstream: typeof UPSTREAM_COST;
  points: BatchingPoint[];
}

export const upstreamModel = (name: string, baseUrl: string, maxBatchSize: number): ModelSpec => ({
  name,
  provider: 'openai',
  kind: 'embeddings',
  baseUrl: `${baseUrl}/v1`,
  upstreamModel: 'text-embedding-3-small',
  maxBatchSize,
  maxWaitMs: 10,
  concurrency: UPSTREAM_CONCURRENCY,
  timeoutMs: 30_000,
  retries: 2,
});

export const idealPerS = (size: number, workers = 1): number =>
  (workers * UPSTREAM_CONCURRENCY * size * 1000) / (UPSTREAM_COST.latencyMs + UPSTREAM_COST.perItemMs * size);

/**
 * Batching gain: one model per batch size, all served by one worker process, each drained from a
 * backlog sized to take a few seconds at its ideal pace (`seconds`), capped at `maxJobs`.
 */
export async function runBatching(options: { db: BenchDatabase; redisUrl: string; sizes: number[]; seconds: number; maxJobs: number }): Promise<BatchingResult> {
  const upstream = await startUpstream(UPSTREAM_COST);
  try {
    const models = options.sizes.map((size) => upstreamModel(`bench/embed-${size}`, upstream.url, size));
    const stack = await startStack({ db: options.db, redisUrl: options.redisUrl, models, workers: 1, label: 'batching' });
    try {
      const points: BatchingPoint[] = [];
      for (const model of models) {
        const jobs = Math.min(options.maxJobs, Math.max(200, Math.round(idealPerS(model.maxBatchSize) * options.seconds)));
        await upstream.reset();
        const summary = await drainBacklog(stack, options.db, model.name, jobs);
        const { calls } = await upstream.stats();
        points.push({
          maxBatchSize: model.maxBatchSize,
          jobs,
          jobsPerS: summary.startedToCompletedPerS,
          upstreamCalls: calls,
          callsPerJob: calls / jobs,
          idealPerS: idealPerS(model.maxBatchSize),
          endToEndMs: summary.endToEndMs,
          failed: summary.failed + (jobs - summary.succeeded - summary.failed),
        });
      }
      return { concurrency: UPSTREAM_CONCURRENCY, upstream: UPSTREAM_COST, points };
    } finally {
      await stack.close();
    }
  } finally {
    await upstream.stop();
  }
}
