import type { Job } from '@inferq/core/db';

/** The public job object of the v1 API (snake_case, timestamps as ISO strings). */
export function jobView(job: Job) {
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
    created_at: job.createdAt.toISOString(),
    started_at: job.startedAt?.toISOString() ?? null,
    completed_at: job.completedAt?.toISOString() ?? null,
  };
}

export type JobView = ReturnType<typeof jobView>;
