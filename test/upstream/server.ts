/**
 * Simulated OpenAI-compatible model upstream for inferq's integration tests, benchmark and chaos suite.
 *
 * It is the only simulated part of the test setup, so it speaks OpenAI's wire format
 * (/v1/embeddings, /v1/chat/completions, /v1/models, OpenAI error bodies, Retry-After on 429)
 * and costs time like a provider does: a fixed latency per call plus a per-item cost.
 * Answers are deterministic functions of the input, so tests can check that every result reached
 * the job it belongs to. Failures (500, 429, hangs) are injected either scripted (`failNext`) or at
 * random rates, all changeable while the server runs.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once, setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

export interface UpstreamBehaviour {
  /** Fixed cost per call, in milliseconds. */
  latencyMs: number;
  /** Extra cost per input item (embedding input, or chat conversation), in milliseconds. */
  perItemMs: number;
  /** Share (0..1) of calls answered 500. */
  failRate: number;
  /** Share (0..1) of calls answered 429 with Retry-After. */
  rateLimitRate: number;
  /** Value of the Retry-After header on 429 answers, in whole seconds. */
  retryAfterSeconds: number;
  /** Share (0..1) of calls never answered: the socket stays open until the client gives up or close(). */
  hangRate: number;
}

export type UpstreamOutcome = 'ok' | 'error' | 'rate_limited' | 'hang';

export interface UpstreamCall {
  endpoint: 'chat' | 'embeddings';
  /** The requested model, or '' when the body had none. */
  model: string;
  /** Inputs in the call: embedding inputs, 1 for a chat conversation, 0 for a rejected request. */
  items: number;
  outcome: UpstreamOutcome;
  /** HTTP status the call is answered with (401 and 400 count as outcome 'error'); null for a hang. */
  status: number | null;
  /** Date.now() when the request body had been received. */
  at: number;
  /** The parsed JSON body, or the raw text when it was not valid JSON. */
  body: unknown;
}

export interface Upstream {
  /** e.g. http://127.0.0.1:43123; clients use `${url}/v1` as the OpenAI base URL. */
  url: string;
  /** Every request to an inference endpoint, in order of arrival, including rejected and failed ones. */
  calls: UpstreamCall[];
  /** Live settings; may be mutated directly or through set(). */
  behaviour: UpstreamBehaviour;
  set(patch: Partial<UpstreamBehaviour>): void;
  /** The next n well-formed, authorised calls fail this way, before the random rates apply. */
  failNext(n: number, kind: Exclude<UpstreamOutcome, 'ok'>): void;
  /** Clears calls and scripted failures and restores the behaviour given to startUpstream. */
  reset(): void;
  /** Stops the server, ending hanging and in-flight requests. */
  close(): Promise<void>;
}

