/**
 * The webhook side of the chaos suite: a receiver on loopback that records (and verifies) every
 * delivery, the set-up that points the platform at it, and the check that every final job was
 * delivered at least once under one stable `webhook-id` per event and destination.
 *
 * Two destinations, so both delivery paths are exercised:
 *   - `<receiver>/job`: the per-job webhook (`webhook: { url }` on POST /v1/jobs), signed with the
 *     tenant's default secret (GET /v1/webhook-secret);
 *   - `<receiver>/endpoint`: a tenant webhook endpoint (POST /v1/webhook-endpoints) subscribed to
 *     job.succeeded and job.failed, which also covers jobs submitted in bulk (batch lines carry no
 *     webhook of their own).
 * Everything that depends on the webhook wire contract lives in this file.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook } from '@inferq/sdk';
import type { Rng } from './rng.ts';

export type Destination = 'job' | 'endpoint';

export interface Delivery {
  at: number;
  destination: Destination | 'unknown';
  webhookId: string | undefined;
  /** What the receiver answered (it fails a share of deliveries on purpose, to exercise retries). */
  answered: number;
  /** The signature checked against the destination's secret when the request arrived (Standard Webhooks, 5-minute tolerance). */
  signature: 'valid' | 'invalid' | 'unchecked';
  signatureError?: string;
  body: unknown;
}

