import { parseArgs } from 'node:util';
import { z } from 'zod';
import { apiKeyScopes, createApiKey, type ApiKeyScope } from '@inferq/core/api-keys';
import { createDb } from '@inferq/core/db';
import { commonEnv, parseEnv } from '@inferq/core/env';

const usage = `Usage:
  inferq keys create --tenant <name> [--scopes jobs:write,jobs:read] [--json]

Creates an API key for the tenant (creating the tenant if new) and prints it once.
Reads DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/inferq).`;

const cliEnv = z.object({ DATABASE_URL: commonEnv.DATABASE_URL });

async function keysCreate(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { tenant: { type: 'string' }, scopes: { type: 'string' }, json: { type: 'boolean', default: false } },
    strict: true,
  });
  const tenant = z.string().trim().min(1).max(128).safeParse(values.tenant);
  if (!tenant.success) {
    process.stderr.write(`--tenant <name> is required (1–128 characters)\n\n${usage}\n`);
    return 2;
  }
  const scopes = (values.scopes ?? 'jobs:write,jobs:read').split(',').map((s) => s.trim());
  const unknown = scopes.filter((scope) => !(apiKeyScopes as readonly string[]).includes(scope));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scope(s): ${unknown.join(', ')}; known: ${apiKeyScopes.join(', ')}\n`);
    return 2;
  }
  const env = parseEnv(cliEnv);
  const db = createDb(env.DATABASE_URL, 1);
  try {
    const created = await createApiKey(db, tenant.data, { scopes: scopes as ApiKeyScope[] });
    if (values.json) process.stdout.write(`${JSON.stringify({ tenant: created.tenant.name, tenant_id: created.tenant.id, key_id: created.keyId, key: created.key })}\n`);
    else process.stdout.write(`API key for tenant "${created.tenant.name}" (shown once, store it now):\n${created.key}\n`);
    return 0;
  } finally {
    await db.$disconnect();
  }
}

/** Runs one CLI command; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [group, command, ...rest] = argv;
  try {
    if (group === 'keys' && command === 'create') return await keysCreate(rest);
    process.stderr.write(`${usage}\n`);
    return argv.length === 0 || group === 'help' || group === '--help' ? 0 : 2;
  } catch (err) {
    process.stderr.write(`inferq: ${(err as Error).message}\n`);
    return 1;
  }
}
