import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueCounts } from '@inferq/api/services/queue-counts';
import { startStack, type Stack } from './support/stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ worker: false, authCacheMs: 60_000 });
});
afterAll(() => stack?.close());

describe('per-process caches that keep Postgres off the submit path', () => {
  it('counts a tenant\'s queued jobs once per period and moves the count forward by what this process accepted', async () => {
    const tenant = await stack.db.tenant.findUniqueOrThrow({ where: { name: 'tenant-a' } });
    for (let i = 0; i < 3; i += 1) await stack.request('POST', '/v1/jobs', { body: { model: 'local/sentiment', input: { text: `n${i}` } } });
    const counts = new QueueCounts(stack.db, 60_000);
    expect(await counts.queued(tenant.id)).toBe(3);
    expect(await counts.queued(tenant.id, 'local/sentiment')).toBe(3);
    // A job accepted elsewhere is not seen until the period ends; one accepted here is.
    await stack.request('POST', '/v1/jobs', { body: { model: 'local/sentiment', input: { text: 'elsewhere' } } });
    expect(await counts.queued(tenant.id)).toBe(3);
    counts.added(tenant.id, 'local/sentiment', 2);
    expect(await counts.queued(tenant.id)).toBe(5);
    expect(await counts.queued(tenant.id, 'local/sentiment')).toBe(5);
    expect(await new QueueCounts(stack.db, 0).queued(tenant.id)).toBe(4);
  });

  it('trusts a key it has seen valid for the cache period, and looks unknown keys up every time', async () => {
    const key = await stack.keyFor('tenant-cached');
    expect((await stack.request('GET', '/v1/models', { apiKey: key })).status).toBe(200);
    await stack.db.apiKey.updateMany({ where: { tenant: { name: 'tenant-cached' } }, data: { revokedAt: new Date() } });
    // Within AUTH_CACHE_MS the revoked key still works (the documented delay) ...
    expect((await stack.request('GET', '/v1/models', { apiKey: key })).status).toBe(200);
    // ... while a key never seen is checked against Postgres.
    const fresh = await stack.keyFor('tenant-cached-2');
    await stack.db.apiKey.updateMany({ where: { tenant: { name: 'tenant-cached-2' } }, data: { revokedAt: new Date() } });
    expect((await stack.request('GET', '/v1/models', { apiKey: fresh })).status).toBe(401);
  });
});
