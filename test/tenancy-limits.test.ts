import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '@inferq/core/api-keys';
import { startStack, type HttpResult, type Stack } from './support/stack.ts';

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, '..');

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(() => stack?.close());

const job = { model: 'local/sentiment', input: { text: 'hello there' } };

describe('API keys', () => {
  it('enforces scopes: a read-only key may read but not submit (403)', async () => {
    const { key } = await createApiKey(stack.db, 'tenant-a', { scopes: ['jobs:read'] });
    expect((await stack.request('GET', '/v1/models', { apiKey: key })).status).toBe(200);
    const submit = await stack.request('POST', '/v1/jobs', { body: job, apiKey: key });
    expect(submit.status).toBe(403);
    expect(submit.body.detail).toMatch(/jobs:write/);
  });

  it('refuses an expired key', async () => {
    const { key } = await createApiKey(stack.db, 'tenant-a', { expiresAt: new Date(Date.now() - 1000) });
    expect((await stack.request('GET', '/v1/models', { apiKey: key })).status).toBe(401);
  });

  it('lists and revokes keys from the CLI; a revoked key is refused', async () => {
    const env = { ...process.env, DATABASE_URL: stack.database.url };
    const created = JSON.parse((await run('npx', ['inferq', 'keys', 'create', '--tenant', 'cli-tenant', '--scopes', 'jobs:read', '--expires-in', '30d', '--json'], { cwd: repoRoot, env })).stdout);
    expect((await stack.request('GET', '/v1/models', { apiKey: created.key })).status).toBe(200);
    const listed = JSON.parse((await run('npx', ['inferq', 'keys', 'list', '--tenant', 'cli-tenant', '--json'], { cwd: repoRoot, env })).stdout);
    expect(listed).toEqual([expect.objectContaining({ key_id: created.key_id, status: 'active', scopes: ['jobs:read'], prefix: created.key.slice(0, 10) })]);
    expect(JSON.stringify(listed)).not.toContain(created.key);
    await run('npx', ['inferq', 'keys', 'revoke', created.key_id], { cwd: repoRoot, env });
    expect((await stack.request('GET', '/v1/models', { apiKey: created.key })).status).toBe(401);
    const again = await run('npx', ['inferq', 'keys', 'revoke', created.key_id], { cwd: repoRoot, env }).catch((err: { code: number }) => err);
    expect((again as { code: number }).code).toBe(2);
  });
});

describe('per-key rate limits', () => {
  it('counts requests per minute in Redis, with X-RateLimit headers, then answers 429 with Retry-After', async () => {
    const { key } = await createApiKey(stack.db, 'tenant-a', { requestsPerMinute: 3 });
    const answers: HttpResult[] = [];
    for (let i = 0; i < 4; i += 1) answers.push(await stack.request('GET', '/v1/models', { apiKey: key }));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
    expect(answers.map((a) => a.headers.get('x-ratelimit-remaining'))).toEqual(['2', '1', '0', '0']);
    expect(answers[0]!.headers.get('x-ratelimit-limit')).toBe('3');
    expect(Number(answers[0]!.headers.get('x-ratelimit-reset'))).toBeGreaterThan(0);
    expect(Number(answers[3]!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(answers[3]!.body.type).toBe('/problems/rate_limited');
    // Another key of the same tenant has its own budget.
    const other = await createApiKey(stack.db, 'tenant-a', { requestsPerMinute: 3 });
    expect((await stack.request('GET', '/v1/models', { apiKey: other.key })).status).toBe(200);
  });

  it('counts input units per minute and refuses a submit past them without writing it', async () => {
    const { key } = await createApiKey(stack.db, 'units-tenant', { unitsPerMinute: 10 });
    const first = await stack.request('POST', '/v1/jobs', { body: { ...job, input: { text: 'x'.repeat(32) } }, apiKey: key });
    expect(first.status).toBe(202);
    const second = await stack.request('POST', '/v1/jobs', { body: { ...job, input: { text: 'x'.repeat(32) } }, apiKey: key });
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).not.toBeNull();
    const tenant = await stack.db.tenant.findUniqueOrThrow({ where: { name: 'units-tenant' } });
    expect(await stack.db.job.count({ where: { tenantId: tenant.id } })).toBe(1);
  });
});

describe('per-tenant limits', () => {
  it('applies backpressure: 429 once the tenant has its maximum of queued jobs', async () => {
    const { key, tenant } = await createApiKey(stack.db, 'capped-tenant');
    await stack.db.tenant.update({ where: { id: tenant.id }, data: { maxQueuedJobs: 2 } });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await stack.request('POST', '/v1/jobs', { body: job, apiKey: key })).status);
    expect(statuses).toEqual([202, 202, 429]);
    const batch = await stack.request('POST', '/v1/batches', { body: { requests: [{ custom_id: 'a', model: job.model, input: job.input }] }, apiKey: key });
    expect(batch.status).toBe(429);
    expect(await stack.db.job.count({ where: { tenantId: tenant.id } })).toBe(2);
  });

  it('refuses submits once the monthly budget is used, and reports usage by model and day', async () => {
    // No worker until both are in: the budget must not be used up between the two submits.
    const budgeted = await startStack({ worker: false });
    try {
      const { key, tenant } = await createApiKey(budgeted.db, 'budget-tenant');
      await budgeted.db.tenant.update({ where: { id: tenant.id }, data: { monthlyBudgetUnits: 5n } });
      const single = await budgeted.request('POST', '/v1/jobs', { body: { ...job, input: { text: 'one two three four five six' } }, apiKey: key });
      const batch = await budgeted.request('POST', '/v1/batches', { body: { requests: [{ custom_id: 'b', model: 'local/entities', input: { text: 'seven eight nine' } }] }, apiKey: key });
      expect([single.status, batch.status]).toEqual([202, 202]);
      budgeted.startWorker();
      await budgeted.waitForJobs([single.body.id, ...(await budgeted.db.job.findMany({ where: { batchId: batch.body.id } })).map((j) => j.id)]);

      const refused = await budgeted.request('POST', '/v1/jobs', { body: job, apiKey: key });
      expect(refused.status).toBe(429);
      expect(refused.body.detail).toMatch(/budget/);

      const today = new Date().toISOString().slice(0, 10);
      const usage = await budgeted.request('GET', `/v1/usage?from=${today}&to=${today}`, { apiKey: key });
      expect(usage.status).toBe(200);
      expect(usage.body.data).toEqual([
        { day: today, model: 'local/entities', jobs: 1, input_tokens: 3, output_tokens: 0, units: 3 },
        { day: today, model: 'local/sentiment', jobs: 1, input_tokens: 6, output_tokens: 0, units: 6 },
      ]);
      // Another tenant's usage is its own.
      expect((await budgeted.request('GET', `/v1/usage?from=${today}&to=${today}`)).body.data).toEqual([]);
      expect((await budgeted.request('GET', '/v1/usage?from=2026-13-01')).status).toBe(400);
    } finally {
      await budgeted.close();
    }
  });
});
