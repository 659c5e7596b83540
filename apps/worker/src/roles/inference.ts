import { UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Job } from '@inferq/core/db';
import { JobError } from '@inferq/core/errors';
import type { JobOutcome } from '@inferq/core/job-store';
import type { JobTransitions } from '@inferq/core/job-transitions';
import type { Logger } from '@inferq/core/logger';
import type { ModelConfig } from '@inferq/core/models';
import { inferencePayloadSchema, inferenceQueueName, type InferencePayload } from '@inferq/core/queue';
import { Batcher } from '@inferq/core/batcher';
import { HTTP_RETRY_BACKOFF_LIMIT_MS } from '../providers/openai.ts';
import type { ItemResult, Provider } from '../providers/provider.ts';

/** What became of one queue entry once its batch ran. */
export type EntryOutcome = { kind: 'done' } | { kind: 'retry'; delayMs: number | undefined };

/** Thrown to BullMQ so it redelivers the entry after our backoff (or the upstream's Retry-After). */
export class RetryLater extends Error {
  constructor(readonly delayMs: number | undefined) {
    super('transient failure; the job goes back to the queue');
    this.name = 'RetryLater';
  }
}

/** Exponential from 1 s, capped at 1 min, with full jitter so retried jobs do not return in a herd. */
export function retryDelayMs(attemptsMade: number, err?: Error): number {
  if (err instanceof RetryLater && err.delayMs !== undefined) return err.delayMs;
  return Math.round(Math.random() * Math.min(60_000, 1_000 * 2 ** Math.max(0, attemptsMade - 1)));
}

export interface InferenceDeps {
  transitions: JobTransitions;
  redis: Redis;
  logger: Logger;
  queuePrefix: string;
  leaseMarginMs: number;
  queueLockMs: number;
}

/**
 * Worst case of one batch's upstream work: every try timing out, and before each retry the
 * longest wait the HTTP client allows (its backoff cap, or a Retry-After up to the timeout).
 */
const leaseMsFor = (model: ModelConfig, marginMs: number): number =>
  model.timeoutMs * (model.retries + 1) + model.retries * Math.max(HTTP_RETRY_BACKOFF_LIMIT_MS, model.timeoutMs) + marginMs;

/**
 * Runs one batch: claim the jobs in Postgres, make one provider call, then write every result
 * in one statement and send transient failures back to the queue while attempts remain.
 */
export async function runInferenceBatch(
  deps: Pick<InferenceDeps, 'transitions' | 'logger' | 'leaseMarginMs'>,
  model: ModelConfig,
  provider: Provider,
  jobIds: string[],
  signal: AbortSignal,
): Promise<EntryOutcome[]> {
  const claims = await deps.transitions.claim(jobIds, leaseMsFor(model, deps.leaseMarginMs));
  const log = deps.logger.child({ model: model.name });
  if (claims.length < jobIds.length) {
    const claimed = new Set(claims.map((claim) => claim.id));
    log.debug({ jobIds: jobIds.filter((id) => !claimed.has(id)) }, 'entries skipped: job finished, cancelled or held by another worker');
  }
  if (claims.length === 0) return jobIds.map(() => ({ kind: 'done' }));

  const started = performance.now();
  let results: ItemResult[];
  try {
    results = await provider.infer(claims.map((claim) => claim.input), signal);
  } catch (err) {
    const error = err instanceof JobError ? err : new JobError('model_error', `the model failed: ${(err as Error).message}`, false);
    results = claims.map(() => ({ ok: false, error }));
  }
  const upstreamMs = performance.now() - started;

  const outcomes: JobOutcome[] = [];
  const retries: { claim: Job; error: JobError }[] = [];
  claims.forEach((claim, index) => {
    const result = results[index] ?? { ok: false as const, error: new JobError('model_error', 'the model returned no result for this input', false) };
    if (result.ok) {
      outcomes.push({ id: claim.id, attempt: claim.attempts, status: 'succeeded', output: result.output, usage: result.usage });
    } else if (result.error.retryable && claim.attempts < claim.maxAttempts) {
      retries.push({ claim, error: result.error });
    } else {
      outcomes.push({ id: claim.id, attempt: claim.attempts, status: 'failed', errorCode: result.error.code, errorMessage: result.error.message });
    }
  });
  const [storedJobs, releasedJobs] = await Promise.all([
    deps.transitions.record(outcomes),
    deps.transitions.release(retries.map(({ claim }) => ({ id: claim.id, attempt: claim.attempts }))),
  ]);
  const stored = new Set(storedJobs.map((job) => job.id));
  const released = new Set(releasedJobs.map((job) => job.id));

  for (const outcome of outcomes) {
    const line = { jobId: outcome.id, attempt: outcome.attempt, status: outcome.status, stored: stored.has(outcome.id) };
    if (outcome.status === 'failed') log.warn({ ...line, errorCode: outcome.errorCode, error: outcome.errorMessage }, 'job failed');
    else log.debug(line, 'job succeeded');
  }
  for (const { claim, error } of retries) {
    log.info({ jobId: claim.id, attempt: claim.attempts, errorCode: error.code, error: error.message, retryAfterMs: error.retryAfterMs }, 'job will be retried');
  }
  log.info({ jobIds: claims.map((c) => c.id), size: claims.length, upstreamMs: Math.round(upstreamMs), stored: stored.size, retried: released.size }, 'batch done');

  const retryAfter = new Map(retries.filter(({ claim }) => released.has(claim.id)).map(({ claim, error }) => [claim.id, error.retryAfterMs]));
  return jobIds.map((id) => (retryAfter.has(id) ? { kind: 'retry', delayMs: retryAfter.get(id) } : { kind: 'done' }));
}

/** A BullMQ worker per model, feeding a batcher; its concurrency is what lets a batch fill. */
export function startInferenceWorker(deps: InferenceDeps, model: ModelConfig, provider: Provider) {
  const abort = new AbortController();
  const batcher = new Batcher<string, EntryOutcome>(model, (jobIds) => runInferenceBatch(deps, model, provider, jobIds, abort.signal));
  const worker = new Worker<InferencePayload>(
    inferenceQueueName(model.name),
    async (entry) => {
      const payload = inferencePayloadSchema.safeParse(entry.data);
      if (!payload.success) throw new UnrecoverableError(`malformed queue entry ${entry.id}`);
      const outcome = await batcher.add(payload.data.jobId);
      if (outcome.kind === 'retry') throw new RetryLater(outcome.delayMs);
    },
    {
      connection: deps.redis,
      prefix: deps.queuePrefix,
      concurrency: model.maxBatchSize * model.concurrency,
      lockDuration: deps.queueLockMs,
      stalledInterval: deps.queueLockMs,
      // Postgres decides when a job has run out of attempts; a stall only means "deliver again".
      maxStalledCount: 1_000,
      settings: { backoffStrategy: (attemptsMade, _type, err) => retryDelayMs(attemptsMade, err) },
    },
  );
  worker.on('error', (err) => deps.logger.error({ err, model: model.name }, 'queue worker error'));
  return {
    model: model.name,
    /** Stop taking entries and let running batches finish; after `graceMs` abort upstream calls (their leases bring the jobs back). */
    async close(graceMs: number): Promise<void> {
      const timer = setTimeout(() => abort.abort(new Error('worker shutting down')), graceMs).unref();
      await worker.close();
      await batcher.idle();
      clearTimeout(timer);
    },
  };
}
