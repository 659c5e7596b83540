import compression from 'compression';
import express, { Router, type Express } from 'express';
import type { ApiDeps } from './deps.ts';
import { requireApiKey } from './middleware/auth.ts';
import { jsonBody } from './middleware/json-body.ts';
import { notFoundRoute, problemDetails } from './middleware/problem-details.ts';
import { requestContext } from './middleware/request-context.ts';
import { registerHealth } from './routes/health.ts';
import { registerOpenApi } from './routes/openapi.ts';
import { batchBody, registerV1BatchesCreate } from './routes/v1_batches_create.ts';
import { registerV1BatchesCancel } from './routes/v1_batches_cancel.ts';
import { registerV1BatchesRead } from './routes/v1_batches_read.ts';
import { registerV1Deliveries } from './routes/v1_deliveries.ts';
import { registerV1JobsCancel } from './routes/v1_jobs_cancel.ts';
import { registerV1JobsCreate } from './routes/v1_jobs_create.ts';
import { registerV1JobsEvents } from './routes/v1_jobs_events.ts';
import { registerV1JobsGet } from './routes/v1_jobs_get.ts';
import { registerV1JobsList } from './routes/v1_jobs_list.ts';
import { registerV1JobsManage } from './routes/v1_jobs_manage.ts';
import { registerV1UsageGet } from './routes/v1_usage_get.ts';
import { registerV1ModelsList } from './routes/v1_models_list.ts';
import { registerV1WebhookEndpoints } from './routes/v1_webhook_endpoints.ts';
import { registerV1WebhookSecretGet } from './routes/v1_webhook_secret_get.ts';

/** Builds the Express app without listening, so tests drive it directly. Every route is listed here. */
export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestContext(deps.logger));
  // gzip for answers over 1 KB; event streams are left alone so each event goes out at once.
  app.use(compression({ threshold: 1024, filter: (req, res) => !String(res.getHeader('content-type') ?? '').startsWith('text/event-stream') && compression.filter(req, res) }));

  const open = Router();
  registerHealth(open, deps);
  registerOpenApi(open);
  app.use(open);

  const v1 = Router();
  v1.use('/v1', requireApiKey(deps.db, deps.limits, deps.authCacheMs));
  v1.use('/v1/batches', batchBody(deps.batchBodyLimitBytes));
  v1.use('/v1', jsonBody(deps.bodyLimitBytes));
  registerV1ModelsList(v1, deps);
  registerV1JobsCreate(v1, deps);
  registerV1JobsList(v1, deps);
  registerV1JobsGet(v1, deps);
  registerV1JobsManage(v1, deps);
  registerV1JobsEvents(v1, deps);
  registerV1JobsCancel(v1, deps);
  registerV1Deliveries(v1, deps);
  registerV1BatchesCreate(v1, deps);
  registerV1BatchesRead(v1, deps);
  registerV1BatchesCancel(v1, deps);
  registerV1UsageGet(v1, deps);
  registerV1WebhookEndpoints(v1, deps);
  registerV1WebhookSecretGet(v1, deps);
  app.use(v1);

  app.use(notFoundRoute());
  app.use(problemDetails());
  return app;
}
