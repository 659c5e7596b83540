import type { LookupFunction } from 'node:net';
import got from 'got';
import type { Redis } from 'ioredis';
import type { Db } from '@inferq/core/db';
import { webhooksDueChannel } from '@inferq/core/job-updates';
import type { Logger } from '@inferq/core/logger';
import { parseRetryAfterMs } from '@inferq/core/retry-after';
import { checkWebhookUrl, UnsafeUrlError, type AllowList, type CheckedTarget } from '@inferq/core/ssrf';
import { signWebhook } from '@inferq/core/webhook-signing';
import { tenantWebhookSecret } from '@inferq/core/webhook-events';

export interface WebhookDispatcherDeps {
  db: Db;
  redis: Redis;
  logger: Logger;
  queuePrefix: string;
  allow: AllowList;
  /** Delay before each retry, in ms: attempt n+1 waits schedule[n-1]; after the last one the delivery fails. */
  retryScheduleMs: number[];
  timeoutMs: number;
  concurrency: number;
  pollMs: number;
}

interface DueDelivery {
  id: string;
  url: string;
  body: string;
  attempts: number;
  tenantId: string;
  endpointId: string | null;
}

type AttemptResult =
  | { kind: 'delivered'; statusCode: number }
  | { kind: 'gone'; statusCode: number }
  | { kind: 'retry'; statusCode?: number; error: string; retryAfterMs?: number }
  | { kind: 'refused'; error: string };

/** Takes due deliveries for this process; the claim lasts past the send timeout so no one else sends them meanwhile. */
function claimDue(deps: WebhookDispatcherDeps, limit: number): Promise<DueDelivery[]> {
  const claimMs = deps.timeoutMs * 3;
  return deps.db.$queryRaw<DueDelivery[]>`
    UPDATE webhook_deliveries AS d
       SET attempts = d.attempts + 1, next_attempt_at = now() + ${claimMs} * interval '1 millisecond'
     WHERE d.id IN (SELECT id FROM webhook_deliveries
                     WHERE status = 'pending' AND next_attempt_at <= now()
                  ORDER BY next_attempt_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
 RETURNING d.id, d.url, d.body, d.attempts, d.tenant_id AS "tenantId", d.endpoint_id AS "endpointId"`;
}

/** The secrets that sign a delivery: the endpoint's (both, during a rotation) or the tenant's default. Null when the endpoint is disabled. */
async function signingSecrets(db: Db, delivery: DueDelivery): Promise<string[] | null> {
  if (delivery.endpointId) {
    const endpoint = await db.webhookEndpoint.findUnique({ where: { id: delivery.endpointId } });
    if (!endpoint || endpoint.disabledAt) return null;
    const rotating = endpoint.previousSecret && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > new Date();
    return rotating ? [endpoint.secret, endpoint.previousSecret!] : [endpoint.secret];
  }
  return [await tenantWebhookSecret(db, delivery.tenantId)];
}

/** Connects to the address that passed the SSRF check, whatever DNS would answer now. */
const pinnedLookup = (target: CheckedTarget): LookupFunction => (_hostname, options, callback) => {
  if (options.all) (callback as (err: null, addresses: { address: string; family: number }[]) => void)(null, [{ address: target.address, family: target.family }]);
  else callback(null, target.address, target.family);
};

async function send(deps: WebhookDispatcherDeps, delivery: DueDelivery, secrets: string[]): Promise<AttemptResult> {
  let target: CheckedTarget;
  try {
    target = await checkWebhookUrl(delivery.url, deps.allow);
  } catch (err) {
    const message = (err as Error).message;
    // A name that does not resolve may resolve later; an address we refuse will not become safe.
    return err instanceof UnsafeUrlError && !/does not resolve|has no address/.test(message) ? { kind: 'refused', error: `refused: ${message}` } : { kind: 'retry', error: message };
  }
  const timestamp = Math.floor(Date.now() / 1000);
  try {
    const response = await got.post(target.url, {
      body: delivery.body,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'inferq-webhooks/1',
        'webhook-id': delivery.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(secrets, delivery.id, timestamp, delivery.body),
      },
      dnsLookup: pinnedLookup(target),
      timeout: { request: deps.timeoutMs },
      followRedirect: false,
      throwHttpErrors: false,
      retry: { limit: 0 },
    });
    const statusCode = response.statusCode;
    if (statusCode >= 200 && statusCode < 300) return { kind: 'delivered', statusCode };
    if (statusCode === 410) return { kind: 'gone', statusCode };
    const wait = statusCode === 429 || statusCode === 503 ? parseRetryAfterMs(response.headers['retry-after']) : undefined;
    return { kind: 'retry', statusCode, error: `receiver answered ${statusCode}`, retryAfterMs: wait };
  } catch (err) {
    return { kind: 'retry', error: (err as Error).message };
  }
}

