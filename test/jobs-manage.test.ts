import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type Upstream } from './upstream/server.ts';
import { startStack, type Stack } from './support/stack.ts';
import { upstreamModelYaml } from './support/models-yaml.ts';

let stack: Stack;
let upstream: Upstream;
beforeAll(async () => {
  upstream = await startUpstream({ latencyMs: 3_000 });
  stack = await startStack({
    worker: false,
    modelsYaml: `models:\n${upstreamModelYaml('test/slow', upstream.url, { maxBatchSize: 1, maxWaitMs: 0, concurrency: 4, timeoutMs: 10000, retries: 0 })}`,
  });
});
afterAll(async () => {
  await stack?.close();
  await upstream?.close();
});
afterEach(() => stack.stopWorkers());

const submit = async (extra: Record<string, unknown> = {}, apiKey?: string) => {
  const res = await stack.request('POST', '/v1/jobs', { body: { model: 'local/sentiment', input: { text: 'manage me kindly' }, ...extra }, ...(apiKey ? { apiKey } : {}) });
  expect(res.status).toBe(202);
  return res.body.id as string;
};

describe('listing', () => {
  it('lists the tenant\'s jobs newest first with filters and a cursor', async () => {
    const lister = await stack.keyFor('tenant-lister');
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push(await submit({ metadata: { i: String(i) }, ...(i === 4 ? { model: 'local/entities' } : {}) }, lister));
    const page1 = await stack.request('GET', '/v1/jobs?limit=2', { apiKey: lister });
    expect(page1.body.data.map((j: { id: string }) => j.id)).toEqual([ids[4], ids[3]]);
    expect(page1.body.has_more).toBe(true);
    const page2 = await stack.request('GET', `/v1/jobs?limit=2&cursor=${page1.body.next_cursor}`, { apiKey: lister });
    expect(page2.body.data.map((j: { id: string }) => j.id)).toEqual([ids[2], ids[1]]);
    const entities = await stack.request('GET', '/v1/jobs?model=local/entities&status=queued', { apiKey: lister });
    expect(entities.body.data.map((j: { id: string }) => j.id)).toEqual([ids[4]]);
    const none = await stack.request('GET', '/v1/jobs?status=succeeded', { apiKey: lister });
    expect(none.body.data).toEqual([]);
    expect((await stack.request('GET', '/v1/jobs?status=bogus', { apiKey: lister })).status).toBe(400);
    expect((await stack.request('GET', '/v1/jobs?created_after=yesterday', { apiKey: lister })).status).toBe(400);
    // Another tenant sees none of them.
    expect((await stack.request('GET', '/v1/jobs?limit=100')).body.data.some((j: { id: string }) => ids.includes(j.id))).toBe(false);
  });
});

describe('time limits', () => {
  it('expires a job still queued after its ttl_seconds', async () => {
    const id = await submit({ ttl_seconds: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    stack.startWorker();
    const [job] = await stack.waitForJobs([id]);
    expect(job.status).toBe('expired');
    expect(job.output).toBeNull();
  });

  it('fails a job running past its timeout_seconds with `timeout`, and ignores its late result', async () => {
    const id = await submit({ model: 'test/slow', input: { text: 'slow' }, timeout_seconds: 1 });
    stack.startWorker();
    const [job] = await stack.waitForJobs([id], 20_000);
    expect(job.status).toBe('failed');
    expect(job.error.code).toBe('timeout');
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // the upstream answers; the write is refused
    expect((await stack.request('GET', `/v1/jobs/${id}`)).body).toMatchObject({ status: 'failed', output: null });
  });
});

describe('retry and delete', () => {
  it('re-queues a cancelled job with POST /retry and runs it; refuses to retry a queued one (409)', async () => {
    const id = await submit();
    expect((await stack.request('POST', `/v1/jobs/${id}/retry`)).status).toBe(409);
    await stack.request('POST', `/v1/jobs/${id}/cancel`);
    const retried = await stack.request('POST', `/v1/jobs/${id}/retry`);
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ status: 'queued', attempts: 0, completed_at: null });
    stack.startWorker();
    const [job] = await stack.waitForJobs([id]);
    expect(job.status).toBe('succeeded');
  });

  it('DELETE removes input and output now; the job stays for its usage', async () => {
    const id = await submit();
    stack.startWorker();
    await stack.waitForJobs([id]);
    const deleted = await stack.request('DELETE', `/v1/jobs/${id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ id, deleted: true, input: null, output: null, status: 'succeeded' });
    expect((await stack.request('GET', `/v1/jobs/${id}`)).body).toMatchObject({ input: null, output: null, usage: { input_tokens: expect.any(Number) } });
    expect((await stack.request('POST', `/v1/jobs/${id}/retry`)).status).toBe(409);
    expect((await stack.request('DELETE', `/v1/jobs/${id}`, { apiKey: await stack.keyFor('tenant-thief') })).status).toBe(404);
  });

  it('the retention role removes inputs and outputs once the retention period has passed', async () => {
    const id = await submit();
    stack.startWorker({ RETENTION_PERIOD_MS: 1_000, RETENTION_INTERVAL_MS: 200 });
    const [done] = await stack.waitForJobs([id]);
    expect(done.output).not.toBeNull();
    const deadline = Date.now() + 10_000;
    let job = done;
    while (job.input !== null && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      job = (await stack.request('GET', `/v1/jobs/${id}`)).body;
    }
    expect(job).toMatchObject({ input: null, output: null, status: 'succeeded' });
  });
});

describe('responses', () => {
  it('gzips large answers for clients that accept it', async () => {
    for (let i = 0; i < 10; i += 1) await submit();
    const res = await fetch(`${stack.baseUrl}/v1/jobs?limit=10`, { headers: { authorization: `Bearer ${stack.apiKey}`, 'accept-encoding': 'gzip' } });
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect((await res.json()).data).toHaveLength(10);
  });
});
