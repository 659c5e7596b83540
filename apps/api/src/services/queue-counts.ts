import { LRUCache } from 'lru-cache';
import type { Db } from '@inferq/core/db';

/**
 * How many jobs a tenant has queued, in total and per model: what backpressure and fair-share
 * ranks need on every submit. Counting rows each time costs O(backlog) per request, so each
 * count is read at most once per `ttlMs` per API process and moved forward locally by the jobs
 * this process accepts. Between reads the numbers can lag by what other processes and workers
 * did meanwhile: a cap may be overshot by a second's worth of submits, and a rank be off by as
 * much, which neither feature needs to be exact about.
 */
export class QueueCounts {
  /** Absent when `ttlMs` is 0: every call counts. */
  private readonly counts: LRUCache<string, { value: number }> | undefined;
  /** Counts under way, shared by the requests that need the same one meanwhile. */
  private readonly inFlight = new Map<string, Promise<number>>();

  constructor(
    private readonly db: Db,
    ttlMs: number,
  ) {
    this.counts = ttlMs > 0 ? new LRUCache({ max: 50_000, ttl: ttlMs }) : undefined;
  }

  /** Queued jobs of the tenant (all models when `model` is omitted). */
  async queued(tenantId: string, model?: string): Promise<number> {
    const key = `${tenantId}\0${model ?? ''}`;
    const cached = this.counts?.get(key);
    if (cached) return cached.value;
    let counting = this.inFlight.get(key);
    if (!counting) {
      counting = this.db.job.count({ where: { tenantId, status: 'queued', ...(model ? { model } : {}) } }).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, counting);
    }
    const value = await counting;
    this.counts?.set(key, { value });
    return value;
  }

  /** Records jobs this process just accepted. */
  added(tenantId: string, model: string, count: number): void {
    for (const key of [`${tenantId}\0`, `${tenantId}\0${model}`]) {
      const cached = this.counts?.get(key);
      if (cached) cached.value += count;
    }
  }
}
