import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './support/stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    modelsYaml: `models:
  - name: test/echo
    provider: local
    task: echo
    maxBatchSize: 500
    maxWaitMs: 20
    concurrency: 2
`,
  });
});
afterAll(() => stack?.close());

const LINES = 50_000;

describe('a 50,000-line batch', () => {
  it('is accepted, counted, run, and its output streamed complete', async () => {
    const body = Array.from({ length: LINES }, (_, i) => JSON.stringify({ custom_id: `row-${i}`, model: 'test/echo', input: { text: `payload ${i}` } })).join('\n');
    const started = performance.now();
    const res = await stack.request('POST', '/v1/batches', { rawBody: body, headers: { 'content-type': 'application/x-ndjson' } });
    const acceptMs = performance.now() - started;
    expect(res.status).toBe(202);
    expect(res.body.request_counts.total).toBe(LINES);
    expect(await stack.db.job.count({ where: { batchId: res.body.id } })).toBe(LINES);
    console.log(`50,000-line batch accepted in ${Math.round(acceptMs)} ms`);

    const deadline = Date.now() + 240_000;
    let batch = res.body;
    while (batch.status !== 'completed' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      batch = (await stack.request('GET', `/v1/batches/${res.body.id}`)).body;
    }
    expect(batch.status).toBe('completed');
    expect(batch.request_counts).toEqual({ total: LINES, succeeded: LINES, failed: 0, cancelled: 0, expired: 0 });
    console.log(`50,000-line batch completed ${Math.round(performance.now() - started)} ms after submit`);

    const output = await fetch(`${stack.baseUrl}/v1/batches/${res.body.id}/output`, { headers: { authorization: `Bearer ${stack.apiKey}` } });
    const seen = new Set<string>();
    let lines = 0;
    for (const line of (await output.text()).split('\n')) {
      if (!line) continue;
      const row = JSON.parse(line);
      expect(row.status).toBe('succeeded');
      expect(row.output.text).toBe(`payload ${row.custom_id.slice(4)}`);
      seen.add(row.custom_id);
      lines += 1;
    }
    expect(lines).toBe(LINES);
    expect(seen.size).toBe(LINES);
  }, 300_000);
});
