import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferqClient, InferqError } from '@inferq/sdk';
import { startStack, type Stack } from './support/stack.ts';

let stack: Stack;
beforeAll(async () => {
  // No worker until a test starts one, so a job stays queued while a client waits for it.
  stack = await startStack({ worker: false });
});
afterAll(() => stack?.close());

const submit = async () => {
  const res = await stack.request('POST', '/v1/jobs', { body: { model: 'local/sentiment', input: { text: 'waiting is fine' } } });
  expect(res.status).toBe(202);
  return res.body.id as string;
};

/** Reads an SSE stream until it closes; returns the events. */
async function readEvents(path: string): Promise<{ events: { event: string; data: any }[]; comments: number }> {
  const response = await fetch(`${stack.baseUrl}${path}`, { headers: { authorization: `Bearer ${stack.apiKey}` } });
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const text = await response.text();
  const blocks = text.split('\n\n').filter(Boolean);
  const events = blocks
    .filter((block) => block.startsWith('event:'))
    .map((block) => {
      const [eventLine, dataLine] = block.split('\n');
      return { event: eventLine!.slice('event: '.length), data: JSON.parse(dataLine!.slice('data: '.length)) };
    });
  return { events, comments: blocks.filter((block) => block.startsWith(':')).length };
}

describe('long-poll', () => {
  it('holds GET ?wait=N until the job finishes, then answers with the result', async () => {
    const id = await submit();
    const waiting = stack.request('GET', `/v1/jobs/${id}?wait=30`);
    // The request is in flight while the job is still queued; only then does a worker start.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await stack.db.job.findUniqueOrThrow({ where: { id } })).status).toBe('queued');
    stack.startWorker();
    try {
      const res = await waiting;
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('succeeded');
      expect(res.body.output.label).toBe('positive');
      expect(res.headers.get('preference-applied')).toBe('wait=30');
    } finally {
      await stack.stopWorkers();
    }
  });

  it('honours Prefer: wait=N the same way', async () => {
    const id = await submit();
    const waiting = stack.request('GET', `/v1/jobs/${id}`, { headers: { prefer: 'respond-async, wait=20' } });
    await new Promise((resolve) => setTimeout(resolve, 200));
    stack.startWorker();
    try {
      const res = await waiting;
      expect(res.body.status).toBe('succeeded');
      expect(res.headers.get('preference-applied')).toBe('wait=20');
    } finally {
      await stack.stopWorkers();
    }
  });

  it('ends with the truth from Postgres when no wake-up comes (a lost message)', async () => {
    const id = await submit();
    const waiting = stack.request('GET', `/v1/jobs/${id}?wait=1`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Finished behind inferq's back: no pub/sub message is ever published for it.
    await stack.db.job.update({ where: { id }, data: { status: 'succeeded', output: { label: 'positive', score: 1 }, completedAt: new Date() } });
    const res = await waiting;
    expect(res.body.status).toBe('succeeded');
    expect(res.body.output).toEqual({ label: 'positive', score: 1 });
  });

  it('answers at the deadline with the current job when it is still queued', async () => {
    const id = await submit();
    const res = await stack.request('GET', `/v1/jobs/${id}?wait=1`);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('queued');
  });

  it.each(['wait=61', 'wait=-1', 'wait=soon'])('refuses ?%s with 400 naming wait', async (query) => {
    const id = await submit();
    const res = await stack.request('GET', `/v1/jobs/${id}?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe('wait');
  });
});

describe('server-sent events', () => {
  it('streams queued → running → succeeded and closes after the final event', async () => {
    const id = await submit();
    const stream = readEvents(`/v1/jobs/${id}/events`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    stack.startWorker();
    try {
      const { events } = await stream;
      expect(events.map((e) => e.event)).toEqual(['status', 'status', 'status']);
      expect(events.map((e) => e.data.status)).toEqual(['queued', 'running', 'succeeded']);
      expect(events.every((e) => e.data.id === id)).toBe(true);
      expect(events[2]!.data.output.label).toBe('positive');
    } finally {
      await stack.stopWorkers();
    }
  });

  it('gives a client that connects after the end the final event at once', async () => {
    const id = await submit();
    stack.startWorker();
    try {
      await stack.waitForJobs([id]);
    } finally {
      await stack.stopWorkers();
    }
    const { events } = await readEvents(`/v1/jobs/${id}/events`);
    expect(events.map((e) => e.data.status)).toEqual(['succeeded']);
  });

  it('sends heartbeat comments while the job waits', async () => {
    const id = await submit();
    const stream = readEvents(`/v1/jobs/${id}/events`);
    await new Promise((resolve) => setTimeout(resolve, 700));
    await stack.request('POST', `/v1/jobs/${id}/cancel`);
    const { events, comments } = await stream;
    expect(comments).toBeGreaterThanOrEqual(1);
    expect(events.map((e) => e.data.status)).toEqual(['queued', 'cancelled']);
  });

  it('answers 404 for another tenant\'s job', async () => {
    const id = await submit();
    const other = await stack.keyFor('tenant-z');
    const res = await stack.request('GET', `/v1/jobs/${id}/events`, { apiKey: other });
    expect(res.status).toBe(404);
  });
});

describe('the SDK', () => {
  it('submits, waits with long-poll and returns the result; maps problems to InferqError', async () => {
    const client = new InferqClient({ baseUrl: stack.baseUrl, apiKey: stack.apiKey });
    stack.startWorker();
    try {
      const job = await client.submit({ model: 'local/entities', input: { text: 'Pay $25 by 3 May 2026.' } });
      expect(job.status).toBe('queued');
      const done = await client.waitForJob<{ entities: { type: string }[] }>(job.id, { timeoutMs: 20_000 });
      expect(done.status).toBe('succeeded');
      expect(done.output!.entities.map((e) => e.type)).toEqual(expect.arrayContaining(['MONEY', 'DATE']));
      const error = await client.submit({ model: 'nope', input: {} }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(InferqError);
      expect((error as InferqError).status).toBe(400);
      expect((error as InferqError).problem.errors?.[0]?.path).toBe('model');
    } finally {
      await stack.stopWorkers();
    }
  });
});
