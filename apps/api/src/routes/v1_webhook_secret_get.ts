import type { Router } from 'express';
import { newWebhookSecret } from '@inferq/core/webhook-events';
import type { ApiDeps } from '../deps.ts';
import { tenantOf } from '../middleware/auth.ts';

/** GET /v1/webhook-secret: the tenant's default secret, which signs per-job webhooks (created on first use). */
export function registerV1WebhookSecretGet(router: Router, deps: ApiDeps): void {
  router.get('/v1/webhook-secret', async (req, res) => {
    const tenantId = tenantOf(req);
    await deps.db.tenant.updateMany({ where: { id: tenantId, webhookSecret: null }, data: { webhookSecret: newWebhookSecret() } });
    const tenant = await deps.db.tenant.findUniqueOrThrow({ where: { id: tenantId } });
    res.json({ object: 'webhook_secret', secret: tenant.webhookSecret });
  });
}
