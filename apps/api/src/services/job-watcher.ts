import type { Redis } from 'ioredis';
import { jobChannel } from '@inferq/core/job-updates';
import type { JobView } from '@inferq/core/job-view';
import type { Logger } from '@inferq/core/logger';
import { withTimeout } from '@inferq/core/timeout';

type Listener = (job: JobView) => void;

const SUBSCRIBE_TIMEOUT_MS = 1_000;

/**
 * Lets requests wait for a job's updates (long-poll, SSE) over one Redis subscriber connection
 * per API process, subscribing to a job's channel only while someone waits for it.
 */
export class JobWatcher {
  private readonly subscriber: Redis;
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {
    this.subscriber = redis.duplicate();
    this.subscriber.on('error', (err: Error) => logger.warn({ err: err.message }, 'job watcher subscription error'));
    this.subscriber.on('message', (channel: string, message: string) => {
      const listeners = this.listeners.get(channel);
      if (!listeners) return;
      let job: JobView;
      try {
        job = JSON.parse(message) as JobView;
      } catch {
        return;
      }
      for (const listener of listeners) listener(job);
    });
  }

  /**
   * Calls `listener` with each update of the job until the returned function is called. Resolves
   * once subscribed, so a caller that reads Postgres afterwards misses nothing in between.
   */
  async watch(jobId: string, listener: Listener): Promise<() => void> {
    const channel = jobChannel(this.prefix, jobId);
    let listeners = this.listeners.get(channel);
    if (!listeners) {
      listeners = new Set();
      this.listeners.set(channel, listeners);
    }
    listeners.add(listener);
    // Without the subscription (Redis away or slow) the caller still ends with Postgres's answer at its deadline.
    const subscribed = await withTimeout(this.subscriber.subscribe(channel), SUBSCRIBE_TIMEOUT_MS);
    if (!subscribed.ok) this.logger.warn({ err: subscribed.error, jobId }, 'could not subscribe to job updates');
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.listeners.get(channel) === listeners) {
        this.listeners.delete(channel);
        this.subscriber.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  close(): void {
    this.subscriber.disconnect();
  }
}