export interface UpstreamOptions extends Partial<UpstreamBehaviour> {
  /** 0 (default) picks a free port. */
  port?: number;
  /** When set, every request must carry `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
}

const DEFAULT_BEHAVIOUR: UpstreamBehaviour = {
  latencyMs: 0,
  perItemMs: 0,
  failRate: 0,
  rateLimitRate: 0,
  retryAfterSeconds: 1,
  hangRate: 0,
};

/** Models listed by GET /v1/models; the inference endpoints accept any model id so tests can invent their own. */
const LISTED_MODELS = ['text-embedding-3-small', 'gpt-4o-mini'];
const EMBEDDING_DIMENSIONS = 8;
/** OpenAI's own limit on inputs per embeddings request; a worker batching beyond it must fail here too. */
const MAX_EMBEDDING_INPUTS = 2048;

/**
 * The embedding the upstream returns for `text`: 8 dimensions from a SHA-256 of the text, unit length
 * like OpenAI's, and rounded to float32 so the float and base64 encodings carry the same numbers.
 */
export function embeddingFor(text: string): number[] {
  const digest = createHash('sha256').update(text).digest();
  const raw = Array.from({ length: EMBEDDING_DIMENSIONS }, (_, i) => digest.readInt32LE(i * 4) / 2 ** 31);
  const norm = Math.hypot(...raw);
  return raw.map((value) => Math.fround(value / norm));
}

/** The assistant message content the upstream returns for a conversation. */
export function chatReplyFor(messages: ReadonlyArray<{ role: string; content: unknown }>): string {
  const lastUser = messages.filter((message) => message.role === 'user').at(-1);
  return `echo: ${lastUser ? contentText(lastUser.content) : ''}`;
}

export async function startUpstream(options: UpstreamOptions = {}): Promise<Upstream> {
  const { port = 0, apiKey, ...initialPatch } = options;
  const initial = applyPatch({ ...DEFAULT_BEHAVIOUR }, initialPatch);
  const behaviour: UpstreamBehaviour = { ...initial };
  const calls: UpstreamCall[] = [];
  const scripted: UpstreamOutcome[] = [];
  // Aborts pending latency timers on close(), so they neither answer nor keep the process alive.
  const closing = new AbortController();
  // Every call waiting out its latency listens on this signal; thousands at once are normal in the benchmark.
  setMaxListeners(Infinity, closing.signal);

  function nextOutcome(): UpstreamOutcome {
    const next = scripted.shift();
    if (next) return next;
    // One roll split into consecutive bands, so each rate is exactly the share of calls it names.
    const roll = Math.random();
    let bandEnd = 0;
    for (const [outcome, rate] of [
      ['error', behaviour.failRate],
      ['rate_limited', behaviour.rateLimitRate],
      ['hang', behaviour.hangRate],
    ] as const) {
      bandEnd += rate;
      if (roll < bandEnd) return outcome;
    }
    return 'ok';
  }

  function authorised(req: IncomingMessage): boolean {
    return apiKey === undefined || req.headers.authorization === `Bearer ${apiKey}`;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const route = `${req.method} ${path}`;
    const endpoint =
      route === 'POST /v1/embeddings' ? 'embeddings' : route === 'POST /v1/chat/completions' ? 'chat' : undefined;

    if (route === 'GET /v1/models') {
      if (!authorised(req)) return sendUnauthorised(res, req);
      return sendJson(res, 200, {
        object: 'list',
        data: LISTED_MODELS.map((id) => ({ id, object: 'model', created: 0, owned_by: 'upstream-sim' })),
      });
    }
    if (!endpoint) {
      return sendError(res, 404, { type: 'invalid_request_error', message: `Invalid URL (${req.method} ${path})` });
    }

    const text = await readBody(req);
    const body = parseJson(text);
    const call: UpstreamCall = {
      endpoint,
      model: isRecord(body) && typeof body.model === 'string' ? body.model : '',
      items: 0,
      outcome: 'error',
      status: null,
      at: Date.now(),
      body: body === INVALID_JSON ? text : body,
    };
    calls.push(call);

    if (!authorised(req)) {
      call.status = 401;
      return sendUnauthorised(res, req);
    }
    let request: ParsedRequest;
    try {
      if (body === INVALID_JSON) {
        throw new InvalidRequest(
          "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)",
        );
      }
      request = endpoint === 'embeddings' ? parseEmbeddingsRequest(body) : parseChatRequest(body);
    } catch (error) {
      if (!(error instanceof InvalidRequest)) throw error;
      call.status = 400;
      return sendError(res, 400, { type: 'invalid_request_error', message: error.message, param: error.param });
    }

    call.items = request.items;
    call.outcome = nextOutcome();
    call.status = { ok: 200, error: 500, rate_limited: 429, hang: null }[call.outcome];

    // A real provider's rate limiter rejects before any model work, so 429s come back without latency.
    if (call.outcome === 'rate_limited') {
      return sendError(
        res,
        429,
        {
          type: 'requests',
          code: 'rate_limit_exceeded',
          message: `Rate limit reached for ${request.model} on requests per min (RPM). Please try again in ${behaviour.retryAfterSeconds}s.`,
        },
        { 'retry-after': String(behaviour.retryAfterSeconds) },
      );
    }
    // Left unanswered on purpose: close() ends the connection through server.closeAllConnections().
    if (call.outcome === 'hang') return;

    await delay(behaviour.latencyMs + behaviour.perItemMs * request.items, undefined, { signal: closing.signal });
    if (call.outcome === 'error') {
      return sendError(res, 500, {
        type: 'server_error',
        message: 'The server had an error while processing your request. Sorry about that!',
      });
    }
    sendJson(res, 200, request.answer());
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // A client that went away mid-request, or our own close(), is normal; anything else is a bug here.
      if (!isDisconnect(error)) console.error('upstream-sim: request failed', error);
      res.destroy();
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const { port: boundPort } = server.address() as AddressInfo;

  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${boundPort}`,
    calls,
    behaviour,
    set(patch) {
      applyPatch(behaviour, patch);
    },
    failNext(n, kind) {
      if (!Number.isInteger(n) || n < 0) throw new RangeError(`failNext: n must be a non-negative integer, got ${n}`);
      scripted.push(...Array<UpstreamOutcome>(n).fill(kind));
    },
    reset() {
      calls.length = 0;
      scripted.length = 0;
      Object.assign(behaviour, initial);
    },
    close() {
      closed ??= new Promise<void>((resolve, reject) => {
        closing.abort();
        server.close((error) => (error ? reject(error) : resolve()));
        // Also ends keep-alive sockets and hanging requests, which server.close() alone would wait for.
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

interface ParsedRequest {
  model: string;
  items: number;
  answer(): unknown;
}

/** A request OpenAI would answer 400; `param` names the offending field. */
class InvalidRequest extends Error {
  readonly param: string | null;

  constructor(message: string, param: string | null = null) {
    super(message);
    this.param = param;
  }
}

function parseEmbeddingsRequest(body: unknown): ParsedRequest {
  const { model, input, encoding_format: encoding = 'float' } = requireObject(body);
  requireModel(model);
  const inputs = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((item) => typeof item === 'string')) {
    throw new InvalidRequest("'input' must be a string or a non-empty array of strings.", 'input');
  }
  if (inputs.length > MAX_EMBEDDING_INPUTS) {
    throw new InvalidRequest(`'input' must have at most ${MAX_EMBEDDING_INPUTS} items, got ${inputs.length}.`, 'input');
  }
  if (encoding !== 'float' && encoding !== 'base64') {
    throw new InvalidRequest("'encoding_format' must be 'float' or 'base64'.", 'encoding_format');
  }
  return {
    model,
    items: inputs.length,
    answer() {
      const tokens = inputs.reduce((sum, text) => sum + countTokens(text), 0);
      return {
        object: 'list',
        data: inputs.map((text, index) => ({
          object: 'embedding',
          index,
          embedding: encoding === 'base64' ? toBase64(embeddingFor(text)) : embeddingFor(text),
        })),
        model,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      };
    },
  };
}

function parseChatRequest(body: unknown): ParsedRequest {
  const { model, messages, max_tokens: maxTokens, temperature } = requireObject(body);
  requireModel(model);
  if (!Array.isArray(messages) || messages.length === 0 || !messages.every(isMessage)) {
    throw new InvalidRequest(
      "'messages' must be a non-empty array of { role: string, content: string | null | content parts }.",
      'messages',
    );
  }
  if (maxTokens !== undefined && maxTokens !== null && !(Number.isInteger(maxTokens) && (maxTokens as number) > 0)) {
    throw new InvalidRequest("'max_tokens' must be a positive integer.", 'max_tokens');
  }
  if (
    temperature !== undefined &&
    temperature !== null &&
    !(typeof temperature === 'number' && temperature >= 0 && temperature <= 2)
  ) {
    throw new InvalidRequest("'temperature' must be a number between 0 and 2.", 'temperature');
  }
  return {
    model,
    items: 1,
    answer() {
      const content = chatReplyFor(messages);
      const promptTokens = messages.reduce((sum, message) => sum + countTokens(contentText(message.content)), 0);
      const completionTokens = countTokens(content);
      return {
        id: `chatcmpl-${randomBytes(12).toString('hex')}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model,
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
        },
      };
    },
  };
}

