import { createHash } from 'node:crypto';
import type { Db } from './db.ts';
import { newApiKeyId, newApiKeySecret, newTenantId } from './ids.ts';

export const apiKeyScopes = ['jobs:write', 'jobs:read', 'admin'] as const;
export type ApiKeyScope = (typeof apiKeyScopes)[number];

export const hashApiKey = (secret: string): string => createHash('sha256').update(secret).digest('hex');

export interface CreatedApiKey {
  tenant: { id: string; name: string };
  keyId: string;
  /** The only time the key is available in plain text. */
  key: string;
}

export interface ApiKeyOptions {
  scopes?: ApiKeyScope[];
  expiresAt?: Date;
  requestsPerMinute?: number;
  unitsPerMinute?: number;
}

/** Creates the tenant when it is new, then a key for it. */
export async function createApiKey(db: Db, tenantName: string, options: ApiKeyOptions = {}): Promise<CreatedApiKey> {
  const tenant = await db.tenant.upsert({
    where: { name: tenantName },
    create: { id: newTenantId(), name: tenantName },
    update: {},
  });
  const key = newApiKeySecret();
  const keyId = newApiKeyId();
  await db.apiKey.create({
    data: {
      id: keyId,
      tenantId: tenant.id,
      keyHash: hashApiKey(key),
      keyPrefix: key.slice(0, 10),
      scopes: options.scopes ?? ['jobs:write', 'jobs:read'],
      expiresAt: options.expiresAt ?? null,
      requestsPerMinute: options.requestsPerMinute ?? null,
      unitsPerMinute: options.unitsPerMinute ?? null,
    },
  });
  return { tenant: { id: tenant.id, name: tenant.name }, keyId, key };
}

export interface Principal {
  tenantId: string;
  keyId: string;
  scopes: string[];
  /** Per-key limits; null: the deployment's defaults. */
  requestsPerMinute: number | null;
  unitsPerMinute: number | null;
}

/** The tenant a key acts for, or null when the key is unknown, revoked or expired. */
export async function authenticateApiKey(db: Db, secret: string): Promise<Principal | null> {
  const key = await db.apiKey.findUnique({ where: { keyHash: hashApiKey(secret) } });
  if (!key || key.revokedAt || (key.expiresAt && key.expiresAt <= new Date())) return null;
  return { tenantId: key.tenantId, keyId: key.id, scopes: key.scopes, requestsPerMinute: key.requestsPerMinute, unitsPerMinute: key.unitsPerMinute };
}
