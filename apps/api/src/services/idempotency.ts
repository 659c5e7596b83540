import { createHash } from 'node:crypto';
import type { Db } from '@inferq/core/db';
import { ApiError } from '@inferq/core/errors';

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

type Tx = Parameters<Parameters<Db['$transaction']>[0]>[0];

export type IdempotentResult = { replayed: false; resourceId: string } | { replayed: true; resourceId: string };

/** Same key and body → same hash; key order in the JSON does not matter. */
export function requestHash(kind: string, body: unknown): string {
  const canonical = (value: unknown): unknown =>
    Array.isArray(value) ? value.map(canonical) : value && typeof value === 'object' ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])])) : value;
  return createHash('sha256').update(kind).update('\0').update(JSON.stringify(canonical(body))).digest('hex');
}

/**
 * Runs `create` in a transaction that first claims the tenant's Idempotency-Key. A concurrent
 * request with the same key waits on the key's row (unique index) until the first commits, then
 * gets the first one's resource: so N concurrent submits with one key create exactly one job.
 * The same key with another body (or for another kind of resource) is a 409.
 */
export async function createIdempotently(
  db: Db,
  tenantId: string,
  key: string | undefined,
  kind: 'job' | 'batch',
  body: unknown,
  create: (tx: Tx) => Promise<string>,
  /** Whether `create` writes several statements that must commit together (a batch and its jobs). */
  options: { atomic: boolean },
): Promise<IdempotentResult> {
  if (key === undefined) {
    // Nothing to coordinate: a single-statement create needs no transaction of its own.
    const resourceId = options.atomic ? await db.$transaction((tx) => create(tx), { timeout: 60_000 }) : await create(db as unknown as Tx);
    return { replayed: false, resourceId };
  }
  const hash = requestHash(kind, body);
  return db.$transaction(
    async (tx) => {
      const claimed = await tx.$queryRaw<{ key: string }[]>`
        INSERT INTO idempotency_keys (tenant_id, key, request_hash, kind, resource_id, expires_at)
             VALUES (${tenantId}, ${key}, ${hash}, ${kind}, '', now() + ${IDEMPOTENCY_TTL_MS} * interval '1 millisecond')
        ON CONFLICT (tenant_id, key) DO UPDATE
              SET request_hash = EXCLUDED.request_hash, kind = EXCLUDED.kind, resource_id = '', created_at = now(), expires_at = EXCLUDED.expires_at
            WHERE idempotency_keys.expires_at < now()
        RETURNING key`;
      if (claimed.length === 0) {
        const existing = await tx.idempotencyKey.findUniqueOrThrow({ where: { tenantId_key: { tenantId, key } } });
        if (existing.kind !== kind || existing.requestHash !== hash) {
          throw new ApiError('conflict', 'This Idempotency-Key was already used with a different request; use a new key for a new request.', [{ path: 'Idempotency-Key', message: 'reused with a different body' }]);
        }
        return { replayed: true, resourceId: existing.resourceId };
      }
      const resourceId = await create(tx);
      await tx.idempotencyKey.update({ where: { tenantId_key: { tenantId, key } }, data: { resourceId } });
      return { replayed: false, resourceId };
    },
    { timeout: 60_000 },
  );
}

/** The Idempotency-Key header, checked for shape (1–255 printable characters). */
export function idempotencyKeyOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,255}$/.test(header)) {
    throw new ApiError('invalid_request', 'Idempotency-Key must be 1–255 printable ASCII characters without spaces.', [{ path: 'Idempotency-Key', message: 'invalid' }]);
  }
  return header;
}
