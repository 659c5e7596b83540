import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { verifyWebhook } from '@inferq/sdk';
import { parseAllowList } from '@inferq/core/ssrf';
import { startReceiver, type Receiver } from './support/receiver.ts';
import { queueKeys, startStack, type Stack } from './support/stack.ts';
import { until } from './support/until.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  cleanups.push(() => r.stop());
  return r;
}

const submit = async (stack: Stack, body: Record<string, unknown>) => {
  const res = await stack.request('POST', '/v1/jobs', { body: { model: 'local/sentiment', input: { text: 'webhooks are lovely' }, ...body } });
  expect(res.status).toBe(202);
  return res.body;
};

const deliveriesOf = async (stack: Stack, jobId: string) => (await stack.request('GET', `/v1/jobs/${jobId}/deliveries`)).body.data;


describe('per-job webhooks', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.close());

  it('delivers a Standard Webhooks signed event that an independent implementation verifies', async () => {
    const hooks = await receiver();
    const job = await submit(stack, { webhook: { url: hooks.url } });
    expect(job.webhook).toEqual({ url: hooks.url, events: ['job.succeeded', 'job.failed', 'job.cancelled'] });
    expect(job.webhook_status).toBe('pending');
    const [request] = await hooks.waitFor(1);

    const { secret } = (await stack.request('GET', '/v1/webhook-secret')).body;
    expect(secret).toMatch(/^whsec_/);
    const event = new Webhook(secret).verify(request!.body, request!.headers as Record<string, string>) as { type: string; data: { id: string; status: string; output: { label: string } } };
    expect(event.type).toBe('job.succeeded');
    expect(event.data).toMatchObject({ id: job.id, status: 'succeeded', output: { label: 'positive' } });
    expect(request!.headers['webhook-id']).toMatch(/^msg_/);
    expect(() => new Webhook(secret).verify(request!.body.replace('positive', 'negative'), request!.headers as Record<string, string>)).toThrow();

    const view = await until(() => stack.request('GET', `/v1/jobs/${job.id}`), (res) => res.body.webhook_status === 'delivered');
    expect(view.body.status).toBe('succeeded');

    // Another tenant can neither list this job's deliveries nor redeliver them.
    const other = await stack.keyFor('tenant-webhook-other');
    const [delivery] = await deliveriesOf(stack, job.id);
    expect((await stack.request('GET', `/v1/jobs/${job.id}/deliveries`, { apiKey: other })).status).toBe(404);
    expect((await stack.request('POST', `/v1/deliveries/${delivery.id}/redeliver`, { apiKey: other })).status).toBe(404);
  });

  it('sends only the events asked for, in order', async () => {
    const hooks = await receiver();
    const job = await submit(stack, { webhook: { url: hooks.url, events: ['job.started', 'job.succeeded'] } });
    const requests = await hooks.waitFor(2);
    const types = requests.map((r) => JSON.parse(r.body).type);
    expect(types).toEqual(['job.started', 'job.succeeded']);
    expect(JSON.parse(requests[0]!.body).data.status).toBe('running');
    expect(new Set(requests.map((r) => r.headers['webhook-id'])).size).toBe(2);
    expect((await deliveriesOf(stack, job.id)).map((d: { event_type: string }) => d.event_type)).toEqual(['job.started', 'job.succeeded']);
  });

  it('retries a failing receiver: 3 failures then success give 4 logged attempts under one webhook-id', async () => {
    const hooks = await receiver();
    hooks.respondWith(500, 503, 502);
    const job = await submit(stack, { webhook: { url: hooks.url } });
    const requests = await hooks.waitFor(4);
    expect(new Set(requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
    const { secret } = (await stack.request('GET', '/v1/webhook-secret')).body;
    for (const r of requests) expect(verifyWebhook(secret, r.headers, r.body).data.id).toBe(job.id);

    const [delivery] = await until(() => deliveriesOf(stack, job.id), (d) => d[0]?.status === 'delivered');
    expect(delivery.attempts.map((a: { status_code: number }) => a.status_code)).toEqual([500, 503, 502, 200]);
    expect(delivery.attempts.every((a: { latency_ms: number }) => a.latency_ms >= 0)).toBe(true);
    expect(delivery.id).toBe(requests[0]!.headers['webhook-id']);
  });

  it('gives up after the retry schedule and reports webhook_status failed; redelivery sends it again', async () => {
    const hooks = await receiver();
    hooks.respondWith(500, 500, 500, 500);
    const job = await submit(stack, { webhook: { url: hooks.url } });
    const [failed] = await until(() => deliveriesOf(stack, job.id), (d) => d[0]?.status === 'failed');
    expect(failed.attempts).toHaveLength(4);
    expect((await stack.request('GET', `/v1/jobs/${job.id}`)).body.webhook_status).toBe('failed');

    const redeliver = await stack.request('POST', `/v1/deliveries/${failed.id}/redeliver`);
    expect(redeliver.status).toBe(202);
    const requests = await hooks.waitFor(5);
    expect(requests[4]!.headers['webhook-id']).toBe(failed.id);
    await until(() => stack.request('GET', `/v1/jobs/${job.id}`), (res) => res.body.webhook_status === 'delivered');
  });
});

