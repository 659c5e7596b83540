import type { Router } from 'express';
import type { ApiDeps } from '../deps.ts';

const READY_CHECK_TIMEOUT_MS = 2_000;

const withTimeout = <T>(promise: Promise<T>): Promise<T> =>
  Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timed out')), READY_CHECK_TIMEOUT_MS).unref())]);

/** GET /health: the process is up. GET /ready: Postgres and Redis answer (else 503), for load balancers. */
export function registerHealth(router: Router, deps: ApiDeps): void {
  router.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/ready', async (req, res) => {
    const [postgres, redis] = await Promise.allSettled([withTimeout(deps.db.$queryRaw`SELECT 1`), withTimeout(deps.redis.ping())]);
    const checks = { postgres: postgres.status === 'fulfilled' ? 'ok' : 'down', redis: redis.status === 'fulfilled' ? 'ok' : 'down' };
    const ready = checks.postgres === 'ok' && checks.redis === 'ok';
    if (!ready) req.log.warn({ checks }, 'not ready');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', checks });
  });
}
