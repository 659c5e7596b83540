import { z } from 'zod';
import type { ZodOpenApiResponseObject } from 'zod-openapi';
import { apiErrorStatus, type ApiErrorCode } from '@inferq/core/errors';
import { problemSchema } from './schemas.ts';

/**
 * The problem+json answers, one reusable response component per error code (named by the code,
 * e.g. `#/components/responses/not_found`). Keyed by ApiErrorCode so a new code cannot be added
 * to core/errors.ts without saying here what it means.
 */
const meanings: Record<ApiErrorCode, string> = {
  invalid_request: 'The request is invalid; `errors` names each offending field.',
  unauthorized: 'No API key, or an unknown, revoked or expired one.',
  forbidden: 'The API key may not do this.',
  not_found: "No such resource for this key's tenant.",
  conflict: 'The resource is not in a state that allows this.',
  payload_too_large: 'The body is larger than the limit (BODY_LIMIT_BYTES, 1 MiB by default).',
  unsupported_media_type: 'The body is not application/json.',
  rate_limited: 'A rate limit, queue limit or usage budget is reached; retry after Retry-After seconds.',
  internal: 'An unexpected error; the request id identifies it in our logs.',
  unavailable: 'A backing service is unavailable; retry later.',
};

const headersFor: Partial<Record<ApiErrorCode, z.ZodObject>> = {
  unauthorized: z.object({ 'WWW-Authenticate': z.string().meta({ example: 'Bearer realm="inferq"' }) }),
  rate_limited: z.object({ 'Retry-After': z.string().optional().meta({ description: 'Seconds to wait before retrying.', example: '5' }) }),
};

export const problemStatus = (code: ApiErrorCode): number => apiErrorStatus[code];

export function problemResponse(code: ApiErrorCode): ZodOpenApiResponseObject {
  const headers = headersFor[code];
  return {
    description: meanings[code],
    ...(headers ? { headers } : {}),
    content: { 'application/problem+json': { schema: problemSchema } },
  };
}
