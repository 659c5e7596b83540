import { Webhook } from 'standardwebhooks';

/** The job object of the inferq v1 API. */
export interface Job<Output = unknown> {
  id: string;
  object: 'job';
  model: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'expired';
  priority: 'interactive' | 'batch';
  input: unknown;
  output: Output | null;
  error: { code: string; message: string } | null;
  usage: { input_tokens: number; output_tokens: number } | null;
  metadata: Record<string, string>;
  attempts: number;
  webhook: { url: string; events: string[] } | null;
  webhook_status?: 'none' | 'pending' | 'delivered' | 'failing' | 'failed';
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
}

export interface SubmitRequest {
  model: string;
  input: unknown;
  priority?: 'interactive' | 'batch';
  metadata?: Record<string, string>;
  webhook?: { url: string; events?: string[] };
}

/** An RFC 9457 problem the API answered with. */
export class InferqError extends Error {
  constructor(
    readonly status: number,
    readonly problem: { type?: string; title?: string; detail?: string; errors?: { path: string; message: string }[]; request_id?: string },
  ) {
    super(problem.detail ?? problem.title ?? `inferq answered ${status}`);
    this.name = 'InferqError';
  }
}

const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'expired']);

export interface ClientOptions {
  baseUrl: string;
  apiKey: string;
  fetch?: typeof fetch;
}

export class InferqClient {
  private readonly baseUrl: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/$/, '');
    this.fetch = options.fetch ?? fetch;
  }

  /** POST /v1/jobs: the job as accepted (status `queued`). */
  submit<Output = unknown>(request: SubmitRequest): Promise<Job<Output>> {
    return this.call('POST', '/v1/jobs', request);
  }

  /** GET /v1/jobs/:id; with `waitSeconds`, the server holds the request until the job is finished or the time is up. */
  get<Output = unknown>(id: string, options: { waitSeconds?: number; signal?: AbortSignal } = {}): Promise<Job<Output>> {
    const query = options.waitSeconds ? `?wait=${options.waitSeconds}` : '';
    return this.call('GET', `/v1/jobs/${encodeURIComponent(id)}${query}`, undefined, options.signal);
  }

  cancel(id: string): Promise<Job> {
    return this.call('POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`);
  }

  /** Long-polls until the job is finished (or `timeoutMs` passes, then throws). */
  async waitForJob<Output = unknown>(id: string, options: { timeoutMs?: number } = {}): Promise<Job<Output>> {
    const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
    for (;;) {
      const remaining = deadline - Date.now();
      const job = await this.get<Output>(id, { waitSeconds: Math.max(1, Math.min(60, Math.floor(remaining / 1000))) });
      if (FINAL.has(job.status)) return job;
      if (Date.now() >= deadline) throw new Error(`job ${id} is still ${job.status} after ${options.timeoutMs} ms`);
    }
  }

  private async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const response = await this.fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.options.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    const text = await response.text();
    const parsed = text ? JSON.parse(text) : null;
    if (!response.ok) throw new InferqError(response.status, parsed ?? {});
    return parsed as T;
  }
}

export interface WebhookEvent<Output = unknown> {
  type: 'job.started' | 'job.succeeded' | 'job.failed' | 'job.cancelled' | (string & {});
  timestamp: string;
  data: Job<Output>;
}

/**
 * Checks a webhook's Standard Webhooks signature (and that its timestamp is within 5 minutes) and
 * returns the event. Pass the raw body exactly as received, before any JSON parsing. Throws when
 * the signature does not match.
 */
export function verifyWebhook<Output = unknown>(secret: string, headers: Record<string, string | string[] | undefined>, rawBody: string | Buffer): WebhookEvent<Output> {
  const plain: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) plain[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  return new Webhook(secret).verify(typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8'), plain) as WebhookEvent<Output>;
}
