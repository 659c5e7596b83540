import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './support/stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(() => stack?.close());

const body = (text: string) => ({ model: 'local/sentiment', input: { text } });

describe('Idempotency-Key', () => {
  it('returns the original job for the same key and body, and 409 for a different body', async () => {
    const first = await stack.request('POST', '/v1/jobs', { body: body('same'), headers: { 'idempotency-key': 'order-1' } });
    expect(first.status).toBe(202);
    const repeat = await stack.request('POST', '/v1/jobs', { body: { input: { text: 'same' }, model: 'local/sentiment' }, headers: { 'idempotency-key': 'order-1' } });
    expect(repeat.status).toBe(202);
    expect(repeat.body.id).toBe(first.body.id);
    expect(repeat.headers.get('idempotent-replayed')).toBe('true');
    const different = await stack.request('POST', '/v1/jobs', { body: body('different'), headers: { 'idempotency-key': 'order-1' } });
    expect(different.status).toBe(409);
    expect(different.body.errors[0].path).toBe('Idempotency-Key');
    expect(await stack.db.job.count({ where: { input: { equals: { text: 'different' } } } })).toBe(0);
  });

  it('is per tenant: another tenant may use the same key', async () => {
    const mine = await stack.request('POST', '/v1/jobs', { body: body('tenant key'), headers: { 'idempotency-key': 'shared-key' } });
    const other = await stack.request('POST', '/v1/jobs', { body: body('tenant key'), headers: { 'idempotency-key': 'shared-key' }, apiKey: await stack.keyFor('tenant-idem-b') });
    expect(other.status).toBe(202);
    expect(other.body.id).not.toBe(mine.body.id);
  });

  it('works for batches too', async () => {
    const batch = { requests: [{ custom_id: 'x', model: 'local/sentiment', input: { text: 'b' } }] };
    const first = await stack.request('POST', '/v1/batches', { body: batch, headers: { 'idempotency-key': 'batch-1' } });
    const repeat = await stack.request('POST', '/v1/batches', { body: batch, headers: { 'idempotency-key': 'batch-1' } });
    expect(repeat.body.id).toBe(first.body.id);
    expect(await stack.db.batch.count({ where: { id: first.body.id } })).toBe(1);
    const asJob = await stack.request('POST', '/v1/jobs', { body: body('b'), headers: { 'idempotency-key': 'batch-1' } });
    expect(asJob.status).toBe(409);
  });

  it('refuses a malformed key', async () => {
    const res = await stack.request('POST', '/v1/jobs', { body: body('x'), headers: { 'idempotency-key': 'has spaces in it' } });
    expect(res.status).toBe(400);
  });

  it('creates exactly 200 jobs from 1,000 concurrent submits using 200 distinct keys', async () => {
    const tenantKey = await stack.keyFor('tenant-concurrency');
    const tenant = await stack.db.tenant.findUniqueOrThrow({ where: { name: 'tenant-concurrency' } });
    const attempts = Array.from({ length: 1000 }, (_, i) => i % 200);
    const answers = await Promise.all(
      attempts.map((k) => stack.request('POST', '/v1/jobs', { body: body(`payload ${k}`), headers: { 'idempotency-key': `concurrent-${k}` }, apiKey: tenantKey })),
    );
    expect(answers.every((a) => a.status === 202)).toBe(true);
    expect(await stack.db.job.count({ where: { tenantId: tenant.id } })).toBe(200);
    const idsByKey = new Map<number, Set<string>>();
    answers.forEach((a, i) => idsByKey.set(attempts[i]!, (idsByKey.get(attempts[i]!) ?? new Set()).add(a.body.id)));
    expect([...idsByKey.values()].every((ids) => ids.size === 1)).toBe(true);
    expect(answers.filter((a) => a.headers.get('idempotent-replayed') === 'true')).toHaveLength(800);
  });
});
