import express, { type NextFunction, type Request, type Response } from 'express';
import { ApiError } from '@inferq/core/errors';

/** Parses JSON bodies up to `limitBytes`; any other declared content type is refused with 415. */
export function jsonBody(limitBytes: number) {
  const parse = express.json({ limit: limitBytes, type: ['application/json', 'application/*+json'] });
  return (req: Request, res: Response, next: NextFunction): void => {
    // A route-specific parser (bulk batches) got there first.
    if (req.body !== undefined) {
      next();
      return;
    }
    const hasBody = req.get('content-length') !== '0' && (req.get('content-length') !== undefined || req.get('transfer-encoding') !== undefined);
    if (hasBody && !req.is(['application/json', 'application/*+json'])) {
      next(new ApiError('unsupported_media_type', `Send the body as application/json (got ${req.get('content-type') ?? 'no content type'}).`));
      return;
    }
    parse(req, res, next);
  };
}
