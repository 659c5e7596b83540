import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type Upstream } from './upstream/server.ts';
import { startStack, type Stack } from './support/stack.ts';
import { upstreamModelYaml } from './support/models-yaml.ts';

let upstream: Upstream;
let stack: Stack;
beforeAll(async () => {
  // A model that does about 150 jobs/s, so a 5,000-job backlog lasts half a minute.
  upstream = await startUpstream({ latencyMs: 50 });
  stack = await startStack({
    modelsYaml: `models:\n${upstreamModelYaml('test/slow', upstream.url, { maxBatchSize: 8, maxWaitMs: 5, concurrency: 1, timeoutMs: 5000, retries: 0 })}`,
  });
});
afterAll(async () => {
  await stack?.close();
  await upstream?.close();
});

describe('fair share between tenants', () => {
  it('runs tenant B\'s 10 jobs while most of tenant A\'s 5,000-job backlog is still queued', async () => {
    const keyA = stack.apiKey;
    const keyB = await stack.keyFor('tenant-b');
    const flood = await stack.request('POST', '/v1/batches', {
      body: { requests: Array.from({ length: 5000 }, (_, i) => ({ custom_id: `a${i}`, model: 'test/slow', input: { text: `flood ${i}` } })) },
      apiKey: keyA,
    });
    expect(flood.status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 500)); // A's backlog is being worked on
    const small = await stack.request('POST', '/v1/batches', {
      body: { requests: Array.from({ length: 10 }, (_, i) => ({ custom_id: `b${i}`, model: 'test/slow', input: { text: `small ${i}` } })) },
      apiKey: keyB,
    });
    expect(small.status).toBe(202);

    const bJobs = (await stack.db.job.findMany({ where: { batchId: small.body.id }, select: { id: true } })).map((job) => job.id);
    await stack.waitForJobs(bJobs, 30_000);
    const aQueued = await stack.db.job.count({ where: { batchId: flood.body.id, status: 'queued' } });
    const bDone = await stack.db.job.count({ where: { batchId: small.body.id, status: 'succeeded' } });
    expect(bDone).toBe(10);
    expect(aQueued).toBeGreaterThan(4000);

    await stack.request('POST', `/v1/batches/${flood.body.id}/cancel`, { apiKey: keyA });
  });
});
