/**
 * Tests of the simulated OpenAI-compatible upstream (test/upstream/server.ts) that the integration
 * tests, the benchmark and the chaos suite rely on to behave like a real provider.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, get } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { embeddingFor, startUpstream, type Upstream, type UpstreamOptions } from './upstream/server.ts';

const started: Upstream[] = [];
afterAll(() => Promise.all(started.map((upstream) => upstream.close())));

async function start(options?: UpstreamOptions): Promise<Upstream> {
  const upstream = await startUpstream(options);
  started.push(upstream);
  return upstream;
}

function post(upstream: Upstream, path: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${upstream.url}/v1${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
}

const embed = (upstream: Upstream, input: string | string[], init?: RequestInit) =>
  post(upstream, '/embeddings', { model: 'text-embedding-3-small', input }, init);

const chat = (upstream: Upstream, content: string) =>
  post(upstream, '/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });

async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met within 2s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** OpenAI's error body: param and code are always present, null when not applicable. */
function expectOpenAIError(body: unknown, type: string): void {
  const { error } = body as { error: Record<string, unknown> };
  expect(Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(error).toMatchObject({ message: expect.any(String), type });
  for (const field of [error.param, error.code]) expect(field === null || typeof field === 'string').toBe(true);
}

describe('embeddings', () => {
  it('answers in OpenAI shape with deterministic per-text vectors and word-count usage', async () => {
    const upstream = await start();
    const inputs = ['the quick brown fox', 'hello', 'the quick brown fox'];
    const response = await embed(upstream, inputs);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    const body = await response.json();

    expect(body).toEqual({
      object: 'list',
      data: inputs.map((text, index) => ({ object: 'embedding', index, embedding: embeddingFor(text) })),
      model: 'text-embedding-3-small',
      usage: { prompt_tokens: 4 + 1 + 4, total_tokens: 9 },
    });
    const [first, second] = body.data.map((item: { embedding: number[] }) => item.embedding);
    expect(first).toHaveLength(8);
    expect(first).not.toEqual(second);
    expect(Math.hypot(...first)).toBeCloseTo(1, 5);

    // Same text, separate call and single-string input: same vector.
    const again = await (await embed(upstream, 'hello')).json();
    expect(again.data).toEqual([{ object: 'embedding', index: 0, embedding: embeddingFor('hello') }]);
    expect(again.usage).toEqual({ prompt_tokens: 1, total_tokens: 1 });
  });

  it('counts at least one token for an empty input', async () => {
    const upstream = await start();
    const body = await (await embed(upstream, ['', '  '])).json();
    expect(body.usage).toEqual({ prompt_tokens: 2, total_tokens: 2 });
  });

  it('encodes base64 as little-endian float32, as the OpenAI SDK requests by default', async () => {
    const upstream = await start();
    const response = await post(upstream, '/embeddings', { model: 'm', input: ['a b'], encoding_format: 'base64' });
    const { data } = await response.json();
    const bytes = Buffer.from(data[0].embedding, 'base64');
    const decoded = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
    expect(decoded).toEqual(embeddingFor('a b'));
  });

  it('handles 1,000 inputs in one call', async () => {
    const upstream = await start();
    const inputs = Array.from({ length: 1_000 }, (_, i) => `input number ${i} `.repeat(20));
    const body = await (await embed(upstream, inputs)).json();
    expect(body.data).toHaveLength(1_000);
    expect(body.data[999]).toEqual({ object: 'embedding', index: 999, embedding: embeddingFor(inputs[999]!) });
    expect(body.usage.prompt_tokens).toBe(1_000 * 60);
    expect(upstream.calls).toMatchObject([{ endpoint: 'embeddings', items: 1_000, outcome: 'ok' }]);
  });

  it("rejects more inputs than OpenAI's 2,048 limit", async () => {
    const upstream = await start();
    const response = await embed(upstream, Array<string>(2_049).fill('x'));
    expect(response.status).toBe(400);
    expectOpenAIError(await response.json(), 'invalid_request_error');
  });
});

describe('chat completions', () => {
  it('answers in OpenAI shape echoing the last user message', async () => {
    const upstream = await start();
    const response = await post(upstream, '/chat/completions', {
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'answer' },
        { role: 'user', content: [{ type: 'text', text: 'what is two plus two' }] },
      ],
      max_tokens: 50,
      temperature: 0,
    });
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toEqual({
      id: expect.stringMatching(/^chatcmpl-\w+$/),
      object: 'chat.completion',
      created: expect.any(Number),
      model: 'gpt-4o-mini',
      choices: [
        { index: 0, message: { role: 'assistant', content: 'echo: what is two plus two' }, finish_reason: 'stop' },
      ],
      usage: { prompt_tokens: 2 + 2 + 1 + 5, completion_tokens: 6, total_tokens: 16 },
    });
    expect(Math.abs(body.created - Date.now() / 1000)).toBeLessThan(5);
  });

  it('rejects missing or malformed messages', async () => {
    const upstream = await start();
    for (const body of [
      { model: 'gpt-4o-mini' },
      { model: 'gpt-4o-mini', messages: [] },
      { model: 'gpt-4o-mini', messages: [{ content: 'no role' }] },
      { messages: [{ role: 'user', content: 'no model' }] },
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 0 },
    ]) {
      const response = await post(upstream, '/chat/completions', body);
      expect(response.status).toBe(400);
      expectOpenAIError(await response.json(), 'invalid_request_error');
    }
  });
});

