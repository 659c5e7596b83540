import { z } from 'zod';
import type { ZodOpenApiResponseObject } from 'zod-openapi';
import { apiErrorStatus, apiErrorTitles, type ApiErrorCode } from '@inferq/core/errors';
import { problemSchema } from './schemas.ts';

/**
 * The problem+json answers, one reusable response component per error code (named by the code,
 * e.g. `#/components/responses/not_found`), each with an example. Keyed by ApiErrorCode so a new
 * code cannot be added to core/errors.ts without saying here what it means. Titles come from
 * core/errors.ts, as the middleware renders them; test/openapi.test.ts compares them with real answers.
 */
const descriptions: Record<ApiErrorCode, string> = {
  invalid_request: 'The request is invalid; `errors` names each offending field.',
  unauthorized: 'No API key, or an unknown, revoked or expired one.',
  forbidden: 'The API key lacks the scope this needs (jobs:read to read, jobs:write for anything else).',
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

const fieldErrors = [{ path: 'input.text', message: 'must be at most 10000 characters' }];

export const problemStatus = (code: ApiErrorCode): number => apiErrorStatus[code];

export function problemResponse(code: ApiErrorCode): ZodOpenApiResponseObject {
  const title = apiErrorTitles[code];
  const description = descriptions[code];
  const headers = headersFor[code];
  const example = {
    type: `/problems/${code}`,
    title,
    status: apiErrorStatus[code],
    detail: code === 'invalid_request' ? 'The request is invalid: input.text: must be at most 10000 characters' : description,
    code,
    request_id: 'req_01jz3k8m0qf7r9w5x2y4v6t8s0',
    ...(code === 'invalid_request' ? { errors: fieldErrors } : {}),
  };
  return {
    description,
    ...(headers ? { headers } : {}),
    content: { 'application/problem+json': { schema: problemSchema, example } },
  };
}
