import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Principal } from '@inferq/core/api-keys';
import type { Db } from '@inferq/core/db';
import { ApiError } from '@inferq/core/errors';
import type { QueueCounts } from './queue-counts.ts';

export interface LimitDefaults {
  requestsPerMinute: number;
  unitsPerMinute: number;
  maxQueuedJobs: number;
}

export interface RateLimitState {
  limit: number;
  remaining: number;
  resetSeconds: number;
}

/**
 * Per-key limits (requests and input units per minute), counted in Redis so every API instance
 * shares them, with rate-limiter-flexible; an in-memory limiter stands in while Redis is away.
 * Per-tenant limits (queued jobs, monthly budget) are read from Postgres at submit.
 */
export class Limits {
  private readonly limiters = new Map<string, RateLimiterRedis>();
  private readonly redis: Redis;
  /** A tenant's limits and month-to-date usage, reused for `cacheMs` (absent when 0). */
  private readonly tenants: LRUCache<string, { maxQueuedJobs: number | null; monthlyBudgetUnits: bigint | null }> | undefined;
  private readonly usage: LRUCache<string, { units: bigint }> | undefined;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly defaults: LimitDefaults,
    private readonly counts: QueueCounts,
    cacheMs: number,
  ) {
    this.tenants = cacheMs > 0 ? new LRUCache({ max: 10_000, ttl: cacheMs }) : undefined;
    this.usage = cacheMs > 0 ? new LRUCache({ max: 10_000, ttl: cacheMs }) : undefined;
    // Its own connection that fails at once while Redis is away (no offline queue), so requests
    // fall through to the in-memory insurance limiter instead of waiting for Redis.
    this.redis = redis.duplicate({ enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    this.redis.on('error', () => undefined);
  }

  close(): void {
    this.redis.disconnect();
  }

  private limiter(kind: 'req' | 'units', points: number): RateLimiterRedis {
    const name = `${kind}:${points}`;
    let limiter = this.limiters.get(name);
    if (!limiter) {
      limiter = new RateLimiterRedis({
        storeClient: this.redis,
        keyPrefix: `${this.prefix}:rl:${kind}`,
        points,
        duration: 60,
        insuranceLimiter: new RateLimiterMemory({ points, duration: 60 }),
      });
      this.limiters.set(name, limiter);
    }
    return limiter;
  }

  /** Counts one request for the key; throws 429 (with Retry-After) past its limit. Returns the header values. */
  async consumeRequest(principal: Principal): Promise<RateLimitState> {
    return this.consume('req', principal.requestsPerMinute ?? this.defaults.requestsPerMinute, principal.keyId, 1, 'requests');
  }

  /** Counts `units` of input for the key; throws 429 past its limit. */
  async consumeUnits(principal: Principal, units: number): Promise<RateLimitState> {
    const limit = principal.unitsPerMinute ?? this.defaults.unitsPerMinute;
    if (units > limit) throw new ApiError('rate_limited', `This request carries ${units} input units, more than the key's limit of ${limit} per minute.`);
    return this.consume('units', limit, principal.keyId, units, 'input units');
  }

  private async consume(kind: 'req' | 'units', limit: number, keyId: string, points: number, what: string): Promise<RateLimitState> {
    try {
      const res = await this.limiter(kind, limit).consume(keyId, points);
      return { limit, remaining: res.remainingPoints, resetSeconds: Math.ceil(res.msBeforeNext / 1000) };
    } catch (rejection: unknown) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const retryAfter = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      throw new ApiError('rate_limited', `Rate limit of ${limit} ${what} per minute reached for this API key; retry in ${retryAfter} s.`, [], {
        'Retry-After': String(retryAfter),
        'X-RateLimit-Limit': String(limit),
        'X-RateLimit-Remaining': '0',
        'X-RateLimit-Reset': String(retryAfter),
      });
    }
  }

  /**
   * Backpressure and budget: refuses (429) a submit of `count` jobs the tenant has no room or
   * budget for. Reads are cached for a few seconds (see QueueCounts): limits, not invariants.
   */
  async assertTenantCanSubmit(db: Db, tenantId: string, count: number): Promise<void> {
    let tenant = this.tenants?.get(tenantId);
    if (!tenant) {
      tenant = await db.tenant.findUniqueOrThrow({ where: { id: tenantId }, select: { maxQueuedJobs: true, monthlyBudgetUnits: true } });
      this.tenants?.set(tenantId, tenant);
    }
    const cap = tenant.maxQueuedJobs ?? this.defaults.maxQueuedJobs;
    const queued = await this.counts.queued(tenantId);
    if (queued + count > cap) {
      throw new ApiError('rate_limited', `The tenant has ${queued} jobs queued; the limit is ${cap}. Retry when some have run.`, [], { 'Retry-After': '5' });
    }
    if (tenant.monthlyBudgetUnits !== null) {
      let used = this.usage?.get(tenantId);
      if (!used) {
        used = { units: await monthToDateUnits(db, tenantId) };
        this.usage?.set(tenantId, used);
      }
      if (used.units >= tenant.monthlyBudgetUnits) {
        throw new ApiError('rate_limited', `The tenant's usage budget of ${tenant.monthlyBudgetUnits} units for this month is used up (${used.units} used).`, [], { 'Retry-After': String(secondsToNextMonth()) });
      }
    }
  }
}

async function monthToDateUnits(db: Db, tenantId: string): Promise<bigint> {
  const [row] = await db.$queryRaw<{ units: bigint | null }[]>`
    SELECT sum(COALESCE((usage->>'input_tokens')::bigint, 0) + COALESCE((usage->>'output_tokens')::bigint, 0))::bigint AS units
      FROM jobs
     WHERE tenant_id = ${tenantId} AND completed_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`;
  return row?.units ?? 0n;
}

function secondsToNextMonth(): number {
  const now = new Date();
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  return Math.ceil((next - now.getTime()) / 1000);
}
