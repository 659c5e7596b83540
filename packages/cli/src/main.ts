import { parseArgs } from 'node:util';
import { z } from 'zod';
import { apiKeyScopes, createApiKey, type ApiKeyScope } from '@inferq/core/api-keys';
import { createDb, type Db } from '@inferq/core/db';
import { commonEnv, parseEnv } from '@inferq/core/env';

const usage = `Usage:
  inferq keys create --tenant <name> [--scopes jobs:write,jobs:read,admin] [--expires-in 30d]
                     [--requests-per-minute N] [--units-per-minute N] [--json]
  inferq keys list --tenant <name> [--json]
  inferq keys revoke <key_id>
  inferq tenants set --tenant <name> [--max-queued-jobs N|default] [--monthly-budget-units N|none]

Keys are shown once at creation and stored hashed. Reads DATABASE_URL
(default postgresql://postgres@127.0.0.1:5432/inferq).`;

class UsageError extends Error {}

const tenantName = z.string().trim().min(1).max(128);
const positiveInt = z.coerce.number().int().min(1);
const duration = z
  .string()
  .regex(/^\d+[mhd]$/, 'a duration such as 90m, 12h or 30d')
  .transform((value) => Number(value.slice(0, -1)) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[value.at(-1) as 'm' | 'h' | 'd']);

function parse<T>(schema: z.ZodType<T>, value: unknown, flag: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new UsageError(`${flag}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

const print = (json: boolean, value: unknown, text: string) => process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`);

async function keysCreate(db: Db, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { tenant: { type: 'string' }, scopes: { type: 'string' }, 'expires-in': { type: 'string' }, 'requests-per-minute': { type: 'string' }, 'units-per-minute': { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const tenant = parse(tenantName, values.tenant, '--tenant <name>');
  const scopes = (values.scopes ?? 'jobs:write,jobs:read').split(',').map((s) => s.trim());
  const unknown = scopes.filter((scope) => !(apiKeyScopes as readonly string[]).includes(scope));
  if (unknown.length > 0) throw new UsageError(`unknown scope(s): ${unknown.join(', ')}; known: ${apiKeyScopes.join(', ')}`);
  const created = await createApiKey(db, tenant, {
    scopes: scopes as ApiKeyScope[],
    ...(values['expires-in'] ? { expiresAt: new Date(Date.now() + parse(duration, values['expires-in'], '--expires-in')) } : {}),
    ...(values['requests-per-minute'] ? { requestsPerMinute: parse(positiveInt, values['requests-per-minute'], '--requests-per-minute') } : {}),
    ...(values['units-per-minute'] ? { unitsPerMinute: parse(positiveInt, values['units-per-minute'], '--units-per-minute') } : {}),
  });
  print(values.json, { tenant: created.tenant.name, tenant_id: created.tenant.id, key_id: created.keyId, key: created.key }, `API key ${created.keyId} for tenant "${created.tenant.name}" (shown once, store it now):\n${created.key}`);
}

async function keysList(db: Db, args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { tenant: { type: 'string' }, json: { type: 'boolean', default: false } } });
  const tenant = await db.tenant.findUnique({ where: { name: parse(tenantName, values.tenant, '--tenant <name>') }, include: { apiKeys: { orderBy: { createdAt: 'asc' } } } });
  if (!tenant) throw new UsageError(`no tenant "${values.tenant}"`);
  const keys = tenant.apiKeys.map((key) => ({
    key_id: key.id,
    prefix: key.keyPrefix,
    scopes: key.scopes,
    status: key.revokedAt ? 'revoked' : key.expiresAt && key.expiresAt <= new Date() ? 'expired' : 'active',
    created_at: key.createdAt.toISOString(),
    expires_at: key.expiresAt?.toISOString() ?? null,
    requests_per_minute: key.requestsPerMinute,
    units_per_minute: key.unitsPerMinute,
  }));
  print(values.json, keys, keys.map((k) => `${k.key_id}  ${k.prefix}…  ${k.status.padEnd(7)}  ${k.scopes.join(',')}  created ${k.created_at}${k.expires_at ? `  expires ${k.expires_at}` : ''}`).join('\n') || '(no keys)');
}

async function keysRevoke(db: Db, args: string[]): Promise<void> {
  const keyId = parse(z.string().regex(/^key_/, 'a key id (key_…)'), args[0], '<key_id>');
  const { count } = await db.apiKey.updateMany({ where: { id: keyId, revokedAt: null }, data: { revokedAt: new Date() } });
  if (count === 0) throw new UsageError(`no active key "${keyId}"`);
  process.stdout.write(`revoked ${keyId}\n`);
}

async function tenantsSet(db: Db, args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { tenant: { type: 'string' }, 'max-queued-jobs': { type: 'string' }, 'monthly-budget-units': { type: 'string' } } });
  const name = parse(tenantName, values.tenant, '--tenant <name>');
  const data = {
    ...(values['max-queued-jobs'] !== undefined ? { maxQueuedJobs: values['max-queued-jobs'] === 'default' ? null : parse(positiveInt, values['max-queued-jobs'], '--max-queued-jobs') } : {}),
    ...(values['monthly-budget-units'] !== undefined ? { monthlyBudgetUnits: values['monthly-budget-units'] === 'none' ? null : BigInt(parse(positiveInt, values['monthly-budget-units'], '--monthly-budget-units')) } : {}),
  };
  const { count } = await db.tenant.updateMany({ where: { name }, data });
  if (count === 0) throw new UsageError(`no tenant "${name}"`);
  process.stdout.write(`updated tenant "${name}"\n`);
}

const commands: Record<string, (db: Db, args: string[]) => Promise<void>> = {
  'keys create': keysCreate,
  'keys list': keysList,
  'keys revoke': keysRevoke,
  'tenants set': tenantsSet,
};

/** Runs one CLI command; returns the exit code (2 for a usage mistake). */
export async function main(argv: string[]): Promise<number> {
  const [group, command, ...rest] = argv;
  const run = commands[`${group} ${command}`];
  if (!run) {
    process.stderr.write(`${usage}\n`);
    return argv.length === 0 || group === 'help' || group === '--help' ? 0 : 2;
  }
  const db = createDb(parseEnv(z.object({ DATABASE_URL: commonEnv.DATABASE_URL })).DATABASE_URL, 1);
  try {
    await run(db, rest);
    return 0;
  } catch (err) {
    process.stderr.write(`inferq: ${(err as Error).message}\n${err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? `\n${usage}\n` : ''}`);
    return err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1;
  } finally {
    await db.$disconnect();
  }
}
