import type { NextFunction, Request, Response } from 'express';
import { newRequestId } from '@inferq/core/ids';
import type { Logger } from '@inferq/core/logger';
import type { Principal } from '@inferq/core/api-keys';

declare global {
  namespace Express {
    interface Request {
      id: string;
      log: Logger;
      principal?: Principal;
    }
  }
}

// A client may pass its own id for tracing across systems; anything odd is replaced, never echoed.
const acceptableRequestId = /^[A-Za-z0-9._:-]{1,128}$/;

/** Gives every request an id (echoed in `X-Request-Id`) and a logger bound to it; logs each response. */
export function requestContext(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const given = req.get('x-request-id');
    req.id = given && acceptableRequestId.test(given) ? given : newRequestId();
    req.log = logger.child({ requestId: req.id });
    res.setHeader('X-Request-Id', req.id);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      req.log.info({ method: req.method, path: req.path, status: res.statusCode, durationMs, tenantId: req.principal?.tenantId }, 'request');
    });
    next();
  };
}