describe('tenant webhook endpoints', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.close());

  it('subscribes to events of all the tenant\'s jobs with its own secret, and rotates it with an overlap', async () => {
    const hooks = await receiver();
    const created = await stack.request('POST', '/v1/webhook-endpoints', { body: { url: hooks.url, events: ['job.succeeded'] } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ object: 'webhook_endpoint', url: hooks.url, events: ['job.succeeded'], status: 'enabled', secret: expect.stringMatching(/^whsec_/) });
    const listed = await stack.request('GET', '/v1/webhook-endpoints');
    expect(listed.body.data).toHaveLength(1);
    expect(listed.body.data[0].secret).toBeUndefined();

    const first = await submit(stack, {});
    const [request] = await hooks.waitFor(1);
    expect(verifyWebhook(created.body.secret, request!.headers, request!.body).data.id).toBe(first.id);

    const rotated = await stack.request('POST', `/v1/webhook-endpoints/${created.body.id}/rotate-secret`);
    expect(rotated.body.secret).not.toBe(created.body.secret);
    await submit(stack, {});
    const [, afterRotation] = await hooks.waitFor(2);
    expect(String(afterRotation!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(() => new Webhook(rotated.body.secret).verify(afterRotation!.body, afterRotation!.headers as Record<string, string>)).not.toThrow();
    expect(() => new Webhook(created.body.secret).verify(afterRotation!.body, afterRotation!.headers as Record<string, string>)).not.toThrow();

    const otherKey = await stack.keyFor('tenant-other');
    expect((await stack.request('DELETE', `/v1/webhook-endpoints/${created.body.id}`, { apiKey: otherKey })).status).toBe(404);
    expect((await stack.request('DELETE', `/v1/webhook-endpoints/${created.body.id}`)).body.deleted).toBe(true);
    expect((await stack.request('GET', '/v1/webhook-endpoints')).body.data).toHaveLength(0);
  });

  it('disables an endpoint that answers 410 Gone', async () => {
    const hooks = await receiver();
    hooks.respondWith(410);
    const created = await stack.request('POST', '/v1/webhook-endpoints', { body: { url: hooks.url, events: ['job.succeeded', 'job.failed'] } });
    await submit(stack, {});
    await hooks.waitFor(1);
    const endpoint = await until(() => stack.request('GET', '/v1/webhook-endpoints'), (res) => res.body.data.find((e: { id: string }) => e.id === created.body.id)?.status === 'disabled');
    expect(endpoint.body.data.find((e: { id: string }) => e.id === created.body.id).disabled_reason).toMatch(/410/);

    const later = await submit(stack, {});
    await stack.waitForJobs([later.id]);
    expect(await deliveriesOf(stack, later.id)).toEqual([]);
    expect(hooks.requests).toHaveLength(1);
  });
});

