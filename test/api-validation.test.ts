import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueKeys, startStack, type Stack } from './support/stack.ts';

let stack: Stack;
beforeAll(async () => {
  // No worker: nothing may consume what a bad request might have enqueued, so the check is exact.
  stack = await startStack({ worker: false });
});
afterAll(() => stack?.close());

const valid = { model: 'local/sentiment', input: { text: 'fine' } };

interface BadCase {
  name: string;
  status: number;
  field?: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

const cases: BadCase[] = [
  { name: 'malformed JSON', status: 400, rawBody: '{"model": "local/sentiment", "input": ', headers: { 'content-type': 'application/json' } },
  { name: 'a wrong content type', status: 415, rawBody: 'model=local/sentiment', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
  { name: 'a body over the size limit', status: 413, body: { ...valid, input: { text: 'x'.repeat(70 * 1024) } } },
  { name: 'an unknown model', status: 400, field: 'model', body: { ...valid, model: 'no/such-model' } },
  { name: 'a missing model', status: 400, field: 'model', body: { input: valid.input } },
  { name: 'a missing input', status: 400, field: 'input', body: { model: valid.model } },
  { name: 'input of the wrong type', status: 400, field: 'input.text', body: { ...valid, input: { text: 42 } } },
  { name: 'empty text', status: 400, field: 'input.text', body: { ...valid, input: { text: '' } } },
  { name: 'an unknown field in input', status: 400, field: 'input.language', body: { ...valid, input: { text: 'hi', language: 'en' } } },
  { name: 'an unknown top-level field', status: 400, field: 'callback', body: { ...valid, callback: 'x' } },
  { name: 'over-long text', status: 400, field: 'input.text', body: { ...valid, input: { text: 'a'.repeat(10_001) } } },
  { name: 'an invalid priority', status: 400, field: 'priority', body: { ...valid, priority: 'urgent' } },
  { name: 'too many metadata keys', status: 400, field: 'metadata', body: { ...valid, metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) } },
  { name: 'an over-long metadata value', status: 400, field: 'metadata.note', body: { ...valid, metadata: { note: 'v'.repeat(513) } } },
  { name: 'a non-string metadata value', status: 400, field: 'metadata.count', body: { ...valid, metadata: { count: 3 } } },
  { name: 'a JSON array body', status: 400, body: [valid] },
];

describe('POST /v1/jobs refuses bad input with problem+json and changes nothing', () => {
  it.each(cases)('$name → $status', async ({ status, field, body, rawBody, headers }) => {
    const res = await stack.request('POST', '/v1/jobs', { body, rawBody, headers });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body).toMatchObject({ status, type: expect.stringMatching(/^\/problems\//), title: expect.any(String), detail: expect.any(String) });
    if (field) expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(field);
    expect(await stack.db.job.count()).toBe(0);
    expect(await queueKeys(stack)).toEqual([]);
  });

  it('accepts the same request once it is fixed (the cases above fail for the reason named)', async () => {
    const res = await stack.request('POST', '/v1/jobs', { body: valid });
    expect(res.status).toBe(202);
    expect(await stack.db.job.count()).toBe(1);
    expect((await queueKeys(stack)).length).toBeGreaterThan(0);
    await stack.db.job.deleteMany();
    await stack.redis.del(...(await queueKeys(stack)));
  });

  it('answers an unknown job id and an unknown route with 404 problem+json', async () => {
    const job = await stack.request('GET', '/v1/jobs/job_00000000000000000000000000');
    expect(job.status).toBe(404);
    const route = await stack.request('GET', '/v1/nothing-here');
    expect(route.status).toBe(404);
    expect(route.headers.get('content-type')).toContain('application/problem+json');
  });
});
