import type { Db } from '@inferq/core/db';
import { ApiError } from '@inferq/core/errors';

type Endpoint = NonNullable<Awaited<ReturnType<Db['webhookEndpoint']['findFirst']>>>;

/** The tenant's endpoint, or a 404 (also for another tenant's). */
export async function findEndpointOrThrow(db: Db, tenantId: string, id: string): Promise<Endpoint> {
  const endpoint = await db.webhookEndpoint.findFirst({ where: { id, tenantId } });
  if (!endpoint) throw new ApiError('not_found', `No webhook endpoint "${id}".`);
  return endpoint;
}

/** The public webhook endpoint object; the secret only where the caller is meant to see it once. */
export function endpointView(endpoint: Endpoint, secret?: string) {
  return {
    id: endpoint.id,
    object: 'webhook_endpoint' as const,
    url: endpoint.url,
    events: endpoint.events,
    status: endpoint.disabledAt ? ('disabled' as const) : ('enabled' as const),
    disabled_reason: endpoint.disabledReason,
    created_at: endpoint.createdAt.toISOString(),
    ...(secret ? { secret } : {}),
  };
}
