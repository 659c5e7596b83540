import { Redis } from 'ioredis';
import { newJobId } from '@inferq/core/ids';
import { JobQueues } from '@inferq/core/job-queues';
import { createLogger } from '@inferq/core/logger';
import { startPrivateRedis } from '../../test/support/redis-server.ts';
import { onCleanup } from '../lib/cleanup.ts';

export interface RedisMemoryResult {
  queued: number;
  /** used_memory growth per queued job, by priority (interactive → wait list, batch → prioritized set). */
  bytesPerJob: { interactive: number; batch: number };
  /** MEMORY USAGE of one job's hash: the part of the footprint that is the entry itself. */
  jobHashBytes: number;
  redisVersion: string;
}

const CHUNK = 1_000;

/**
 * Redis memory per queued job with `queued` jobs waiting and no worker, measured on a private
 * redis-server (nothing else writes to it, and FLUSHALL between runs is safe), with the
 * platform's own enqueue code (JobQueues) and the ids the API generates.
 */
export async function runRedisMemory(options: { queued: number }): Promise<RedisMemoryResult> {
  const redis = await startPrivateRedis();
  onCleanup('stop private redis', () => redis.destroy());
  const client = new Redis(redis.url, { maxRetriesPerRequest: null });
  onCleanup('private redis client', async () => client.disconnect());
  const queues = new JobQueues(client, 'bench', createLogger('bench', 'silent'));
  try {
    const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
    const measure = async (priority: 'interactive' | 'batch') => {
      await redis.flushAll();
      const model = `bench/${priority}`;
      // The queue's own meta keys are created by the first add; they are not per-job cost.
      const first = newJobId();
      await queues.enqueue([{ id: first, model, priority, maxAttempts: 3 }]);
      const hashBytes = Number(await client.memory('USAGE', queues.queueFor(model).toKey(first)));
      const before = await usedMemory();
      for (let offset = 1; offset < options.queued; offset += CHUNK) {
        const count = Math.min(CHUNK, options.queued - offset);
        await queues.enqueue(Array.from({ length: count }, () => ({ id: newJobId(), model, priority, maxAttempts: 3 })));
      }
      return { perJob: ((await usedMemory()) - before) / (options.queued - 1), hashBytes };
    };
    const interactive = await measure('interactive');
    const batch = await measure('batch');
    const redisVersion = /redis_version:(\S+)/.exec(await client.info('server'))?.[1] ?? '?';
    await redis.flushAll();
    return { queued: options.queued, bytesPerJob: { interactive: interactive.perJob, batch: batch.perJob }, jobHashBytes: interactive.hashBytes, redisVersion };
  } finally {
    await queues.close();
  }
}
