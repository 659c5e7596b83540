import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.ts';

/**
 * A Redis connection for BullMQ and pub/sub. `maxRetriesPerRequest: null` is what BullMQ requires
 * for blocking worker connections; commands then wait through a Redis restart instead of failing.
 * Connection errors are logged, not thrown.
 */
export function createRedis(url: string, logger: Logger, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...options });
  // ioredis reconnects by itself; without a listener each failed attempt is an "unhandled error event".
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'Redis connection error'));
  return redis;
}

/**
 * Queue keys must never be evicted: an evicted job would only come back through the reconciler.
 * Warn loudly at start-up when Redis is configured otherwise (managed Redis may forbid CONFIG).
 */
export async function warnUnlessNoEviction(redis: Redis, logger: Logger): Promise<void> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    if (policy !== 'noeviction') {
      logger.warn({ policy }, 'Redis maxmemory-policy is not "noeviction": queue entries may be evicted under memory pressure; set maxmemory-policy noeviction');
    }
  } catch (err) {
    logger.warn({ err }, 'could not read Redis maxmemory-policy; make sure it is "noeviction"');
  }
}
