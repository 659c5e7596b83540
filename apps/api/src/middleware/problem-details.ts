import type { NextFunction, Request, Response } from 'express';
import { ApiError, apiErrorTitles } from '@inferq/core/errors';

/** body-parser's errors carry a `type`; these are the client's mistakes, not ours. */
function fromBodyParser(err: unknown): ApiError | null {
  const type = (err as { type?: unknown })?.type;
  if (type === 'entity.parse.failed') return new ApiError('invalid_request', `The body is not valid JSON: ${(err as Error).message}`, [{ path: '', message: 'malformed JSON' }]);
  if (type === 'entity.too.large') return new ApiError('payload_too_large', `The body is larger than the limit of ${(err as { limit?: number }).limit} bytes.`);
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return new ApiError('unsupported_media_type', (err as Error).message);
  if (type === 'request.aborted' || type === 'request.size.invalid' || type === 'stream.encoding.set') return new ApiError('invalid_request', (err as Error).message);
  return null;
}

/** Renders every error as RFC 9457 problem+json carrying the request id; unexpected ones as a logged 500. */
export function problemDetails() {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    let problem = err instanceof ApiError ? err : fromBodyParser(err);
    if (!problem) {
      req.log.error({ err }, 'unhandled error');
      problem = new ApiError('internal', 'An unexpected error occurred; the request id identifies it in our logs.');
    }
    for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
    res
      .status(problem.status)
      .type('application/problem+json')
      .json({
        type: `/problems/${problem.code}`,
        title: apiErrorTitles[problem.code],
        status: problem.status,
        detail: problem.message,
        code: problem.code,
        request_id: req.id,
        ...(problem.fieldErrors.length > 0 ? { errors: problem.fieldErrors } : {}),
      });
  };
}

/** Unknown routes get the same problem+json shape as everything else. */
export function notFoundRoute() {
  return (req: Request, _res: Response, next: NextFunction): void => {
    next(new ApiError('not_found', `No route for ${req.method} ${req.path}.`));
  };
}