function requireObject(body: unknown): Record<string, unknown> {
  if (!isRecord(body)) throw new InvalidRequest('The request body must be a JSON object.');
  return body;
}

function requireModel(model: unknown): asserts model is string {
  if (typeof model !== 'string' || model === '') {
    throw new InvalidRequest('You must provide a model parameter.', 'model');
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isMessage(value: unknown): value is { role: string; content: unknown } {
  if (!isRecord(value) || typeof value.role !== 'string') return false;
  const { content } = value;
  return (
    content === null ||
    typeof content === 'string' ||
    (Array.isArray(content) && content.every((part) => isRecord(part) && typeof part.type === 'string'))
  );
}

/** Text of a message: a plain string, or the text parts of a multi-part content. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((part) => isRecord(part) && part.type === 'text' && typeof part.text === 'string')
    .map((part) => part.text)
    .join(' ');
}

/** A stand-in tokenizer: whitespace-separated words, at least 1 per input. */
function countTokens(text: string): number {
  return Math.max(1, text.split(/\s+/).filter(Boolean).length);
}

/** OpenAI's base64 encoding: little-endian float32s. */
function toBase64(vector: number[]): string {
  const buffer = Buffer.alloc(vector.length * 4);
  vector.forEach((value, i) => buffer.writeFloatLE(value, i * 4));
  return buffer.toString('base64');
}

function applyPatch(target: UpstreamBehaviour, patch: Partial<UpstreamBehaviour>): UpstreamBehaviour {
  const next = { ...target };
  for (const key of Object.keys(DEFAULT_BEHAVIOUR) as (keyof UpstreamBehaviour)[]) {
    const value = patch[key];
    if (value !== undefined) next[key] = value;
  }
  validateBehaviour(next);
  return Object.assign(target, next);
}

function validateBehaviour(behaviour: UpstreamBehaviour): void {
  const { latencyMs, perItemMs, failRate, rateLimitRate, hangRate, retryAfterSeconds } = behaviour;
  for (const [name, value] of Object.entries({ latencyMs, perItemMs })) {
    if (!(Number.isFinite(value) && value >= 0)) throw new RangeError(`${name} must be a number >= 0, got ${value}`);
  }
  for (const [name, value] of Object.entries({ failRate, rateLimitRate, hangRate })) {
    if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} must be between 0 and 1, got ${value}`);
  }
  if (failRate + rateLimitRate + hangRate > 1) {
    throw new RangeError('failRate + rateLimitRate + hangRate must not exceed 1');
  }
  // Retry-After is delta-seconds in HTTP: a non-negative integer.
  if (!(Number.isInteger(retryAfterSeconds) && retryAfterSeconds >= 0)) {
    throw new RangeError(`retryAfterSeconds must be an integer >= 0, got ${retryAfterSeconds}`);
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const INVALID_JSON = Symbol('invalid JSON');

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return INVALID_JSON;
  }
}

function isDisconnect(error: unknown): boolean {
  const { name, code } = error as { name?: string; code?: string };
  return name === 'AbortError' || code === 'ECONNRESET';
}

function sendUnauthorised(res: ServerResponse, req: IncomingMessage): void {
  const message = req.headers.authorization
    ? 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.'
    : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
  const code = req.headers.authorization ? 'invalid_api_key' : null;
  sendError(res, 401, { type: 'invalid_request_error', message, code });
}

interface OpenAIError {
  message: string;
  type: string;
  param?: string | null;
  code?: string | null;
}

/** OpenAI's error body, with param and code always present (null when not applicable) as OpenAI sends them. */
function sendError(res: ServerResponse, status: number, error: OpenAIError, headers: Record<string, string> = {}): void {
  const { message, type, param = null, code = null } = error;
  sendJson(res, status, { error: { message, type, param, code } }, headers);
}

function sendJson(res: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-request-id': `req_${randomBytes(16).toString('hex')}`,
    ...headers,
  });
  res.end(body);
}
