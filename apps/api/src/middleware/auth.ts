import type { NextFunction, Request, Response } from 'express';
import { authenticateApiKey } from '@inferq/core/api-keys';
import type { Db } from '@inferq/core/db';
import { ApiError } from '@inferq/core/errors';

const challenge = { 'WWW-Authenticate': 'Bearer realm="inferq"' };

/** Requires `Authorization: Bearer <key>` naming a live key; sets `req.principal`. */
export function requireApiKey(db: Db) {
  return async (req: Request, _res: Response, next: NextFunction): Promise<void> => {
    const header = req.get('authorization');
    const match = header?.match(/^Bearer\s+(\S+)$/i);
    if (!match?.[1]) throw new ApiError('unauthorized', 'Send an API key as "Authorization: Bearer <key>".', [], challenge);
    const principal = await authenticateApiKey(db, match[1]);
    if (!principal) throw new ApiError('unauthorized', 'The API key is unknown, revoked or expired.', [], challenge);
    req.principal = principal;
    next();
  };
}

/** The caller's tenant; only valid behind requireApiKey. */
export function tenantOf(req: Request): string {
  if (!req.principal) throw new ApiError('unauthorized', 'Not authenticated.');
  return req.principal.tenantId;
}
