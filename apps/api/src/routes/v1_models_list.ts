import type { Router } from 'express';
import { describeModel } from '@inferq/core/models';
import type { ApiDeps } from '../deps.ts';

/** GET /v1/models: the configured models and their batching limits. */
export function registerV1ModelsList(router: Router, deps: ApiDeps): void {
  router.get('/v1/models', (_req, res) => {
    res.json({ object: 'list', data: [...deps.models.values()].map(describeModel) });
  });
}
