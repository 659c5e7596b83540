import type { Router } from 'express';
import { z } from 'zod';
import type { ApiDeps } from '../deps.ts';
import { tenantOf } from '../middleware/auth.ts';
import { parseOrThrow } from '../validation.ts';

const day = z.iso.date();

export const usageQuerySchema = z
  .strictObject({ from: day.optional(), to: day.optional() })
  .refine((q) => !q.from || !q.to || q.from <= q.to, { message: 'from must not be after to', path: ['from'] });

/**
 * GET /v1/usage?from=YYYY-MM-DD&to=YYYY-MM-DD: the tenant's usage by model and day (UTC) of
 * completion, from the jobs themselves, so single and batch jobs count once each. Default: the
 * last 30 days.
 */
export function registerV1UsageGet(router: Router, deps: ApiDeps): void {
  router.get('/v1/usage', async (req, res) => {
    const query = parseOrThrow(usageQuerySchema, req.query);
    const to = query.to ?? new Date().toISOString().slice(0, 10);
    const from = query.from ?? new Date(Date.parse(to) - 29 * 86_400_000).toISOString().slice(0, 10);
    const rows = await deps.db.$queryRaw<{ day: string; model: string; jobs: number; input_tokens: bigint; output_tokens: bigint }[]>`
      SELECT to_char(completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, model, count(*)::int AS jobs,
             COALESCE(sum((usage->>'input_tokens')::bigint), 0)::bigint AS input_tokens,
             COALESCE(sum((usage->>'output_tokens')::bigint), 0)::bigint AS output_tokens
        FROM jobs
       WHERE tenant_id = ${tenantOf(req)} AND usage IS NOT NULL
         AND completed_at >= ${from}::date AT TIME ZONE 'UTC' AND completed_at < (${to}::date + 1) AT TIME ZONE 'UTC'
    GROUP BY 1, 2
    ORDER BY 1, 2`;
    res.json({
      object: 'usage',
      from,
      to,
      data: rows.map((row) => ({ day: row.day, model: row.model, jobs: row.jobs, input_tokens: Number(row.input_tokens), output_tokens: Number(row.output_tokens), units: Number(row.input_tokens + row.output_tokens) })),
    });
  });
}
