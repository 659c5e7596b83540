import { mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createApp } from '@inferq/api/app';
import { createApiKey } from '@inferq/core/api-keys';
import type { JobQueues } from '@inferq/core/job-queues';
import { createDb, type Db } from '@inferq/core/db';
import { createLogger } from '@inferq/core/logger';
import { loadModelCatalog, type ModelCatalog } from '@inferq/core/models';
import { createRedis } from '@inferq/core/redis';
import { inferenceQueueName } from '@inferq/core/queue';
import { finalJobStatuses } from '@inferq/core/job-view';
import { parseAllowList, type AllowList } from '@inferq/core/ssrf';
import type { LimitDefaults } from '@inferq/api/services/limits';
import { buildApiDeps } from '@inferq/api/build-deps';
import { startWorkerRoles, type WorkerDeps } from '@inferq/worker/worker';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { redisUrl as sharedRedisUrl } from './services.ts';

export interface HttpResult<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface StackOptions {
  /** A models file's YAML text, for upstream models or retuned local ones. */
  modelsYaml?: string;
  /** Start worker roles in this process (default: all of them). */
  worker?: false | Partial<WorkerDeps['env']>;
  /** Private addresses webhooks may reach (default 127.0.0.0/8, for receivers in the test). */
  webhookAllow?: AllowList;
  /** How long a valid key is trusted without asking Postgres (default 0: always ask). */
  authCacheMs?: number;
  /** Deployment-wide limit defaults (generous unless a test narrows them). */
  limits?: Partial<LimitDefaults>;
  /** Another Redis than the machine's (e.g. a private redis-server the test may flush). */
  redisUrl?: string;
}

export interface Stack {
  baseUrl: string;
  apiKey: string;
  db: Db;
  redis: Redis;
  database: TestDatabase;
  queuePrefix: string;
  redisUrl: string;
  modelsFile: string | undefined;
  models: ModelCatalog;
  queues: JobQueues;
  request<T = any>(method: string, path: string, options?: { body?: unknown; rawBody?: string; headers?: Record<string, string>; apiKey?: string | null }): Promise<HttpResult<T>>;
  /** A key for another tenant (created if new). */
  keyFor(tenant: string): Promise<string>;
  startWorker(env?: Partial<WorkerDeps['env']>): ReturnType<typeof startWorkerRoles>;
  /** Stops every worker started so far (as a deploy or crash would). */
  stopWorkers(): Promise<void>;
  /** Polls GET /v1/jobs/:id until every job is in a final state; returns them in order. */
  waitForJobs(ids: string[], timeoutMs?: number): Promise<any[]>;
  close(): Promise<void>;
}

const logger = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');

/** Writes a models YAML into a temporary directory and returns its path. */
export function writeModelsFile(yaml: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'inferq-models-')), 'models.yaml');
  writeFileSync(file, yaml);
  return file;
}

