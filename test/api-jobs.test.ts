import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './support/stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

describe('submit → batch → store → poll with the embedded local models', () => {
  it('accepts a sentiment job with 202 and a Location, then serves its result', async () => {
    const submit = await stack.request('POST', '/v1/jobs', { body: { model: 'local/sentiment', input: { text: 'I love this wonderful product, it is great!' }, metadata: { team: 'search' } } });
    expect(submit.status).toBe(202);
    expect(submit.headers.get('location')).toBe(`/v1/jobs/${submit.body.id}`);
    expect(submit.body).toMatchObject({ object: 'job', model: 'local/sentiment', status: 'queued', priority: 'interactive', output: null, error: null, metadata: { team: 'search' } });
    expect(submit.body.id).toMatch(/^job_[0-9a-z]{26}$/);

    const [job] = await stack.waitForJobs([submit.body.id]);
    expect(job.status).toBe('succeeded');
    expect(job.output.label).toBe('positive');
    expect(job.output.score).toBeGreaterThan(0);
    expect(job.usage.input_tokens).toBeGreaterThan(5);
    expect(new Date(job.completed_at).getTime()).toBeGreaterThanOrEqual(new Date(job.started_at).getTime());
    expect(new Date(job.started_at).getTime()).toBeGreaterThanOrEqual(new Date(job.created_at).getTime());
  });

  it('labels negative text negative and finds entities', async () => {
    const negative = await stack.request('POST', '/v1/jobs', { body: { model: 'local/sentiment', input: { text: 'This is terrible, awful and sad.' } } });
    const entities = await stack.request('POST', '/v1/jobs', { body: { model: 'local/entities', input: { text: 'The meeting is on 12 March 2025 and costs $40.' }, priority: 'batch' } });
    const [neg, ent] = await stack.waitForJobs([negative.body.id, entities.body.id]);
    expect(neg.output.label).toBe('negative');
    expect(ent.priority).toBe('batch');
    expect(ent.output.entities).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'DATE' }), expect.objectContaining({ type: 'MONEY' })]));
  });

  it('runs a burst of jobs to completion, each with its own result', async () => {
    const texts = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? `I am happy and delighted ${i}` : `I am sad and angry ${i}`));
    const submits = await Promise.all(texts.map((text) => stack.request('POST', '/v1/jobs', { body: { model: 'local/sentiment', input: { text } } })));
    expect(submits.every((s) => s.status === 202)).toBe(true);
    const jobs = await stack.waitForJobs(submits.map((s) => s.body.id));
    jobs.forEach((job, i) => {
      expect(job.status).toBe('succeeded');
      expect(job.input.text).toBe(texts[i]);
      expect(job.output.label).toBe(i % 2 === 0 ? 'positive' : 'negative');
      expect(job.attempts).toBe(1);
    });
  });

  it('lists the configured models', async () => {
    const models = await stack.request('GET', '/v1/models');
    expect(models.status).toBe(200);
    expect(models.body.data.map((m: { id: string }) => m.id)).toEqual(expect.arrayContaining(['local/sentiment', 'local/entities']));
  });
});

describe('tenancy and authentication', () => {
  it('refuses a missing or unknown key with 401 problem+json', async () => {
    for (const apiKey of [null, 'iq_not-a-real-key']) {
      const res = await stack.request('GET', '/v1/models', { apiKey });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body).toMatchObject({ status: 401, type: '/problems/unauthorized' });
    }
  });

  it('hides one tenant\'s jobs from another (404, not 403)', async () => {
    const submit = await stack.request('POST', '/v1/jobs', { body: { model: 'local/sentiment', input: { text: 'private' } } });
    const otherKey = await stack.keyFor('tenant-b');
    const read = await stack.request('GET', `/v1/jobs/${submit.body.id}`, { apiKey: otherKey });
    expect(read.status).toBe(404);
    const cancel = await stack.request('POST', `/v1/jobs/${submit.body.id}/cancel`, { apiKey: otherKey });
    expect(cancel.status).toBe(404);
    const own = await stack.request('GET', `/v1/jobs/${submit.body.id}`);
    expect(own.status).toBe(200);
  });
});

describe('cancel', () => {
  it('cancels a queued job and answers 409 once it is final', async () => {
    const paused = await startStack({ worker: false });
    try {
      const submit = await paused.request('POST', '/v1/jobs', { body: { model: 'local/sentiment', input: { text: 'cancel me' } } });
      const cancel = await paused.request('POST', `/v1/jobs/${submit.body.id}/cancel`);
      expect(cancel.status).toBe(200);
      expect(cancel.body.status).toBe('cancelled');
      expect(cancel.body.completed_at).not.toBeNull();
      const again = await paused.request('POST', `/v1/jobs/${submit.body.id}/cancel`);
      expect(again.status).toBe(409);
      expect(again.body.type).toBe('/problems/conflict');

      // A worker started afterwards must leave the cancelled job alone.
      paused.startWorker();
      const other = await paused.request('POST', '/v1/jobs', { body: { model: 'local/sentiment', input: { text: 'after' } } });
      await paused.waitForJobs([other.body.id]);
      const still = await paused.request('GET', `/v1/jobs/${submit.body.id}`);
      expect(still.body.status).toBe('cancelled');
      expect(still.body.output).toBeNull();
    } finally {
      await paused.close();
    }
  });

  it('answers 409 for a job that already succeeded', async () => {
    const submit = await stack.request('POST', '/v1/jobs', { body: { model: 'local/sentiment', input: { text: 'done quickly' } } });
    await stack.waitForJobs([submit.body.id]);
    const cancel = await stack.request('POST', `/v1/jobs/${submit.body.id}/cancel`);
    expect(cancel.status).toBe(409);
  });
});

describe('health', () => {
  it('reports liveness and readiness with Postgres and Redis up', async () => {
    const health = await stack.request('GET', '/health', { apiKey: null });
    expect(health).toMatchObject({ status: 200, body: { status: 'ok' } });
    const ready = await stack.request('GET', '/ready', { apiKey: null });
    expect(ready).toMatchObject({ status: 200, body: { status: 'ready', checks: { postgres: 'ok', redis: 'ok' } } });
  });

  it('carries a request id on every response, keeping a well-formed one from the client', async () => {
    const generated = await stack.request('GET', '/health');
    expect(generated.headers.get('x-request-id')).toMatch(/^req_/);
    const given = await stack.request('GET', '/v1/jobs/job_missing', { headers: { 'x-request-id': 'client-trace-42' } });
    expect(given.headers.get('x-request-id')).toBe('client-trace-42');
    expect(given.body.request_id).toBe('client-trace-42');
  });
});
