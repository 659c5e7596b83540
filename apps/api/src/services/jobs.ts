import { ApiError } from '@inferq/core/errors';
import type { Db, Job } from '@inferq/core/db';
import { jobView, type WebhookStatus } from '@inferq/core/job-view';

/** The tenant's job, or a 404 (also for another tenant's job, so ids do not leak). */
export async function findJobOrThrow(db: Db, tenantId: string, id: string): Promise<Job> {
  const job = await db.job.findFirst({ where: { id, tenantId } });
  if (!job) throw new ApiError('not_found', `No job "${id}".`);
  return job;
}

/** Summarises a job's webhook deliveries (per-job URL and endpoints alike) for `webhook_status`. */
export async function webhookStatusOf(db: Db, jobId: string): Promise<WebhookStatus> {
  const deliveries = await db.webhookDelivery.findMany({ where: { jobId }, select: { status: true, attempts: true, lastStatusCode: true, lastError: true } });
  if (deliveries.length === 0) return 'none';
  if (deliveries.some((d) => d.status === 'failed')) return 'failed';
  if (deliveries.every((d) => d.status === 'delivered')) return 'delivered';
  return deliveries.some((d) => d.status === 'pending' && d.attempts > 0 && (d.lastError !== null || d.lastStatusCode !== null)) ? 'failing' : 'pending';
}

/** The job object as the API shows it, with its webhook status. */
export async function fullJobView(db: Db, job: Job) {
  return jobView(job, await webhookStatusOf(db, job.id));
}