/** When the next attempt is due: the schedule's delay with ±10 % jitter, or the receiver's Retry-After if longer. */
function nextDelayMs(schedule: number[], attempts: number, retryAfter: number | undefined): number | undefined {
  const base = schedule[attempts - 1];
  if (base === undefined) return undefined;
  return Math.max(Math.round(base * (0.9 + Math.random() * 0.2)), retryAfter ?? 0);
}

async function record(deps: WebhookDispatcherDeps, delivery: DueDelivery, result: AttemptResult, latencyMs: number): Promise<void> {
  const { db } = deps;
  const statusCode = 'statusCode' in result ? (result.statusCode ?? null) : null;
  const error = 'error' in result ? result.error : result.kind === 'gone' ? 'receiver answered 410 Gone' : null;
  const delay = result.kind === 'retry' ? nextDelayMs(deps.retryScheduleMs, delivery.attempts, result.retryAfterMs) : undefined;
  const status = result.kind === 'delivered' ? 'delivered' : delay === undefined ? 'failed' : 'pending';
  await db.$transaction([
    db.webhookAttempt.create({ data: { deliveryId: delivery.id, statusCode, latencyMs: Math.round(latencyMs), error } }),
    // Conditional on this claim's attempt number: a dispatcher whose claim lapsed cannot overwrite a newer attempt.
    db.webhookDelivery.updateMany({
      where: { id: delivery.id, attempts: delivery.attempts, status: 'pending' },
      data: {
        status,
        lastStatusCode: statusCode,
        lastError: error,
        ...(status === 'delivered' ? { deliveredAt: new Date() } : {}),
        ...(status === 'pending' ? { nextAttemptAt: new Date(Date.now() + delay!) } : {}),
      },
    }),
    ...(result.kind === 'gone' && delivery.endpointId
      ? [db.webhookEndpoint.updateMany({ where: { id: delivery.endpointId, disabledAt: null }, data: { disabledAt: new Date(), disabledReason: 'the receiver answered 410 Gone' } })]
      : []),
  ]);
  const log = deps.logger.child({ deliveryId: delivery.id, url: delivery.url, attempt: delivery.attempts });
  if (status === 'delivered') log.info({ statusCode, latencyMs: Math.round(latencyMs) }, 'webhook delivered');
  else log.warn({ statusCode, error, nextAttemptInMs: delay }, status === 'failed' ? 'webhook delivery failed for good' : 'webhook delivery will be retried');
}

/** Sends one round of due deliveries; returns how many were attempted. */
export async function dispatchDueOnce(deps: WebhookDispatcherDeps): Promise<number> {
  const due = await claimDue(deps, deps.concurrency);
  // Deliveries of one round often share an endpoint or tenant: look each one's secrets up once.
  const secretsOf = new Map<string, Promise<string[] | null>>();
  const lookup = (delivery: DueDelivery) => {
    const key = delivery.endpointId ?? `tenant:${delivery.tenantId}`;
    let secrets = secretsOf.get(key);
    if (!secrets) secretsOf.set(key, (secrets = signingSecrets(deps.db, delivery)));
    return secrets;
  };
  await Promise.all(
    due.map(async (delivery) => {
      const secrets = await lookup(delivery);
      const started = performance.now();
      const result: AttemptResult = secrets ? await send(deps, delivery, secrets) : { kind: 'refused', error: 'the endpoint is disabled' };
      await record(deps, delivery, result, performance.now() - started);
    }),
  );
  return due.length;
}

/** Sends deliveries as they fall due: woken over pub/sub when new ones exist, polling as a fallback. */
export function startWebhookDispatcher(deps: WebhookDispatcherDeps) {
  const subscriber = deps.redis.duplicate();
  let wake: (() => void) | undefined;
  let stopped = false;
  subscriber.on('error', (err: Error) => deps.logger.warn({ err: err.message }, 'webhook wake-up subscription error'));
  subscriber.on('message', () => wake?.());
  subscriber.subscribe(webhooksDueChannel(deps.queuePrefix)).catch((err: unknown) => deps.logger.warn({ err }, 'cannot subscribe to webhook wake-ups; polling only'));

  const loop = (async () => {
    while (!stopped) {
      let sent = 0;
      try {
        sent = await dispatchDueOnce(deps);
      } catch (err) {
        deps.logger.error({ err }, 'webhook dispatch round failed');
      }
      if (sent === 0 && !stopped) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deps.pollMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    }
  })();

  return {
    async close(): Promise<void> {
      stopped = true;
      wake?.();
      await loop;
      subscriber.disconnect();
    },
  };
}
