import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { createApiKey } from '@inferq/core/api-keys';
import { createDb } from '@inferq/core/db';
import { JobQueues } from '@inferq/core/job-queues';
import { createLogger } from '@inferq/core/logger';
import { inferenceQueueName } from '@inferq/core/queue';
import { freePort } from '../../test/support/redis-server.ts';
import { onCleanup } from './cleanup.ts';
import type { BenchDatabase } from './database.ts';
import { startApp, waitUntil, type AppProcess } from './processes.ts';

/** One entry of the models YAML (INFERQ_MODELS_FILE), as the bench writes it. */
export type ModelSpec = { name: string; maxBatchSize: number; maxWaitMs: number; concurrency: number } & (
  | { provider: 'local'; task: 'echo' }
  | { provider: 'openai'; kind: 'embeddings'; baseUrl: string; upstreamModel: string; timeoutMs: number; retries: number }
);

export interface StackOptions {
  db: BenchDatabase;
  redisUrl: string;
  models: ModelSpec[];
  /** Models the API accepts but no worker serves: their jobs stay queued (a standing backlog). */
  parkedModels?: ModelSpec[];
  workers: number;
  /** Names the BullMQ prefix, so every scenario has keys of its own. */
  label: string;
  /** When set, API and workers run with --cpu-prof and write their profiles here at exit. */
  cpuProfDir?: string;
}

export interface Stack {
  baseUrl: string;
  apiKey: string;
  tenantId: string;
  queuePrefix: string;
  /** The platform's own enqueue code, for scenarios that preload a backlog without HTTP. */
  queues: JobQueues;
  redis: Redis;
  api: AppProcess;
  workers(): AppProcess[];
  /** Replaces the worker processes with `count` new ones and waits until each listens on every queue. */
  setWorkers(count: number): Promise<void>;
  close(): Promise<void>;
}

const silent = createLogger('bench', 'silent');

/** API and worker processes on loopback, against the bench database and a fresh queue prefix. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const dir = mkdtempSync(path.join(tmpdir(), 'inferq-bench-'));
  onCleanup(`remove ${dir}`, async () => rmSync(dir, { recursive: true, force: true }));
  const modelsFile = path.join(dir, 'models.yaml');
  writeFileSync(modelsFile, stringify({ models: [...options.models, ...(options.parkedModels ?? [])] }));

  const queuePrefix = `bench-${options.label}-${randomBytes(3).toString('hex')}`;
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const queues = new JobQueues(redis, queuePrefix, silent);
  const removeQueueKeys = onCleanup(`remove queue keys ${queuePrefix}`, async () => {
    await queues.close();
    await removeKeys(redis, `${queuePrefix}:*`);
    redis.disconnect();
  });

  const port = await freePort();
  const env: Record<string, string> = {
    DATABASE_URL: options.db.url,
    REDIS_URL: options.redisUrl,
    QUEUE_PREFIX: queuePrefix,
    INFERQ_MODELS_FILE: modelsFile,
    LOG_LEVEL: 'warn',
    SHUTDOWN_GRACE_MS: '2000',
    // The default per-key limit (100,000 requests/min ≈ 1,667/s) is below the 2,000 jobs/s target:
    // the bench measures capacity, not the limiter's policy (whose per-request cost still counts).
    RATE_LIMIT_REQUESTS_PER_MINUTE: '1000000000',
  };
  const nodeArgs = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [];
  const api = startApp('apps/api/src/main.ts', { ...env, PORT: String(port), HOST: '127.0.0.1' }, nodeArgs);
  const baseUrl = `http://127.0.0.1:${port}`;

  const prisma = createDb(options.db.url, 1);
  const { key: apiKey, tenant } = await createApiKey(prisma, 'bench');
  await prisma.$disconnect();
  await waitUntil('api', async () => (await fetch(`${baseUrl}/health`)).ok, api);
  api.markReady();

  let workers: ReturnType<typeof startApp>[] = [];
  const watch = options.models.map((model) => new Queue(inferenceQueueName(model.name), { connection: redis, prefix: queuePrefix }));
  const setWorkers = async (count: number) => {
    await Promise.all(workers.map((worker) => worker.stop()));
    workers = Array.from({ length: count }, () =>
      startApp('apps/worker/src/main.ts', { ...env, WORKER_ROLES: 'inference,reconciler', WORKER_MODELS: options.models.map((m) => m.name).join(',') }, nodeArgs),
    );
    // A worker that is up holds a named blocking connection on each of its queues.
    for (const worker of workers) {
      await waitUntil('worker', async () => (await Promise.all(watch.map((queue) => queue.getWorkersCount()))).every((n) => n >= count), worker);
    }
    for (const worker of workers) worker.markReady();
  };
  await setWorkers(options.workers);

  return {
    baseUrl,
    apiKey,
    tenantId: tenant.id,
    queuePrefix,
    queues,
    redis,
    api,
    workers: () => workers,
    setWorkers,
    async close() {
      await Promise.all([api.stop(), ...workers.map((worker) => worker.stop())]);
      await Promise.all(watch.map((queue) => queue.close()));
      await removeQueueKeys();
    },
  };
}

/** Deletes keys matching `pattern` with SCAN, in pages, so a big queue never blocks Redis for long. */
export async function removeKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}
