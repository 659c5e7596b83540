import type { Router } from 'express';
import { tenantWebhookSecret } from '@inferq/core/webhook-events';
import type { ApiDeps } from '../deps.ts';
import { tenantOf } from '../middleware/auth.ts';

/** GET /v1/webhook-secret: the tenant's default secret, which signs per-job webhooks (created on first use). */
export function registerV1WebhookSecretGet(router: Router, deps: ApiDeps): void {
  router.get('/v1/webhook-secret', async (req, res) => {
    res.json({ object: 'webhook_secret', secret: await tenantWebhookSecret(deps.db, tenantOf(req)) });
  });
}
