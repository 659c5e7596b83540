import { Agent, request } from 'node:http';
import { percentiles, type Latency } from './stats.ts';

/**
 * HTTP load against the API on loopback: an open loop at a fixed offered rate (latency is measured
 * from when each request was due, so a stalled server cannot hide its queueing: no coordinated
 * omission) and a closed loop of N connections for the highest sustained rate. Both are bounded in
 * time and stop by themselves.
 */
export interface Target {
  url: string;
  headers: Record<string, string>;
  /** Body of the i-th request. */
  body(i: number): string;
}

export interface LoadResult {
  sent: number;
  /** Answers with a 2xx status. */
  ok: number;
  /** Non-2xx answers and transport errors, by status or error code. */
  errors: Record<string, number>;
  durationS: number;
  okPerS: number;
  latencyMs: Latency;
}

const REQUEST_TIMEOUT_MS = 30_000;

function post(agent: Agent, target: Target, url: URL, body: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { ...target.headers, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.statusCode)));
        res.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'response error'));
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end(body);
  });
}

class Recorder {
  readonly latencies: number[] = [];
  readonly errors: Record<string, number> = {};
  ok = 0;

  record(status: string, latencyMs: number): void {
    this.latencies.push(latencyMs);
    if (status.startsWith('2')) this.ok += 1;
    else this.errors[status] = (this.errors[status] ?? 0) + 1;
  }

  /** A request the open loop did not send because too many were outstanding (the server fell behind). */
  skip(): void {
    this.errors['not sent: client backlog'] = (this.errors['not sent: client backlog'] ?? 0) + 1;
  }

  result(durationS: number): LoadResult {
    return { sent: this.latencies.length, ok: this.ok, errors: this.errors, durationS, okPerS: this.ok / durationS, latencyMs: percentiles(this.latencies) };
  }
}

/**
 * Sends `ratePerS` requests per second for `durationS`, whatever the answers, then waits for the
 * stragglers. Past `maxOutstanding` unanswered requests it stops sending (counted as errors), which
 * bounds the time a rate beyond the server's capacity can take.
 */
export async function openLoop(target: Target, ratePerS: number, durationS: number, maxSockets = 256, maxOutstanding = 2_000): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets });
  const url = new URL(target.url);
  const recorder = new Recorder();
  const total = Math.round(ratePerS * durationS);
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  let next = 0;
  let outstanding = 0;
  await new Promise<void>((done) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * ratePerS) + 1);
      for (; next < due; next += 1) {
        const dueAt = start + (next * 1000) / ratePerS;
        if (outstanding >= maxOutstanding) {
          recorder.skip();
          continue;
        }
        outstanding += 1;
        inFlight.push(
          post(agent, target, url, target.body(next)).then((status) => {
            outstanding -= 1;
            recorder.record(status, performance.now() - dueAt);
          }),
        );
      }
      if (next < total) setTimeout(tick, 1);
      else done();
    };
    tick();
  });
  await Promise.all(inFlight);
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  return recorder.result(elapsed);
}

/** `connections` loops, each sending its next request when the previous one is answered, for `durationS`. */
export async function closedLoop(target: Target, connections: number, durationS: number): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const url = new URL(target.url);
  const recorder = new Recorder();
  const start = performance.now();
  const end = start + durationS * 1000;
  let counter = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const sentAt = performance.now();
        const status = await post(agent, target, url, target.body(counter++));
        recorder.record(status, performance.now() - sentAt);
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  return recorder.result(elapsed);
}