describe('models', () => {
  it('lists models in OpenAI shape', async () => {
    const upstream = await start();
    const body = await (await fetch(`${upstream.url}/v1/models`)).json();
    expect(body.object).toBe('list');
    expect(body.data.length).toBeGreaterThan(0);
    for (const model of body.data) {
      expect(model).toMatchObject({ id: expect.any(String), object: 'model', owned_by: 'upstream-sim' });
    }
  });
});

describe('failures', () => {
  it('failNext(2, "error") answers two 500s, then succeeds', async () => {
    const upstream = await start();
    upstream.failNext(2, 'error');
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const response = await chat(upstream, `attempt ${i}`);
      statuses.push(response.status);
      if (response.status === 500) expectOpenAIError(await response.json(), 'server_error');
      else await response.body?.cancel();
    }
    expect(statuses).toEqual([500, 500, 200]);
    expect(upstream.calls.map((call) => call.outcome)).toEqual(['error', 'error', 'ok']);
  });

  it('429 carries Retry-After and the OpenAI rate-limit error', async () => {
    // Rejected before any model work: with this latency applied the test would time out.
    const upstream = await start({ retryAfterSeconds: 7, latencyMs: 600_000 });
    upstream.failNext(1, 'rate_limited');
    const response = await embed(upstream, 'x');
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('7');
    const body = await response.json();
    expectOpenAIError(body, 'requests');
    expect(body.error.code).toBe('rate_limit_exceeded');
    expect(upstream.calls[0]).toMatchObject({ outcome: 'rate_limited', status: 429 });
  });

  it('random rates of 1 fail every call the chosen way', async () => {
    const upstream = await start({ failRate: 1 });
    expect((await embed(upstream, 'a')).status).toBe(500);
    upstream.set({ failRate: 0, rateLimitRate: 1 });
    expect((await embed(upstream, 'a')).status).toBe(429);
    upstream.behaviour.rateLimitRate = 0; // live settings may be mutated directly too
    expect((await embed(upstream, 'a')).status).toBe(200);
  });

  it('random rates produce roughly the configured shares', async () => {
    const upstream = await start({ failRate: 0.3, rateLimitRate: 0.2 });
    const statuses = await Promise.all(Array.from({ length: 400 }, async () => (await embed(upstream, 'a')).status));
    const share = (status: number) => statuses.filter((s) => s === status).length / statuses.length;
    expect(share(500)).toBeGreaterThan(0.2);
    expect(share(500)).toBeLessThan(0.4);
    expect(share(429)).toBeGreaterThan(0.12);
    expect(share(429)).toBeLessThan(0.28);
  });

  it('scripted failures run before random rates', async () => {
    const upstream = await start({ failRate: 1 });
    upstream.failNext(1, 'rate_limited');
    expect((await embed(upstream, 'a')).status).toBe(429);
    expect((await embed(upstream, 'a')).status).toBe(500);
  });

  it('a hang is ended by the client AbortSignal timeout', async () => {
    const upstream = await start();
    upstream.failNext(1, 'hang');
    await expect(embed(upstream, 'a', { signal: AbortSignal.timeout(100) })).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    expect(upstream.calls[0]).toMatchObject({ outcome: 'hang', status: null });
    // The server carries on serving.
    expect((await embed(upstream, 'b')).status).toBe(200);
  });

  it.each([
    ['a hang', { hangRate: 1 }],
    ['a call still waiting out its latency', { latencyMs: 600_000 }],
  ])('close() ends %s', async (_case, behaviour) => {
    const upstream = await start(behaviour);
    const pending = embed(upstream, 'a').then(
      () => 'answered',
      () => 'connection ended',
    );
    await waitFor(() => upstream.calls.length === 1);
    await upstream.close();
    expect(await pending).toBe('connection ended');
  });

  it('rejects invalid behaviour settings', async () => {
    await expect(startUpstream({ failRate: 1.5 })).rejects.toThrow(RangeError);
    const upstream = await start();
    expect(() => upstream.set({ failRate: 0.6, hangRate: 0.6 })).toThrow(RangeError);
    expect(() => upstream.set({ latencyMs: -1 })).toThrow(RangeError);
    expect(() => upstream.set({ retryAfterSeconds: 0.5 })).toThrow(RangeError);
    expect(() => upstream.failNext(-1, 'error')).toThrow(RangeError);
    expect(upstream.behaviour).toMatchObject({ failRate: 0, hangRate: 0, latencyMs: 0, retryAfterSeconds: 1 });
  });
});