/**
 * The real API (Express on a loopback port) and, unless disabled, real worker roles, in this
 * process, against a fresh Postgres database and a unique BullMQ prefix on a real Redis.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const database = await createTestDatabase();
  const redisUrl = options.redisUrl ?? sharedRedisUrl;
  const queuePrefix = `t${randomBytes(5).toString('hex')}`;
  const modelsFile = options.modelsYaml ? writeModelsFile(options.modelsYaml) : undefined;
  const models = loadModelCatalog(modelsFile);
  const db = createDb(database.url, 10);
  const redis = createRedis(redisUrl, logger);
  // Counts, tenants and keys are read fresh on every request (no caches), so tests see each change at once.
  const deps = buildApiDeps(
    { db, redis, logger, models },
    {
      QUEUE_PREFIX: queuePrefix,
      WEBHOOK_ALLOW_PRIVATE: options.webhookAllow ?? parseAllowList('127.0.0.0/8'),
      BODY_LIMIT_BYTES: 64 * 1024,
      BATCH_BODY_LIMIT_BYTES: 64 * 1024 * 1024,
      ENQUEUE_TIMEOUT_MS: 500,
      RATE_LIMIT_REQUESTS_PER_MINUTE: options.limits?.requestsPerMinute ?? 100_000,
      RATE_LIMIT_UNITS_PER_MINUTE: options.limits?.unitsPerMinute ?? 10_000_000,
      MAX_QUEUED_JOBS_PER_TENANT: options.limits?.maxQueuedJobs ?? 1_000_000,
      AUTH_CACHE_MS: options.authCacheMs ?? 0,
      QUEUE_COUNT_CACHE_MS: 0,
      TENANT_CACHE_MS: 0,
      SUBMIT_GROUP_WAIT_MS: 0,
      SSE_HEARTBEAT_MS: 200,
    },
  );
  const { queues } = deps;
  const app = createApp(deps);
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { key: apiKey } = await createApiKey(db, 'tenant-a');

  const workers: ReturnType<typeof startWorkerRoles>[] = [];
  const startWorker = (env: Partial<WorkerDeps['env']> = {}) => {
    const worker = startWorkerRoles({
      db,
      redis,
      logger,
      models,
      secrets: process.env,
      env: {
        WORKER_ROLES: ['inference', 'reconciler', 'webhooks', 'retention'],
        WORKER_MODELS: [],
        QUEUE_PREFIX: queuePrefix,
        LEASE_MARGIN_MS: 2_000,
        QUEUE_LOCK_MS: 5_000,
        RECONCILE_INTERVAL_MS: 300,
        RECONCILE_MIN_AGE_MS: 500,
        WEBHOOK_ALLOW_PRIVATE: parseAllowList('127.0.0.0/8'),
        WEBHOOK_RETRY_SCHEDULE_MS: [200, 400, 800],
        WEBHOOK_TIMEOUT_MS: 2_000,
        WEBHOOK_CONCURRENCY: 8,
        WEBHOOK_POLL_MS: 200,
        RETENTION_PERIOD_MS: 30 * 86_400_000,
        RETENTION_INTERVAL_MS: 60_000,
        ...env,
      },
    });
    workers.push(worker);
    return worker;
  };
  if (options.worker !== false) startWorker(options.worker ?? {});

  const request: Stack['request'] = async (method, urlPath, { body, rawBody, headers = {}, apiKey: key = apiKey } = {}) => {
    const response = await fetch(`${baseUrl}${urlPath}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: rawBody ?? (body !== undefined ? JSON.stringify(body) : undefined),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON: the test sees the raw text.
    }
    return { status: response.status, headers: response.headers, body: parsed as any };
  };

  const waitForJobs: Stack['waitForJobs'] = async (ids, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows = await db.job.findMany({ where: { id: { in: ids } }, select: { id: true, status: true } });
      if (rows.length === ids.length && rows.every((row) => finalJobStatuses.has(row.status))) break;
      if (Date.now() > deadline) {
        const pending = rows.filter((row) => !finalJobStatuses.has(row.status)).map((row) => `${row.id}:${row.status}`);
        throw new Error(`jobs not final after ${timeoutMs} ms: ${pending.slice(0, 10).join(', ')} (${pending.length} in all)`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const views = await Promise.all(ids.map((id) => request('GET', `/v1/jobs/${id}`)));
    return views.map((view) => view.body);
  };

  return {
    baseUrl,
    apiKey,
    db,
    redis,
    database,
    queuePrefix,
    redisUrl,
    modelsFile,
    models,
    queues,
    request,
    keyFor: async (tenant) => (await createApiKey(db, tenant)).key,
    startWorker,
    stopWorkers: async () => {
      await Promise.all(workers.splice(0).map((worker) => worker.close(1_000)));
    },
    waitForJobs,
    async close() {
      await Promise.all(workers.map((worker) => worker.close(1_000)));
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await deps.close();
      await deleteKeysWithPrefix(redis, queuePrefix);
      await db.$disconnect();
      redis.disconnect();
      await database.drop();
    },
  };
}

/** Every BullMQ queue key under the stack's prefix: what a rejected request must not have created. */
export async function queueKeys(stack: Pick<Stack, 'redis' | 'queuePrefix'>): Promise<string[]> {
  return stack.redis.keys(`${stack.queuePrefix}:${inferenceQueueName('')}*`);
}

/** Removes everything the stack left in Redis under its prefix, so runs do not pile up keys in a shared Redis. */
async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}
