import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { embeddingFor, startUpstream, type Upstream } from './upstream/server.ts';
import { startStack, type Stack } from './support/stack.ts';
import { upstreamModelYaml } from './support/models-yaml.ts';

let upstream: Upstream;
let stack: Stack;

const model = (name: string, kind: 'chat' | 'embeddings', limits: Record<string, number>, keyEnv: string) =>
  upstreamModelYaml(name, upstream.url, { ...limits, apiKeyEnv: keyEnv }, kind);

beforeAll(async () => {
  upstream = await startUpstream({ apiKey: 'sk-test' });
  process.env.SIM_UPSTREAM_KEY = 'sk-test';
  process.env.SIM_WRONG_KEY = 'sk-wrong';
  stack = await startStack({
    modelsYaml: `models:
${model('test/embed', 'embeddings', { maxBatchSize: 32, maxWaitMs: 1000, concurrency: 2, timeoutMs: 5000, retries: 0 }, 'SIM_UPSTREAM_KEY')}
${model('test/chat', 'chat', { maxBatchSize: 8, maxWaitMs: 50, concurrency: 2, timeoutMs: 5000, retries: 0 }, 'SIM_UPSTREAM_KEY')}
${model('test/http-retry', 'embeddings', { maxBatchSize: 4, maxWaitMs: 20, concurrency: 1, timeoutMs: 5000, retries: 2, maxAttempts: 1 }, 'SIM_UPSTREAM_KEY')}
${model('test/job-retry', 'embeddings', { maxBatchSize: 4, maxWaitMs: 20, concurrency: 1, timeoutMs: 5000, retries: 0, maxAttempts: 3 }, 'SIM_UPSTREAM_KEY')}
${model('test/two-attempts', 'embeddings', { maxBatchSize: 4, maxWaitMs: 20, concurrency: 1, timeoutMs: 5000, retries: 0, maxAttempts: 2 }, 'SIM_UPSTREAM_KEY')}
${model('test/short-timeout', 'embeddings', { maxBatchSize: 4, maxWaitMs: 20, concurrency: 1, timeoutMs: 300, retries: 0, maxAttempts: 1 }, 'SIM_UPSTREAM_KEY')}
${model('test/wrong-key', 'embeddings', { maxBatchSize: 4, maxWaitMs: 20, concurrency: 1, timeoutMs: 5000, retries: 2, maxAttempts: 3 }, 'SIM_WRONG_KEY')}
`,
  });
});
afterEach(() => upstream.reset());
afterAll(async () => {
  await stack?.close();
  await upstream?.close();
});

const submit = async (modelName: string, input: unknown) => {
  const res = await stack.request('POST', '/v1/jobs', { body: { model: modelName, input } });
  expect(res.status).toBe(202);
  return res.body.id as string;
};

describe('batching against an OpenAI-compatible upstream', () => {
  it('sends a burst of 100 embedding jobs in at most 6 upstream calls, each result to its own job', async () => {
    const texts = Array.from({ length: 100 }, (_, i) => `document number ${i} about topic ${i % 7}`);
    const ids = await Promise.all(texts.map((text) => submit('test/embed', { text })));
    const jobs = await stack.waitForJobs(ids);

    const calls = upstream.calls.filter((call) => call.endpoint === 'embeddings');
    expect(calls.length).toBeLessThanOrEqual(6);
    expect(calls.reduce((sum, call) => sum + call.items, 0)).toBe(100);
    expect(Math.max(...calls.map((call) => call.items))).toBeLessThanOrEqual(32);
    jobs.forEach((job, i) => {
      expect(job.status).toBe('succeeded');
      expect(job.output.embedding).toEqual(embeddingFor(texts[i]!));
      expect(job.usage.input_tokens).toBeGreaterThan(0);
    });
  });

  it('runs a chat batch as concurrent calls and stores each reply with its token usage', async () => {
    const ids = await Promise.all(
      ['alpha', 'beta', 'gamma'].map((word) => submit('test/chat', { messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: word }], max_tokens: 16 })),
    );
    const jobs = await stack.waitForJobs(ids);
    expect(jobs.map((job) => job.output.message.content)).toEqual(['echo: alpha', 'echo: beta', 'echo: gamma']);
    expect(jobs.every((job) => job.output.finish_reason === 'stop' && job.usage.output_tokens > 0)).toBe(true);
    expect(upstream.calls.filter((call) => call.endpoint === 'chat')).toHaveLength(3);
  });

  it('rejects input the model cannot take at submit, before any upstream call', async () => {
    const res = await stack.request('POST', '/v1/jobs', { body: { model: 'test/chat', input: { messages: [{ role: 'robot', content: 'hi' }] } } });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe('input.messages.0.role');
    expect(upstream.calls).toHaveLength(0);
  });
});

describe('transient upstream failures', () => {
  it('retries 5xx inside one attempt (HTTP retries) and succeeds', async () => {
    upstream.failNext(2, 'error');
    const [job] = await stack.waitForJobs([await submit('test/http-retry', { text: 'flaky' })]);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(upstream.calls.map((call) => call.outcome)).toEqual(['error', 'error', 'ok']);
  });

  it('sends the job back to the queue on 5xx and succeeds on a later attempt', async () => {
    upstream.failNext(2, 'error');
    const [job] = await stack.waitForJobs([await submit('test/job-retry', { text: 'retry me' })]);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 3, error: null });
    expect(job.output.embedding).toEqual(embeddingFor('retry me'));
  });

  it('waits out Retry-After on 429 before the next attempt', async () => {
    upstream.set({ retryAfterSeconds: 1 });
    upstream.failNext(1, 'rate_limited');
    const [job] = await stack.waitForJobs([await submit('test/job-retry', { text: 'rate limited' })]);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 2 });
    const [limited, ok] = upstream.calls;
    expect(limited!.outcome).toBe('rate_limited');
    expect(ok!.outcome).toBe('ok');
    // A lower bound only: the retry may come later on a busy machine, never earlier.
    expect(ok!.at - limited!.at).toBeGreaterThanOrEqual(950);
  });

  it('fails with upstream_error once attempts are used up', async () => {
    upstream.set({ failRate: 1 });
    const [job] = await stack.waitForJobs([await submit('test/two-attempts', { text: 'always failing' })]);
    expect(job.status).toBe('failed');
    expect(job.attempts).toBe(2);
    expect(job.error.code).toBe('upstream_error');
    expect(job.error.message).toMatch(/500/);
    expect(job.output).toBeNull();
    expect(upstream.calls).toHaveLength(2);
  });

  it('fails with upstream_timeout when the upstream hangs past the timeout', async () => {
    upstream.failNext(1, 'hang');
    const [job] = await stack.waitForJobs([await submit('test/short-timeout', { text: 'hang' })]);
    expect(job.status).toBe('failed');
    expect(job.error.code).toBe('upstream_timeout');
  });

  it('does not retry a request the upstream refuses (401) and says why', async () => {
    const [job] = await stack.waitForJobs([await submit('test/wrong-key', { text: 'bad key' })]);
    expect(job.status).toBe('failed');
    expect(job.attempts).toBe(1);
    expect(job.error.code).toBe('upstream_rejected');
    expect(job.error.message).toMatch(/401/);
    expect(upstream.calls).toHaveLength(1);
  });
});
