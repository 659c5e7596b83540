import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, type Receiver } from './support/receiver.ts';
import { queueKeys, startStack, type Stack } from './support/stack.ts';
import { until } from './support/until.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.stop();
});

const ndjson = (lines: unknown[]) => lines.map((line) => JSON.stringify(line)).join('\n');
const postNdjson = (body: string, query = '', headers: Record<string, string> = {}) =>
  stack.request('POST', `/v1/batches${query}`, { rawBody: body, headers: { 'content-type': 'application/x-ndjson', ...headers } });


const outputLines = async (batchId: string) => {
  const res = await fetch(`${stack.baseUrl}/v1/batches/${batchId}/output`, { headers: { authorization: `Bearer ${stack.apiKey}` } });
  expect(res.headers.get('content-type')).toContain('application/x-ndjson');
  return (await res.text()).split('\n').filter(Boolean).map((line) => JSON.parse(line));
};

describe('bulk batches', () => {
  it('accepts an NDJSON batch, runs it at batch priority, counts it and streams its output', async () => {
    const lines = Array.from({ length: 200 }, (_, i) => ({ custom_id: `req-${i}`, model: i % 2 ? 'local/sentiment' : 'local/entities', input: { text: `Line ${i} is great, due 1 May 2026.` } }));
    const res = await postNdjson(ndjson(lines), `?completion_window=2h&metadata=${encodeURIComponent(JSON.stringify({ project: 'nightly' }))}`);
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe(`/v1/batches/${res.body.id}`);
    expect(res.body).toMatchObject({ object: 'batch', status: 'in_progress', request_counts: { total: 200 }, metadata: { project: 'nightly' }, completion_window: '7200s' });
    expect(new Date(res.body.expires_at).getTime() - new Date(res.body.created_at).getTime()).toBeGreaterThan(7_000_000);

    const done = await until(() => stack.request('GET', `/v1/batches/${res.body.id}`), (r) => r.body.status === 'completed', 60_000);
    expect(done.body.request_counts).toEqual({ total: 200, succeeded: 200, failed: 0, cancelled: 0, expired: 0 });
    expect(done.body.completed_at).not.toBeNull();

    const output = await outputLines(res.body.id);
    expect(output).toHaveLength(200);
    expect(new Set(output.map((line) => line.custom_id))).toEqual(new Set(lines.map((l) => l.custom_id)));
    const one = output.find((line) => line.custom_id === 'req-1');
    expect(one).toMatchObject({ status: 'succeeded', error: null, output: { label: 'positive' } });
    const job = await stack.request('GET', `/v1/jobs/${one.job_id}`);
    expect(job.body.priority).toBe('batch');
  });

  it('accepts JSON { requests } too', async () => {
    const res = await stack.request('POST', '/v1/batches', { body: { requests: [{ custom_id: 'a', model: 'local/sentiment', input: { text: 'fine' } }], metadata: { k: 'v' } } });
    expect(res.status).toBe(202);
    expect(res.body.request_counts.total).toBe(1);
  });

  it('refuses the whole batch for any bad line, naming each line and reason, and creates nothing', async () => {
    // Let earlier batches finish, so the only change that could show is one this request made.
    await stack.waitForJobs((await stack.db.job.findMany({ select: { id: true } })).map((job) => job.id));
    const queueEntries = async () => (await queueKeys(stack)).filter((key) => /:job_[0-9a-z]+$/.test(key)).length;
    const before = { jobs: await stack.db.job.count(), batches: await stack.db.batch.count(), entries: await queueEntries() };
    const body = [
      JSON.stringify({ custom_id: 'ok-1', model: 'local/sentiment', input: { text: 'good' } }),
      '{"custom_id": "broken", ',
      JSON.stringify({ custom_id: 'bad-model', model: 'nope/model', input: { text: 'x' } }),
      JSON.stringify({ custom_id: 'bad-input', model: 'local/sentiment', input: { text: '' } }),
      JSON.stringify({ custom_id: 'ok-1', model: 'local/sentiment', input: { text: 'dup' } }),
      JSON.stringify({ model: 'local/sentiment', input: { text: 'no id' } }),
    ].join('\n');
    const res = await postNdjson(body);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const paths = res.body.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['line 2', 'line 3.model', 'line 4.input.text', 'line 5.custom_id', 'line 6.custom_id']));
    expect(paths.some((p: string) => p.startsWith('line 1'))).toBe(false);
    expect(await stack.db.job.count()).toBe(before.jobs);
    expect(await stack.db.batch.count()).toBe(before.batches);
    expect(await queueEntries()).toBe(before.entries);
  });

  it.each([
    ['an empty body', '', ''],
    ['a bad completion window', ndjson([{ custom_id: 'a', model: 'local/sentiment', input: { text: 'x' } }]), '?completion_window=forever'],
    ['bad metadata', ndjson([{ custom_id: 'a', model: 'local/sentiment', input: { text: 'x' } }]), '?metadata=notjson'],
  ])('refuses %s with 400', async (_name, body, query) => {
    const res = await postNdjson(body, query);
    expect(res.status).toBe(400);
  });

  it('cancels a batch: queued jobs are cancelled, the batch ends cancelled, an endpoint hears batch.cancelled', async () => {
    const hooks = await startReceiver();
    receivers.push(hooks);
    await stack.request('POST', '/v1/webhook-endpoints', { body: { url: hooks.url, events: ['batch.cancelled', 'batch.completed'] } });
    const paused = await startStack({ worker: false });
    try {
      await paused.request('POST', '/v1/webhook-endpoints', { body: { url: hooks.url, events: ['batch.cancelled'] } });
      const res = await paused.request('POST', '/v1/batches', { body: { requests: Array.from({ length: 30 }, (_, i) => ({ custom_id: `c${i}`, model: 'local/sentiment', input: { text: 'x' } })) } });
      const cancel = await paused.request('POST', `/v1/batches/${res.body.id}/cancel`);
      expect(cancel.status).toBe(200);
      expect(cancel.body.status).toBe('cancelled');
      expect(cancel.body.request_counts).toMatchObject({ total: 30, cancelled: 30 });
      expect((await paused.request('POST', `/v1/batches/${res.body.id}/cancel`)).status).toBe(409);
      paused.startWorker(); // the webhook dispatcher runs in the worker
      const [request] = await hooks.waitFor(1);
      expect(JSON.parse(request!.body)).toMatchObject({ type: 'batch.cancelled', data: { id: res.body.id, status: 'cancelled' } });
    } finally {
      await paused.close();
    }
  });

  it('expires jobs not started when the completion window closes', async () => {
    const paused = await startStack({ worker: false });
    try {
      const res = await paused.request('POST', '/v1/batches', { body: { requests: [{ custom_id: 'late', model: 'local/sentiment', input: { text: 'x' } }], completion_window: '60s' } });
      // The window closes (moved into the past) before any worker ran; the reconciler expires the job.
      await paused.db.$executeRaw`UPDATE jobs SET expires_at = now() - interval '1 second' WHERE batch_id = ${res.body.id}`;
      paused.startWorker();
      const batch = await until(() => paused.request('GET', `/v1/batches/${res.body.id}`), (r) => r.body.status === 'expired', 20_000);
      expect(batch.body.request_counts).toMatchObject({ total: 1, expired: 1 });
      const [line] = await (async () => {
        const out = await fetch(`${paused.baseUrl}/v1/batches/${res.body.id}/output`, { headers: { authorization: `Bearer ${paused.apiKey}` } });
        return (await out.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
      })();
      expect(line).toMatchObject({ custom_id: 'late', status: 'expired', output: null });
    } finally {
      await paused.close();
    }
  });

  it('lists batches newest first with cursor pagination and hides other tenants\' batches', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push((await stack.request('POST', '/v1/batches', { body: { requests: [{ custom_id: 'x', model: 'local/sentiment', input: { text: 'x' } }] } })).body.id);
    const first = await stack.request('GET', '/v1/batches?limit=2');
    expect(first.body.data.map((b: { id: string }) => b.id)).toEqual([ids[2], ids[1]]);
    expect(first.body.has_more).toBe(true);
    const second = await stack.request('GET', `/v1/batches?limit=2&cursor=${first.body.next_cursor}`);
    expect(second.body.data[0].id).toBe(ids[0]);

    const other = await stack.keyFor('tenant-batches-other');
    expect((await stack.request('GET', `/v1/batches/${ids[0]}`, { apiKey: other })).status).toBe(404);
    expect((await stack.request('GET', `/v1/batches/${ids[0]}/output`, { apiKey: other })).status).toBe(404);
    expect((await stack.request('POST', `/v1/batches/${ids[0]}/cancel`, { apiKey: other })).status).toBe(404);
    expect((await stack.request('GET', '/v1/batches', { apiKey: other })).body.data).toEqual([]);
  });
});
