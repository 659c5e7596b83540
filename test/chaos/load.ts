/**
 * The load a chaos run submits: `target` accepted jobs spread over a submission window, each with
 * a unique text (so every upstream call and stored result can be traced back to its job), sent as
 * single `POST /v1/jobs` and, when enabled, in bulk as `POST /v1/batches`.
 *
 * Only a 202 counts as accepted. A failed submit without an Idempotency-Key (API down, connection
 * reset) is not re-sent: its row may exist anyway (the API died after the INSERT), so the next try
 * is a new item, and such rows show up as "unacknowledged" and must still finish. A request with an
 * Idempotency-Key is re-sent under that key until accepted (bounded), as a careful client would:
 * the platform must then create its job (or batch) exactly once.
 */
import type { Rng } from './rng.ts';
import { sleep } from './rng.ts';

export interface ChaosItem {
  seq: number;
  model: string;
  text: string;
}

export interface AcceptedJob extends ChaosItem {
  id: string;
  acceptedAt: number;
  via: 'single' | 'bulk';
  /** Sent with an Idempotency-Key (and re-sent with it after failures). */
  keyed: boolean;
  /** Requests it took (more than 1: re-sent under its Idempotency-Key). */
  sends: number;
}

/** A bulk submission answered 202; its jobs' ids are resolved from Postgres afterwards. */
export interface AcceptedBatch {
  batchId: string;
  items: ChaosItem[];
  acceptedAt: number;
  keyed: boolean;
  sends: number;
}

/** Times a keyed request is sent before the suite gives the item up. */
const MAX_SENDS = 8;

/** The batch line's custom_id for an item. */
export const customIdOf = (item: ChaosItem): string => `seq-${item.seq}`;

export interface RejectedSubmit {
  /** When the request was sent. */
  at: number;
  /** When it failed (a request in flight when the API was killed fails at the kill, not when sent). */
  failedAt: number;
  via: 'single' | 'bulk';
  items: number;
  /** `network` (refused, reset, timed out) or the HTTP status that was not 202. */
  kind: 'network' | 'timeout' | 'http';
  status?: number;
  detail: string;
  idempotencyKey?: string;
  /** The same request (same Idempotency-Key) was sent again. */
  willRetry?: boolean;
}

export interface LoadOptions {
  baseUrl: string;
  apiKey: string;
  runId: string;
  rng: Rng;
  /** Accepted jobs to reach. */
  target: number;
  /** Window over which submissions are paced (they catch up after an outage). */
  windowMs: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Model for each item (decided by the caller's mix). */
  modelFor(seq: number): string;
  /** Bulk submission (`POST /v1/batches`): share of the jobs that go in bulk, lines per request. */
  bulk: { enabled: boolean; jobShare: number; size: number };
  /** Share of submit requests sent with an Idempotency-Key, and re-sent with it after a failure. */
  idempotentShare: number;
  /** Extra fields on every single job (its webhook). */
  extraFields(): Record<string, unknown>;
  requestTimeoutMs: number;
  /** Hard stop for the whole load, whatever was accepted. */
  deadline: number;
}

export interface LoadResult {
  /** Single submits answered 202. */
  accepted: AcceptedJob[];
  /** Bulk submits answered 202. */
  acceptedBatches: AcceptedBatch[];
  rejected: RejectedSubmit[];
  /** Items sent (accepted or not), by seq, so unacknowledged rows can be matched. */
  sent: Map<number, ChaosItem>;
}

const words = ['river', 'lantern', 'granite', 'orbit', 'meadow', 'copper', 'signal', 'harbor', 'thistle', 'ember', 'quartz', 'falcon'];
const moods = ['a wonderful, happy day', 'a terrible, awful mess', 'an ordinary afternoon', 'great news for everyone', 'a sad and painful loss'];

function textFor(runId: string, seq: number, model: string, rng: Rng): string {
  const tail = Array.from({ length: 3 + rng.int(6) }, () => rng.pick(words)).join(' ');
  const mood = model.startsWith('local/') ? ` ${rng.pick(moods)}` : '';
  return `chaos ${runId} item ${seq}:${mood} ${tail}`;
}

export function jobBody(item: ChaosItem, extra: Record<string, unknown>): Record<string, unknown> {
  return { model: item.model, input: { text: item.text }, metadata: { chaos_seq: String(item.seq) }, ...extra };
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const accepted: AcceptedJob[] = [];
  const acceptedBatches: AcceptedBatch[] = [];
  const acceptedInBatches = () => acceptedBatches.reduce((sum, batch) => sum + batch.items.length, 0);
  const rejected: RejectedSubmit[] = [];
  const sent = new Map<number, ChaosItem>();
  const started = Date.now();
  const intervalMs = options.windowMs / options.target;
  let seq = 0;
  let inFlight = 0;
  /** Items whose request is in flight: they count towards the target, so the loop does not overshoot. */
  let pendingItems = 0;
  let consecutiveFailures = 0;
  const maxTries = options.target * 3;

  const newItem = (): ChaosItem => {
    const model = options.modelFor(seq);
    const item = { seq, model, text: textFor(options.runId, seq, model, options.rng) };
    sent.set(seq, item);
    seq += 1;
    return item;
  };

  const post = async (path: string, body: unknown, idempotencyKey: string | undefined): Promise<{ status: number; json: any } | { error: RejectedSubmit['kind']; detail: string }> => {
    try {
      const response = await fetch(`${options.baseUrl}${path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${options.apiKey}`,
          'content-type': 'application/json',
          ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(options.requestTimeoutMs),
      });
      const text = await response.text();
      let json: unknown = text;
      try {
        json = JSON.parse(text);
      } catch {
        // keep the raw text as evidence
      }
      return { status: response.status, json };
    } catch (err) {
      const error = err as Error & { cause?: { code?: string; message?: string } };
      const timedOut = error.name === 'TimeoutError' || error.name === 'AbortError';
      return { error: timedOut ? 'timeout' : 'network', detail: `${error.message}${error.cause ? ` (${error.cause.code ?? error.cause.message})` : ''}` };
    }
  };

