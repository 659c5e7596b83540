import type { NextFunction, Request, Response } from 'express';
import { LRUCache } from 'lru-cache';
import { authenticateApiKey, type Principal } from '@inferq/core/api-keys';
import type { Db } from '@inferq/core/db';
import { ApiError } from '@inferq/core/errors';
import type { Limits } from '../services/limits.ts';

const challenge = { 'WWW-Authenticate': 'Bearer realm="inferq"' };

/** Reading needs `jobs:read`, anything else `jobs:write`; `admin` may do both. */
const scopeFor = (method: string): string => (method === 'GET' || method === 'HEAD' ? 'jobs:read' : 'jobs:write');

/**
 * Requires `Authorization: Bearer <key>` naming a live key with the scope the method needs, then
 * counts the request against the key's rate limit (X-RateLimit-* headers on every answer).
 * A key found valid is trusted for `cacheMs` without reading Postgres again (a revocation takes
 * effect within that time); unknown keys are always looked up.
 */
export function requireApiKey(db: Db, limits: Limits, cacheMs: number) {
  const known = cacheMs > 0 ? new LRUCache<string, Principal>({ max: 10_000, ttl: cacheMs }) : undefined;
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const header = req.get('authorization');
    const match = header?.match(/^Bearer\s+(\S+)$/i);
    if (!match?.[1]) throw new ApiError('unauthorized', 'Send an API key as "Authorization: Bearer <key>".', [], challenge);
    const principal = known?.get(match[1]) ?? (await authenticateApiKey(db, match[1]));
    if (principal) known?.set(match[1], principal);
    if (!principal) throw new ApiError('unauthorized', 'The API key is unknown, revoked or expired.', [], challenge);
    const scope = scopeFor(req.method);
    if (!principal.scopes.includes(scope) && !principal.scopes.includes('admin')) {
      throw new ApiError('forbidden', `This API key lacks the "${scope}" scope needed for ${req.method} requests.`);
    }
    req.principal = principal;
    const state = await limits.consumeRequest(principal);
    res.setHeader('X-RateLimit-Limit', String(state.limit));
    res.setHeader('X-RateLimit-Remaining', String(state.remaining));
    res.setHeader('X-RateLimit-Reset', String(state.resetSeconds));
    next();
  };
}

/** The caller's tenant; only valid behind requireApiKey. */
export function tenantOf(req: Request): string {
  if (!req.principal) throw new ApiError('unauthorized', 'Not authenticated.');
  return req.principal.tenantId;
}