describe('a receiver that is down across a worker restart', () => {
  it('still gets the delivery, which lives in Postgres', async () => {
    const stack = await startStack({ worker: { WEBHOOK_RETRY_SCHEDULE_MS: Array(30).fill(200) } });
    cleanups.push(() => stack.close());
    const hooks = await receiver();
    await hooks.stop();
    const job = await submit(stack, { webhook: { url: hooks.url } });
    await until(() => deliveriesOf(stack, job.id), (d) => d[0]?.attempts.length >= 2);
    expect((await stack.request('GET', `/v1/jobs/${job.id}`)).body.webhook_status).toBe('failing');

    // Stop every worker role, bring the receiver back, start a new worker: the delivery resumes.
    await stack.stopWorkers();
    await hooks.start();
    stack.startWorker({ WEBHOOK_RETRY_SCHEDULE_MS: Array(30).fill(200) });
    const [request] = await hooks.waitFor(1);
    expect(JSON.parse(request!.body).data.id).toBe(job.id);
    const [delivery] = await until(() => deliveriesOf(stack, job.id), (d) => d[0]?.status === 'delivered');
    expect(delivery.attempts.at(-1).status_code).toBe(200);
    expect(delivery.attempts.slice(0, -1).every((a: { error: string | null }) => a.error !== null)).toBe(true);
  });
});

describe('SSRF guard', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false, webhookAllow: [] });
  });
  afterAll(() => stack?.close());

  it.each([
    'http://127.0.0.1:9/hook',
    'http://localhost/hook',
    'http://10.0.0.5/hook',
    'http://172.16.3.4/hook',
    'http://192.168.1.1/hook',
    'http://169.254.169.254/latest/meta-data',
    'http://100.64.0.1/hook',
    'http://[::1]/hook',
    'http://[fc00::1]/hook',
    'http://[fe80::1]/hook',
    'http://[::ffff:10.0.0.1]/hook',
    'ftp://example.com/hook',
    'not a url',
  ])('refuses %s at submit with 400 and writes nothing', async (url) => {
    const res = await stack.request('POST', '/v1/jobs', { body: { model: 'local/sentiment', input: { text: 'x' }, webhook: { url } } });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['webhook.url']);
    const endpoint = await stack.request('POST', '/v1/webhook-endpoints', { body: { url, events: ['job.succeeded'] } });
    expect(endpoint.status).toBe(400);
    expect(endpoint.body.errors[0].path).toBe('url');
    expect(await stack.db.job.count()).toBe(0);
    expect(await stack.db.webhookEndpoint.count()).toBe(0);
    expect(await queueKeys(stack)).toEqual([]);
  });

  it.each([
    ['no events', { url: 'https://example.com/h' }, 'events'],
    ['an unknown event', { url: 'https://example.com/h', events: ['job.exploded'] }, 'events.0'],
    ['an unknown field', { url: 'https://example.com/h', events: ['job.failed'], secret: 'mine' }, 'secret'],
  ])('refuses an endpoint with %s (400 naming the field) and stores nothing', async (_case, body, field) => {
    const res = await stack.request('POST', '/v1/webhook-endpoints', { body });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(field);
    expect(await stack.db.webhookEndpoint.count()).toBe(0);
  });

  it('refuses unknown event names', async () => {
    const res = await stack.request('POST', '/v1/jobs', { body: { model: 'local/sentiment', input: { text: 'x' }, webhook: { url: 'https://example.com/h', events: ['job.exploded'] } } });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe('webhook.events.0');
  });

  it('checks the address again at delivery time', async () => {
    // The API allows loopback (as in development) but the worker does not: the delivery is refused when sent.
    const permissive = await startStack({ webhookAllow: parseAllowList('127.0.0.0/8'), worker: { WEBHOOK_ALLOW_PRIVATE: [] } });
    cleanups.push(() => permissive.close());
    const hooks = await receiver();
    const job = await submit(permissive, { webhook: { url: hooks.url } });
    const [delivery] = await until(() => deliveriesOf(permissive, job.id), (d) => d[0]?.status === 'failed');
    expect(delivery.attempts[0].error).toMatch(/refused/);
    expect(hooks.requests).toHaveLength(0);
  });
});