  /**
   * Sends one request until it is accepted. Without an Idempotency-Key a failure is final (the row
   * may exist anyway, unacknowledged). With one, a client may safely send the same request again,
   * so this does, through an API restart: the platform must then create the job (or batch) once.
   */
  const submit = async (via: 'single' | 'bulk', items: ChaosItem[], path: string, body: unknown, keyed: boolean): Promise<{ status: number; json: any; sends: number } | undefined> => {
    const idempotencyKey = keyed ? `chaos-${options.runId}-${via}-${items[0]!.seq}` : undefined;
    pendingItems += items.length;
    try {
      for (let send = 1; ; send += 1) {
        const at = Date.now();
        const result = await post(path, body, idempotencyKey);
        if (!('error' in result) && result.status === 202) {
          consecutiveFailures = 0;
          return { ...result, sends: send };
        }
        const retryable = 'error' in result || result.status >= 500 || result.status === 429;
        const willRetry = idempotencyKey !== undefined && retryable && send < MAX_SENDS;
        rejected.push(
          'error' in result
            ? { at, failedAt: Date.now(), via, items: items.length, kind: result.error, detail: result.detail, idempotencyKey, willRetry }
            : { at, failedAt: Date.now(), via, items: items.length, kind: 'http', status: result.status, detail: JSON.stringify(result.json).slice(0, 300), idempotencyKey, willRetry },
        );
        consecutiveFailures += 1;
        if (!willRetry) return undefined;
        await sleep(250 * send);
      }
    } finally {
      pendingItems -= items.length;
    }
  };

  const submitSingle = async (): Promise<void> => {
    const item = newItem();
    const keyed = options.rng.next() < options.idempotentShare;
    const result = await submit('single', [item], '/v1/jobs', jobBody(item, options.extraFields()), keyed);
    if (!result) return;
    if (typeof result.json?.id !== 'string') {
      rejected.push({ at: Date.now(), failedAt: Date.now(), via: 'single', items: 1, kind: 'http', status: result.status, detail: `202 without a job id: ${JSON.stringify(result.json).slice(0, 200)}` });
      return;
    }
    accepted.push({ ...item, id: result.json.id, acceptedAt: Date.now(), via: 'single', keyed, sends: result.sends });
  };

  /**
   * Bulk submission: `POST /v1/batches` with JSON `{ requests: [{ custom_id, model, input, metadata }] }`,
   * answered 202 with the batch (its id); the batch is accepted or refused as a whole. The answer
   * does not list job ids: the caller resolves them from Postgres (batch id + custom_id) after the
   * run, and a line without its row counts as lost.
   */
  const submitBulk = async (): Promise<void> => {
    const items = Array.from({ length: Math.max(1, Math.min(options.bulk.size, options.target - accepted.length - acceptedInBatches() - pendingItems)) }, newItem);
    const keyed = options.rng.next() < options.idempotentShare;
    const requests = items.map((item) => ({ custom_id: customIdOf(item), model: item.model, input: { text: item.text }, metadata: { chaos_seq: String(item.seq) } }));
    const result = await submit('bulk', items, '/v1/batches', { requests }, keyed);
    if (!result) return;
    if (typeof result.json?.id !== 'string') {
      rejected.push({ at: Date.now(), failedAt: Date.now(), via: 'bulk', items: items.length, kind: 'http', status: result.status, detail: `202 without a batch id: ${JSON.stringify(result.json).slice(0, 200)}` });
      return;
    }
    acceptedBatches.push({ batchId: result.json.id, items, acceptedAt: Date.now(), keyed, sends: result.sends });
  };

  // Per request: bulk with probability p such that p·size / (p·size + 1 − p) = jobShare.
  const { jobShare, size } = options.bulk;
  const bulkRequestShare = jobShare <= 0 ? 0 : jobShare >= 1 ? 1 : jobShare / (size - jobShare * (size - 1));
  const running = new Set<Promise<void>>();
  let tries = 0;
  while (accepted.length + acceptedInBatches() + pendingItems < options.target && tries < maxTries && Date.now() < options.deadline) {
    // Pace to the window; after an outage this runs ahead until it has caught up.
    const due = started + (accepted.length + acceptedInBatches() + pendingItems) * intervalMs;
    if (due > Date.now()) await sleep(due - Date.now());
    // While the API is unreachable, probe gently instead of burning items.
    if (consecutiveFailures > 0) await sleep(Math.min(500, 50 * consecutiveFailures));
    while (inFlight >= options.concurrency) await Promise.race(running);
    tries += 1;
    inFlight += 1;
    const useBulk = options.bulk.enabled && options.rng.next() < bulkRequestShare;
    const task = (useBulk ? submitBulk() : submitSingle()).finally(() => {
      inFlight -= 1;
      running.delete(task);
    });
    running.add(task);
  }
  await Promise.all(running);
  return { accepted, acceptedBatches, rejected, sent };
}
