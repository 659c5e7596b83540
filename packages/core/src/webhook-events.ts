import { randomBytes } from 'node:crypto';
import { typeid } from 'typeid-js';
import type { Db, Job } from './db.ts';
import { batchView, requestCounts, type Batch } from './batch-store.ts';
import { jobView } from './job-view.ts';

export const jobEventTypes = ['job.started', 'job.succeeded', 'job.failed', 'job.cancelled'] as const;
export type JobEventType = (typeof jobEventTypes)[number];
export const batchEventTypes = ['batch.completed', 'batch.cancelled', 'batch.expired'] as const;
/** What a tenant's webhook endpoint may subscribe to. */
export const endpointEventTypes = [...jobEventTypes, ...batchEventTypes] as const;

/** What a per-job webhook receives when it names no events. */
export const defaultJobEvents: JobEventType[] = ['job.succeeded', 'job.failed', 'job.cancelled'];

const eventForStatus: Partial<Record<Job['status'], JobEventType>> = {
  running: 'job.started',
  succeeded: 'job.succeeded',
  failed: 'job.failed',
  cancelled: 'job.cancelled',
};

/** A webhook signing secret as Standard Webhooks writes it: `whsec_` + base64 of 32 random bytes. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

type Tx = Pick<Db, 'webhookEndpoint' | 'webhookDelivery' | '$queryRaw'>;

/** The tenant's default secret (it signs per-job webhooks), created on first use; concurrent first uses agree. */
export async function tenantWebhookSecret(db: Pick<Db, 'tenant'>, tenantId: string): Promise<string> {
  const read = async () => (await db.tenant.findUniqueOrThrow({ where: { id: tenantId }, select: { webhookSecret: true } })).webhookSecret;
  const existing = await read();
  if (existing) return existing;
  await db.tenant.updateMany({ where: { id: tenantId, webhookSecret: null }, data: { webhookSecret: newWebhookSecret() } });
  return (await read())!;
}

/**
 * Records the webhook deliveries owed for jobs that just changed status, in the caller's
 * transaction, so an event exists exactly when its transition does. The body is fixed here: every
 * attempt sends (and signs) the same bytes. Returns how many deliveries were created.
 */
export async function insertJobEventDeliveries(tx: Tx, jobs: Job[]): Promise<number> {
  const owed = jobs.flatMap((job) => {
    const type = eventForStatus[job.status];
    return type ? [{ job, type }] : [];
  });
  if (owed.length === 0) return 0;
  const tenantIds = [...new Set(owed.map(({ job }) => job.tenantId))];
  const endpoints = await tx.webhookEndpoint.findMany({
    where: { tenantId: { in: tenantIds }, disabledAt: null },
    select: { id: true, tenantId: true, url: true, events: true },
  });

  const deliveries = owed.flatMap(({ job, type }) => {
    const body = JSON.stringify({ type, timestamp: job.updatedAt.toISOString(), data: jobView(job) });
    const base = { tenantId: job.tenantId, jobId: job.id, eventType: type, body };
    const perJob = job.webhookUrl && (job.webhookEvents.length > 0 ? job.webhookEvents : defaultJobEvents).includes(type) ? [{ ...base, id: newDeliveryId(), url: job.webhookUrl, endpointId: null }] : [];
    const subscribed = endpoints
      .filter((endpoint) => endpoint.tenantId === job.tenantId && endpoint.events.includes(type))
      .map((endpoint) => ({ ...base, id: newDeliveryId(), url: endpoint.url, endpointId: endpoint.id }));
    return [...perJob, ...subscribed];
  });
  if (deliveries.length > 0) await tx.webhookDelivery.createMany({ data: deliveries });
  return deliveries.length;
}

/** Deliveries of `batch.<status>` to the tenants' endpoints for batches that just finished. */
export async function insertBatchEventDeliveries(tx: Tx, batches: Batch[]): Promise<number> {
  if (batches.length === 0) return 0;
  const endpoints = await tx.webhookEndpoint.findMany({
    where: { tenantId: { in: [...new Set(batches.map((b) => b.tenantId))] }, disabledAt: null },
    select: { id: true, tenantId: true, url: true, events: true },
  });
  if (endpoints.length === 0) return 0;
  const counts = await requestCounts(tx, batches);
  const deliveries = batches.flatMap((batch) => {
    const type = `batch.${batch.status}`;
    const body = JSON.stringify({ type, timestamp: (batch.completedAt ?? new Date()).toISOString(), data: batchView(batch, counts.get(batch.id)!) });
    return endpoints
      .filter((endpoint) => endpoint.tenantId === batch.tenantId && endpoint.events.includes(type))
      .map((endpoint) => ({ id: newDeliveryId(), tenantId: batch.tenantId, batchId: batch.id, endpointId: endpoint.id, url: endpoint.url, eventType: type, body }));
  });
  if (deliveries.length > 0) await tx.webhookDelivery.createMany({ data: deliveries });
  return deliveries.length;
}

/** The `webhook-id` of a delivery. */
const newDeliveryId = (): string => typeid('msg').toString();
