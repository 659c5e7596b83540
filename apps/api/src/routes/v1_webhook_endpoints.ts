import type { Router } from 'express';
import { typeid } from 'typeid-js';
import { z } from 'zod';
import { endpointEventTypes, newWebhookSecret } from '@inferq/core/webhook-events';
import type { ApiDeps } from '../deps.ts';
import { tenantOf } from '../middleware/auth.ts';
import { endpointView, findEndpointOrThrow } from '../services/webhook-endpoints.ts';
import { assertSafeWebhookUrl } from '../services/webhook-urls.ts';
import { parseOrThrow } from '../validation.ts';

export const createEndpointRequestSchema = z.strictObject({
  url: z.string().min(1).max(2048),
  events: z.array(z.enum(endpointEventTypes)).min(1).max(endpointEventTypes.length),
});

/** How long a rotated-out secret keeps signing beside the new one. */
export const SECRET_OVERLAP_MS = 24 * 60 * 60 * 1000;

/**
 * Tenant-wide webhook subscriptions: POST creates one (its secret is shown once), GET lists,
 * DELETE removes (its pending deliveries go with it), rotate-secret replaces the secret while the
 * old one keeps signing for 24 h so receivers can switch without losing a delivery.
 */
export function registerV1WebhookEndpoints(router: Router, deps: ApiDeps): void {
  router.post('/v1/webhook-endpoints', async (req, res) => {
    const body = parseOrThrow(createEndpointRequestSchema, req.body);
    await assertSafeWebhookUrl(body.url, deps.webhookAllow, 'url');
    const secret = newWebhookSecret();
    const endpoint = await deps.db.webhookEndpoint.create({
      data: { id: typeid('we').toString(), tenantId: tenantOf(req), url: body.url, events: [...new Set(body.events)], secret },
    });
    res.status(201).location(`/v1/webhook-endpoints/${endpoint.id}`).json(endpointView(endpoint, secret));
  });

  router.get('/v1/webhook-endpoints', async (req, res) => {
    const endpoints = await deps.db.webhookEndpoint.findMany({ where: { tenantId: tenantOf(req) }, orderBy: { createdAt: 'asc' } });
    res.json({ object: 'list', data: endpoints.map((endpoint) => endpointView(endpoint)) });
  });

  router.delete('/v1/webhook-endpoints/:id', async (req, res) => {
    const endpoint = await findEndpointOrThrow(deps.db, tenantOf(req), req.params.id!);
    await deps.db.webhookEndpoint.delete({ where: { id: endpoint.id } });
    res.json({ id: endpoint.id, object: 'webhook_endpoint', deleted: true });
  });

  router.post('/v1/webhook-endpoints/:id/rotate-secret', async (req, res) => {
    const endpoint = await findEndpointOrThrow(deps.db, tenantOf(req), req.params.id!);
    const secret = newWebhookSecret();
    const rotated = await deps.db.webhookEndpoint.update({
      where: { id: endpoint.id },
      data: { secret, previousSecret: endpoint.secret, previousSecretExpiresAt: new Date(Date.now() + SECRET_OVERLAP_MS) },
    });
    res.json({ ...endpointView(rotated, secret), previous_secret_expires_at: rotated.previousSecretExpiresAt!.toISOString() });
  });
}
