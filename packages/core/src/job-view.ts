import type { Job } from './db.ts';

export type WebhookStatus = 'none' | 'pending' | 'delivered' | 'failing' | 'failed';

export const finalJobStatuses: ReadonlySet<string> = new Set(['succeeded', 'failed', 'cancelled', 'expired']);

/**
 * The public job object of the v1 API (snake_case, timestamps as ISO strings). `webhook_status`
 * summarises its deliveries where the caller knows them; in webhook bodies and pub/sub updates,
 * which are part of the delivery, it is left out.
 */
export function jobView(job: Job, webhookStatus?: WebhookStatus) {
  return {
    id: job.id,
    object: 'job' as const,
    model: job.model,
    status: job.status,
    priority: job.priority,
    input: job.input,
    output: job.output ?? null,
    error: job.errorCode ? { code: job.errorCode, message: job.errorMessage ?? '' } : null,
    usage: job.usage ?? null,
    metadata: job.metadata,
    attempts: job.attempts,
    webhook: job.webhookUrl ? { url: job.webhookUrl, events: job.webhookEvents } : null,
    ...(webhookStatus ? { webhook_status: webhookStatus } : {}),
    created_at: job.createdAt.toISOString(),
    started_at: job.startedAt?.toISOString() ?? null,
    completed_at: job.completedAt?.toISOString() ?? null,
  };
}

export type JobView = ReturnType<typeof jobView>;