export interface WebhookReceiver {
  /** Base URL; destinations are `${url}/job` and `${url}/endpoint`. */
  url: string;
  deliveries: Delivery[];
  /** Share of deliveries answered 500, so the dispatcher must retry. */
  setFailRate(rate: number): void;
  setSecret(destination: Destination, secret: string): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(rng: Rng, failRate = 0): Promise<WebhookReceiver> {
  const deliveries: Delivery[] = [];
  const secrets = new Map<Destination, string>();
  let rate = failRate;
  const server: Server = createServer((req, res) => {
    void readBody(req).then((raw) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      const destination: Delivery['destination'] = path.endsWith('/job') ? 'job' : path.endsWith('/endpoint') ? 'endpoint' : 'unknown';
      let body: unknown = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        // recorded as raw text; the check reports it as malformed
      }
      const secret = destination === 'unknown' ? undefined : secrets.get(destination);
      let signature: Delivery['signature'] = 'unchecked';
      let signatureError: string | undefined;
      if (secret) {
        try {
          verifyWebhook(secret, req.headers as IncomingHttpHeaders, raw);
          signature = 'valid';
        } catch (err) {
          signature = 'invalid';
          signatureError = (err as Error).message;
        }
      }
      const answered = rng.next() < rate ? 500 : 200;
      deliveries.push({ at: Date.now(), destination, webhookId: header(req, 'webhook-id'), answered, signature, signatureError, body });
      res.writeHead(answered, { 'content-type': 'text/plain' }).end(answered === 200 ? 'ok' : 'try again');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    deliveries,
    setFailRate: (next) => {
      rate = next;
    },
    setSecret: (destination, secret) => {
      secrets.set(destination, secret);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Environment the API and worker processes need to deliver to a loopback receiver, fast. */
export function webhookProcessEnv(): Record<string, string> {
  return {
    // The SSRF guard refuses loopback unless allow-listed.
    WEBHOOK_ALLOW_PRIVATE: '127.0.0.1',
    // Seconds instead of a day, and enough steps to outlast the receiver's injected failures and worker kills.
    WEBHOOK_RETRY_SCHEDULE_MS: '200,500,1000,1000,2000,2000,3000,3000,5000,5000',
    // A killed dispatcher's claim lapses after 3 × this.
    WEBHOOK_TIMEOUT_MS: '2000',
    WEBHOOK_POLL_MS: '200',
  };
}

/** Fields added to a single submit so its events go to the receiver's per-job destination. */
export function webhookRequestFields(receiver: WebhookReceiver): Record<string, unknown> {
  return { webhook: { url: `${receiver.url}/job` } };
}

/** Registers the tenant endpoint and hands both signing secrets to the receiver. */
export async function configureWebhooks(baseUrl: string, apiKey: string, receiver: WebhookReceiver): Promise<void> {
  const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
  const secret = await fetch(`${baseUrl}/v1/webhook-secret`, { headers });
  if (secret.status !== 200) throw new Error(`GET /v1/webhook-secret answered ${secret.status}: ${await secret.text()}`);
  receiver.setSecret('job', ((await secret.json()) as { secret: string }).secret);
  const endpoint = await fetch(`${baseUrl}/v1/webhook-endpoints`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ url: `${receiver.url}/endpoint`, events: ['job.succeeded', 'job.failed', 'batch.completed', 'batch.cancelled', 'batch.expired'] }),
  });
  if (endpoint.status !== 201) throw new Error(`POST /v1/webhook-endpoints answered ${endpoint.status}: ${await endpoint.text()}`);
  receiver.setSecret('endpoint', ((await endpoint.json()) as { secret: string }).secret);
}

/** The job or batch a delivery is about (payload `{ type, timestamp, data: <job or batch> }`). */
export function subjectOfDelivery(body: unknown): string | undefined {
  const id = typeof body === 'object' && body !== null ? (body as { data?: { id?: unknown } }).data?.id : undefined;
  return typeof id === 'string' ? id : undefined;
}

/** The event type of a delivery (`job.succeeded`, `job.failed`, …). */
export function eventOfDelivery(body: unknown): string {
  const type = typeof body === 'object' && body !== null ? (body as { type?: unknown }).type : undefined;
  return typeof type === 'string' ? type : '(untyped)';
}

/** A finished job or batch and where its event must arrive; `status` is its final status (the event must say the same). */
export interface ExpectedDelivery {
  subjectId: string;
  status: string;
  destination: Destination;
}

export interface WebhookFindings {
  /** Expected (job or batch, destination) pairs delivered at least once with a 2xx answer. */
  delivered: number;
  expected: number;
  /** Every delivery request received (including ones the receiver failed on purpose). */
  requests: number;
  undelivered: ExpectedDelivery[];
  /** One event (job, type, destination) seen under more than one webhook-id: retries must reuse the id, and a second id means a second event. */
  unstableIds: string[];
  /** webhook-ids shared by different events. */
  sharedIds: string[];
  /** Deliveries whose event disagrees with the final status (e.g. job.failed for a succeeded job). */
  wrongEvents: string[];
  /** Deliveries with a bad signature, no webhook-id, no subject, or to an unknown path. */
  malformed: string[];
}

export function examineDeliveries(expected: readonly ExpectedDelivery[], deliveries: readonly Delivery[]): WebhookFindings {
  const malformed: string[] = [];
  const idsByEvent = new Map<string, Set<string>>();
  const eventsById = new Map<string, Set<string>>();
  const delivered = new Set<string>();
  const finalStatus = new Map(expected.map((e) => [e.subjectId, e.status]));
  const wrongEvents: string[] = [];
  for (const delivery of deliveries) {
    const subjectId = subjectOfDelivery(delivery.body);
    const event = eventOfDelivery(delivery.body);
    if (!subjectId || !delivery.webhookId || delivery.destination === 'unknown' || delivery.signature !== 'valid') {
      malformed.push(`${delivery.webhookId ?? '(no webhook-id)'} to ${delivery.destination}: subject ${subjectId ?? '(none)'}, signature ${delivery.signature}${delivery.signatureError ? ` (${delivery.signatureError})` : ''}`);
    }
    if (!subjectId) continue;
    const eventKey = `${subjectId} ${event} → ${delivery.destination}`;
    const ids = idsByEvent.get(eventKey) ?? new Set<string>();
    ids.add(delivery.webhookId ?? '(none)');
    idsByEvent.set(eventKey, ids);
    const events = eventsById.get(delivery.webhookId ?? '(none)') ?? new Set<string>();
    events.add(eventKey);
    eventsById.set(delivery.webhookId ?? '(none)', events);
    const status = finalStatus.get(subjectId);
    const [kind, what] = event.split('.');
    if (status && what !== 'started' && what !== status) wrongEvents.push(`${eventKey} (${delivery.webhookId}) but the ${kind} ended ${status}`);
    if (delivery.answered < 300) delivered.add(`${subjectId} ${delivery.destination}`);
  }
  const undelivered = expected.filter((e) => !delivered.has(`${e.subjectId} ${e.destination}`));
  const unstableIds = [...idsByEvent].filter(([, ids]) => ids.size > 1).map(([eventKey, ids]) => `${eventKey}: webhook-ids ${[...ids].join(', ')}`);
  const sharedIds = [...eventsById].filter(([, events]) => events.size > 1).map(([id, events]) => `${id}: ${[...events].join('; ')}`);
  return { delivered: expected.length - undelivered.length, expected: expected.length, requests: deliveries.length, undelivered, unstableIds, sharedIds, wrongEvents, malformed };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
