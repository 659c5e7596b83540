import { z } from 'zod';
import { parseAllowList } from './ssrf.ts';

/**
 * Parses process environment against an app's schema once at start-up. On failure it throws one
 * error whose message lists every offending variable, so a misconfigured deployment fails fast
 * and says what to fix.
 */
export function parseEnv<S extends z.ZodType>(schema: S, source: NodeJS.ProcessEnv = process.env): z.output<S> {
  const parsed = schema.safeParse(source);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.') || '(env)'}: ${issue.message}`);
  throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
}

/** Variables every inferq process reads. */
export const commonEnv = {
  /** Postgres, the system of record. */
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default('postgresql://postgres@127.0.0.1:5432/inferq'),
  /** Redis, used only to deliver work and wake waiters; it may lose its data without losing jobs. */
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  /** Prefix of every BullMQ key; on Redis Cluster make it a hash tag such as `{inferq}`. */
  QUEUE_PREFIX: z.string().min(1).regex(/^[^:]+$/, 'must not contain ":"').default('inferq'),
  /** YAML file declaring models beyond the built-in local ones. */
  INFERQ_MODELS_FILE: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Addresses or CIDRs webhooks may reach although private or loopback (e.g. `127.0.0.0/8` in development). */
  WEBHOOK_ALLOW_PRIVATE: z
    .string()
    .default('')
    .transform((value, ctx) => {
      try {
        return parseAllowList(value);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be comma-separated IP addresses or CIDRs, e.g. 127.0.0.0/8,::1' });
        return z.NEVER;
      }
    }),
  /** Connections each process may open to Postgres. */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
};