describe('latency', () => {
  it('costs latencyMs plus perItemMs per input', async () => {
    const upstream = await start({ latencyMs: 50, perItemMs: 1 });
    const startedAt = performance.now();
    await (await embed(upstream, Array<string>(100).fill('x'))).json();
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(145);

  });

  it('serves concurrent calls in parallel (timers, not busy waiting)', async () => {
    // Served one after another, the first answer would come before the later calls arrived.
    const upstream = await start({ latencyMs: 2_000 });
    let arrivedBeforeFirstAnswer = 0;
    const requests = Array.from({ length: 20 }, (_, i) => chat(upstream, `call ${i}`));
    void requests[0]!.then(() => (arrivedBeforeFirstAnswer = upstream.calls.length));
    const responses = await Promise.all(requests);
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(200));
    expect(arrivedBeforeFirstAnswer).toBe(20);
  });
});

describe('protocol', () => {
  it('requires the bearer API key when one is configured', async () => {
    const upstream = await start({ apiKey: 'sk-test' });
    const missing = await embed(upstream, 'a');
    expect(missing.status).toBe(401);
    expectOpenAIError(await missing.json(), 'invalid_request_error');

    const wrong = await embed(upstream, 'a', { headers: { authorization: 'Bearer sk-wrong' } });
    expect(wrong.status).toBe(401);
    expect((await wrong.json()).error.code).toBe('invalid_api_key');

    expect((await fetch(`${upstream.url}/v1/models`)).status).toBe(401);
    const right = await embed(upstream, 'a', {
      headers: { authorization: 'Bearer sk-test', 'content-type': 'application/json' },
    });
    expect(right.status).toBe(200);
    expect(upstream.calls.map((call) => call.status)).toEqual([401, 401, 200]);
  });

  it('answers malformed JSON with 400 and unknown paths with 404, in OpenAI error shape', async () => {
    const upstream = await start();
    const malformed = await post(upstream, '/embeddings', '{"model": "m", "input": [');
    expect(malformed.status).toBe(400);
    expectOpenAIError(await malformed.json(), 'invalid_request_error');

    const missingInput = await post(upstream, '/embeddings', { model: 'm' });
    expect(missingInput.status).toBe(400);
    expect((await missingInput.json()).error.param).toBe('input');

    const unknown = await fetch(`${upstream.url}/v1/completions-that-do-not-exist`);
    expect(unknown.status).toBe(404);
    expectOpenAIError(await unknown.json(), 'invalid_request_error');
    expect((await fetch(`${upstream.url}/v1/embeddings`)).status).toBe(404); // wrong method

    expect(upstream.calls).toMatchObject([
      { endpoint: 'embeddings', items: 0, outcome: 'error', status: 400, body: '{"model": "m", "input": [' },
      { endpoint: 'embeddings', model: 'm', items: 0, outcome: 'error', status: 400 },
    ]);
  });

  it('keeps connections alive between calls', async () => {
    const upstream = await start();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const request = () =>
      new Promise<{ status?: number; reused: boolean }>((resolve, reject) => {
        const req = get(`${upstream.url}/v1/models`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode, reused: req.reusedSocket }));
        }).on('error', reject);
      });
    try {
      expect(await request()).toEqual({ status: 200, reused: false });
      expect(await request()).toEqual({ status: 200, reused: true });
    } finally {
      agent.destroy();
    }
  });

  it('records every call in order with endpoint, model, items, outcome and body', async () => {
    const upstream = await start();
    upstream.failNext(1, 'error');
    await embed(upstream, ['a', 'b', 'c']);
    await embed(upstream, 'single');
    await chat(upstream, 'hi');
    expect(upstream.calls).toEqual([
      {
        endpoint: 'embeddings',
        model: 'text-embedding-3-small',
        items: 3,
        outcome: 'error',
        status: 500,
        at: expect.any(Number),
        body: { model: 'text-embedding-3-small', input: ['a', 'b', 'c'] },
      },
      expect.objectContaining({ endpoint: 'embeddings', items: 1, outcome: 'ok', status: 200 }),
      expect.objectContaining({ endpoint: 'chat', model: 'gpt-4o-mini', items: 1, outcome: 'ok', status: 200 }),
    ]);
    const [first, , last] = upstream.calls;
    expect(last!.at).toBeGreaterThanOrEqual(first!.at);
  });

  it('reset() clears calls and scripted failures and restores the starting behaviour', async () => {
    const upstream = await start({ latencyMs: 5 });
    const { calls, behaviour } = upstream;
    upstream.set({ latencyMs: 20, failRate: 1 });
    upstream.failNext(3, 'hang');
    await embed(upstream, 'a', { signal: AbortSignal.timeout(50) }).catch(() => undefined);
    upstream.reset();
    // Same objects, so references taken earlier stay live.
    expect(upstream.calls).toBe(calls);
    expect(upstream.behaviour).toBe(behaviour);
    expect(calls).toEqual([]);
    expect(behaviour).toEqual({
      latencyMs: 5,
      perItemMs: 0,
      failRate: 0,
      rateLimitRate: 0,
      retryAfterSeconds: 1,
      hangRate: 0,
    });
    expect((await embed(upstream, 'a')).status).toBe(200);
  });
});

describe('standalone CLI', () => {
  it('prints its URL as one JSON line, serves, and exits 0 on SIGTERM', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const child = spawn(
      'node_modules/.bin/tsx',
      ['test/upstream/main.ts', '--port', '0', '--latency-ms', '50', '--per-item-ms', '0.5'],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const [line] = await once(createInterface({ input: child.stdout }), 'line');
      const { url } = JSON.parse(line);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

      const startedAt = performance.now();
      const response = await fetch(`${url}/v1/embeddings`, {
        method: 'POST',
        body: JSON.stringify({ model: 'm', input: Array<string>(100).fill('x') }),
      });
      expect(response.status).toBe(200);
      await response.json();
      expect(performance.now() - startedAt).toBeGreaterThanOrEqual(95);

      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      expect(await exited).toEqual([0, null]);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
