import { finishPhase, type BenchDatabase, type JobsSummary } from '../lib/database.ts';
import { percentiles, type Latency } from '../lib/stats.ts';
import type { Stack } from '../lib/stack.ts';

/**
 * Bulk submission through `POST /v1/batches` (NDJSON lines `{custom_id, model, input}`). The
 * endpoint is not built yet: a 404, 405 or 415 on a probe reports the path as not available, so
 * the bench runs today and measures the path as soon as it exists.
 */
export type BulkResult =
  | { available: false; note: string }
  | {
      available: true;
      jobs: number;
      linesPerRequest: number;
      requestLatencyMs: Latency;
      /** Jobs accepted per second while submitting. */
      submitPerS: number;
      /** Jobs from the first request sent to the last result row, per second. */
      jobsPerS: number;
      rejected: number;
      summary: JobsSummary;
    };

const PARALLEL_REQUESTS = 2;

const ndjson = (model: string, from: number, count: number): string =>
  Array.from({ length: count }, (_, i) => JSON.stringify({ custom_id: `c${from + i}`, model, input: { text: `bench bulk ${from + i}` } })).join('\n') + '\n';

async function postBatch(stack: Stack, body: string): Promise<Response> {
  return fetch(`${stack.baseUrl}/v1/batches`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/x-ndjson' },
    body,
    signal: AbortSignal.timeout(60_000),
  });
}

export async function runBulk(stack: Stack, db: BenchDatabase, options: { model: string; jobs: number; linesPerRequest: number }): Promise<BulkResult> {
  const probe = await postBatch(stack, ndjson(options.model, 0, 1));
  await probe.text();
  // 415: the /v1 JSON-only body parser refuses NDJSON before routing while no route takes it.
  if ([404, 405, 415].includes(probe.status)) return { available: false, note: `POST /v1/batches answered ${probe.status}: bulk submission is not built yet` };
  if (probe.status !== 202) return { available: false, note: `POST /v1/batches probe answered ${probe.status}, expected 202` };
  await finishPhase(db, 'bulk probe', 1);

  const latencies: number[] = [];
  let rejected = 0;
  let nextOffset = 0;
  const started = performance.now();
  const startedAtMs = Date.now();
  await Promise.all(
    Array.from({ length: PARALLEL_REQUESTS }, async () => {
      while (nextOffset < options.jobs) {
        const offset = nextOffset;
        const count = Math.min(options.linesPerRequest, options.jobs - offset);
        nextOffset += count;
        const sentAt = performance.now();
        const response = await postBatch(stack, ndjson(options.model, offset, count));
        await response.text();
        latencies.push(performance.now() - sentAt);
        if (response.status !== 202) rejected += count;
      }
    }),
  );
  const submitS = (performance.now() - started) / 1000;
  const accepted = options.jobs - rejected;
  const summary = await finishPhase(db, 'bulk', accepted);
  return {
    available: true,
    jobs: options.jobs,
    linesPerRequest: options.linesPerRequest,
    requestLatencyMs: percentiles(latencies),
    submitPerS: accepted / submitS,
    jobsPerS: summary.succeeded / Math.max(0.001, (summary.lastCompletedMs - startedAtMs) / 1000),
    rejected,
    summary,
  };
}
