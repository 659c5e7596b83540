import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { claimJobs, recordOutcomes } from '@inferq/core/job-store';
import { spawnApp, type AppProcess } from './support/processes.ts';
import { startPrivateRedis, type PrivateRedis } from './support/redis-server.ts';
import { startStack, type Stack } from './support/stack.ts';
import { embeddingFor, startUpstream, type Upstream } from './upstream/server.ts';
import { upstreamModelYaml } from './support/models-yaml.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function stackOnPrivateRedis(options: Parameters<typeof startStack>[0] = {}): Promise<{ stack: Stack; redis: PrivateRedis }> {
  const redis = await startPrivateRedis();
  cleanups.push(() => redis.destroy());
  const stack = await startStack({ ...options, redisUrl: redis.url });
  cleanups.push(() => stack.close());
  return { stack, redis };
}

const submitSentiment = async (stack: Stack, count: number): Promise<string[]> => {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const res = await stack.request('POST', '/v1/jobs', { body: { model: 'local/sentiment', input: { text: `job ${i} is a good one` } } });
    expect(res.status).toBe(202);
    ids.push(res.body.id);
  }
  return ids;
};

describe('Redis is only a delivery mechanism', () => {
  it('finishes every accepted job after Redis is flushed (FLUSHALL) before any worker ran', async () => {
    const { stack, redis } = await stackOnPrivateRedis({ worker: false });
    const ids = await submitSentiment(stack, 50);
    await redis.flushAll();
    expect(await stack.redis.dbsize()).toBe(0);

    stack.startWorker();
    const jobs = await stack.waitForJobs(ids);
    expect(jobs.map((job) => job.status)).toEqual(ids.map(() => 'succeeded'));
    expect(jobs.every((job) => job.output.label === 'positive')).toBe(true);
  });

  it('accepts jobs while Redis is down and runs them once it is back, empty', async () => {
    const { stack, redis } = await stackOnPrivateRedis({ worker: false });
    await redis.stop();
    const res = await stack.request('POST', '/v1/jobs', { body: { model: 'local/sentiment', input: { text: 'accepted while Redis was down' } } });
    expect(res.status).toBe(202);
    expect(await stack.db.job.count({ where: { id: res.body.id, status: 'queued' } })).toBe(1);

    await redis.start();
    stack.startWorker();
    const [job] = await stack.waitForJobs([res.body.id]);
    expect(job.status).toBe('succeeded');
  });
});

describe('results are written once', () => {
  it('refuses the result of a claim whose lease was taken over, and of a cancelled job', async () => {
    const stack = await startStack({ worker: false });
    cleanups.push(() => stack.close());
    const [first, second] = await submitSentiment(stack, 2);

    const [stale] = await claimJobs(stack.db, [first!], 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const [fresh] = await claimJobs(stack.db, [first!], 60_000);
    expect(fresh!.attempts).toBe(stale!.attempts + 1);
    // The worker whose lease expired finishes late: its write matches nothing.
    expect(await recordOutcomes(stack.db, [{ id: first!, attempt: stale!.attempts, status: 'succeeded', output: { late: true }, usage: {} }])).toEqual([]);
    const stored = await recordOutcomes(stack.db, [{ id: first!, attempt: fresh!.attempts, status: 'succeeded', output: { fresh: true }, usage: {} }]);
    expect(stored.map((job) => job.id)).toEqual([first]);
    // A duplicate delivery of the same result is a no-op.
    expect(await recordOutcomes(stack.db, [{ id: first!, attempt: fresh!.attempts, status: 'failed', errorCode: 'upstream_error', errorMessage: 'late duplicate' }])).toEqual([]);
    expect((await stack.db.job.findUnique({ where: { id: first! } }))!.output).toEqual({ fresh: true });

    const [claim] = await claimJobs(stack.db, [second!], 60_000);
    expect((await stack.request('POST', `/v1/jobs/${second}/cancel`)).status).toBe(200);
    expect(await recordOutcomes(stack.db, [{ id: second!, attempt: claim!.attempts, status: 'succeeded', output: {}, usage: {} }])).toEqual([]);
    expect((await stack.db.job.findUnique({ where: { id: second! } }))!.status).toBe('cancelled');
  });
});

describe('a worker SIGKILLed mid-batch loses nothing', () => {
  let upstream: Upstream | undefined;
  afterAll(() => upstream?.close());

  it('hands the killed batch to another worker process; every job succeeds with one stored result', async () => {
    upstream = await startUpstream({ latencyMs: 1_500 });
    const stack = await startStack({
      worker: false,
      modelsYaml: `models:\n${upstreamModelYaml('test/slow-embed', upstream.url, { maxBatchSize: 10, maxWaitMs: 200, concurrency: 1, timeoutMs: 3000, retries: 0 })}`,
    });
    cleanups.push(() => stack.close());
    const texts = Array.from({ length: 30 }, (_, i) => `durable text ${i}`);
    const ids = await Promise.all(texts.map(async (text) => (await stack.request('POST', '/v1/jobs', { body: { model: 'test/slow-embed', input: { text } } })).body.id as string));

    const workerEnv = {
      DATABASE_URL: stack.database.url,
      REDIS_URL: stack.redisUrl,
      QUEUE_PREFIX: stack.queuePrefix,
      INFERQ_MODELS_FILE: stack.modelsFile!,
      WORKER_MODELS: 'test/slow-embed',
      LEASE_MARGIN_MS: '500',
      QUEUE_LOCK_MS: '2000',
      RECONCILE_INTERVAL_MS: '300',
      RECONCILE_MIN_AGE_MS: '500',
    };
    const doomed: AppProcess = spawnApp('apps/worker/src/main.ts', workerEnv);
    cleanups.push(() => doomed.kill('SIGKILL'));
    await doomed.waitForLog((line) => line.msg === 'worker started');
    // Wait until its first batch is claimed and the upstream call is in flight, then kill it.
    while (upstream.calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    const inFlight = upstream.calls[0]!.items;
    await doomed.kill('SIGKILL');
    expect(await stack.db.job.count({ where: { status: 'running' } })).toBe(inFlight);

    const survivor = spawnApp('apps/worker/src/main.ts', workerEnv);
    cleanups.push(() => survivor.kill('SIGTERM'));
    const jobs = await stack.waitForJobs(ids, 45_000).catch((err) => {
      console.log(JSON.stringify(survivor.logs.slice(-30)));
      throw err;
    });

    jobs.forEach((job, i) => {
      expect(job.status).toBe('succeeded');
      expect(job.output.embedding).toEqual(embeddingFor(texts[i]!));
    });
    // The killed batch ran twice upstream (once lost, once stored); nothing else ran twice.
    expect(jobs.filter((job) => job.attempts === 2)).toHaveLength(inFlight);
    expect(jobs.filter((job) => job.attempts === 1)).toHaveLength(texts.length - inFlight);
    const timesSent = new Map<string, number>();
    for (const call of upstream.calls) for (const text of (call.body as { input: string[] }).input) timesSent.set(text, (timesSent.get(text) ?? 0) + 1);
    expect(Math.max(...timesSent.values())).toBeLessThanOrEqual(2);
    expect(timesSent.size).toBe(texts.length);
    expect(await survivor.kill('SIGTERM')).toBe(0);
  }, 120_000);
});
