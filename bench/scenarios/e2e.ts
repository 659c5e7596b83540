import { measureCpu, type CpuUsage } from '../lib/cpu.ts';
import { newJobId } from '@inferq/core/ids';
import { finishPhase, insertQueuedJobs, type BenchDatabase, type JobsSummary } from '../lib/database.ts';
import { closedLoop, openLoop, type LoadResult, type Target } from '../lib/load.ts';
import { sampleWaits } from '../lib/pg-waits.ts';
import { startStack, type ModelSpec, type Stack } from '../lib/stack.ts';
import { runBulk, type BulkResult } from './bulk.ts';

/** The zero-cost model: inferq's own overhead is all there is to measure. */
export const ECHO: ModelSpec = { name: 'bench/echo', provider: 'local', task: 'echo', maxBatchSize: 64, maxWaitMs: 10, concurrency: 2 };
/** The offered rate the latency target is set at (p99 submit < 25 ms at 200 req/s). */
export const TARGET_RATE = 200;
/** Accepted by the API, served by no worker: its jobs are the standing backlog of the deep-queue phase. */
const PARKED: ModelSpec = { ...ECHO, name: 'bench/parked' };
/** BullMQ concurrency of an inferq worker for a model (apps/worker/src/roles/inference.ts). */
export const workerConcurrency = (model: ModelSpec): number => model.maxBatchSize * model.concurrency;

export interface E2eOptions {
  db: BenchDatabase;
  redisUrl: string;
  workers: number;
  /** Offered rates for the open-loop single-POST curve; past the first rate the API cannot keep, only TARGET_RATE still runs. */
  rates: number[];
  rateDurationS: number;
  connections: number;
  sustainedDurationS: number;
  bulkJobs: number;
  /** Queued jobs standing in Postgres while single POSTs at 200 req/s are measured again. */
  deepQueued: number;
}

export interface DeepQueueResult {
  queued: number;
  offeredPerS: number;
  load: LoadResult;
  jobs: JobsSummary;
}

export interface FixedRateResult {
  offeredPerS: number;
  load: LoadResult;
  jobs: JobsSummary;
  /** Fewer than 95% of the offered requests were accepted: the API's capacity is below this rate. */
  saturated: boolean;
}

export interface SustainedResult {
  connections: number;
  load: LoadResult;
  jobs: JobsSummary;
  /** Jobs from the first request to the last result row, per second. */
  jobsPerS: number;
  cpu: CpuUsage;
  /** Average active Postgres backends by wait event during the run. */
  pgWaits: Record<string, number>;
}

export interface E2eResult {
  workers: number;
  model: ModelSpec;
  fixedRate: FixedRateResult[];
  sustained: SustainedResult;
  bulk: BulkResult;
  /** Submit latency with a deep backlog: per-submit work that grows with the queue shows here. */
  deepQueue: DeepQueueResult;
}

export const singlePostTarget = (stack: Stack, model: string): Target => ({
  url: `${stack.baseUrl}/v1/jobs`,
  headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
  body: (i) => JSON.stringify({ model, input: { text: `bench input ${i}` } }),
});

export const rolesOf = (stack: Stack) => () => new Map([[stack.api.pid, 'api'], ...stack.workers().map((worker) => [worker.pid, 'worker'] as [number, string])]);

/** A closed loop at full speed with CPU and Postgres waits recorded: the sustained single-POST rate. */
export async function sustainedSinglePost(stack: Stack, db: BenchDatabase, connections: number, durationS: number): Promise<SustainedResult> {
  const cpu = measureCpu(rolesOf(stack));
  const waits = sampleWaits(db);
  const startedAtMs = Date.now();
  const load = await closedLoop(singlePostTarget(stack, ECHO.name), connections, durationS);
  const pgWaits = await waits.stop();
  const jobs = await finishPhase(db, `sustained single POST, ${connections} connections`, load.ok);
  return { connections, load, jobs, jobsPerS: jobs.succeeded / Math.max(0.001, (jobs.lastCompletedMs - startedAtMs) / 1000), cpu: cpu.stop(load.ok), pgWaits };
}

/** Single POST at fixed offered rates, at full speed, and bulk submission, against one API and N workers. */
export async function runE2e(options: E2eOptions): Promise<E2eResult> {
  const { db } = options;
  const stack = await startStack({ db, redisUrl: options.redisUrl, models: [ECHO], parkedModels: [PARKED], workers: options.workers, label: 'e2e' });
  try {
    const target = singlePostTarget(stack, ECHO.name);
    // Warm-up: JIT, connection pools and prepared statements, so the first phase is not penalised.
    const warm = await closedLoop(target, 8, 2);
    await finishPhase(db, 'warm-up', warm.ok);

    const fixedRate: FixedRateResult[] = [];
    for (const rate of options.rates) {
      // Past a saturated rate only the target's own rate is still worth its time.
      if (fixedRate.some((point) => point.saturated) && rate !== TARGET_RATE) continue;
      // At most 2 s of requests outstanding: a rate far past capacity ends soon after its sending does.
      const load = await openLoop(target, rate, options.rateDurationS, 256, 2 * rate);
      const jobs = await finishPhase(db, `single POST at ${rate} req/s`, load.ok);
      const saturated = load.ok < 0.95 * rate * options.rateDurationS || load.okPerS < 0.95 * rate;
      fixedRate.push({ offeredPerS: rate, load, jobs, saturated });
    }
    const sustained = await sustainedSinglePost(stack, db, options.connections, options.sustainedDurationS);
    const bulk = await runBulk(stack, db, { model: ECHO.name, jobs: options.bulkJobs, linesPerRequest: 1_000 });
    const deepQueue = await deepQueuePhase(stack, db, options.deepQueued, options.rateDurationS);
    return {
      workers: options.workers,
      model: ECHO,
      fixedRate,
      sustained,
      bulk,
      deepQueue,
    };
  } finally {
    await stack.close();
  }
}

/** 200 req/s of single POSTs while `queued` jobs of the same tenant wait for a model no worker serves. */
async function deepQueuePhase(stack: Stack, db: BenchDatabase, queued: number, durationS: number): Promise<DeepQueueResult> {
  const ids = Array.from({ length: queued }, () => newJobId());
  for (let offset = 0; offset < queued; offset += 5_000) await insertQueuedJobs(db, stack.tenantId, PARKED.name, ids.slice(offset, offset + 5_000));
  await db.pool.query('ANALYZE jobs');
  const offeredPerS = TARGET_RATE;
  // A short burst with at most 1 s of requests outstanding: the point is the latency, and past
  // capacity the phase would otherwise take minutes to drain.
  const load = await openLoop(singlePostTarget(stack, ECHO.name), offeredPerS, Math.min(durationS, 3), 256, offeredPerS);
  // The parked jobs never finish; the phase's own jobs are the ones that do.
  const jobs = await finishPhase(db, `single POST at ${offeredPerS} req/s with ${queued} queued`, load.ok);
  return { queued, offeredPerS, load, jobs };
}
