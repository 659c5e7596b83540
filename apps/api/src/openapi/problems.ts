import { z } from 'zod';
import type { ZodOpenApiResponseObject } from 'zod-openapi';
import { apiErrorStatus, type ApiErrorCode } from '@inferq/core/errors';
import { problemSchema } from './schemas.ts';

/**
 * The problem+json answers, one reusable response component per error code (named by the code,
 * e.g. `#/components/responses/not_found`), each with an example. Keyed by ApiErrorCode so a new
 * code cannot be added to core/errors.ts without saying here what it means. Titles are those
 * middleware/problem-details.ts renders; test/openapi.test.ts compares them with real answers.
 */
const problems: Record<ApiErrorCode, { title: string; description: string }> = {
  invalid_request: { title: 'Invalid request', description: 'The request is invalid; `errors` names each offending field.' },
  unauthorized: { title: 'Unauthorized', description: 'No API key, or an unknown, revoked or expired one.' },
  forbidden: { title: 'Forbidden', description: 'The API key lacks the scope this needs (jobs:read to read, jobs:write for anything else).' },
  not_found: { title: 'Not found', description: "No such resource for this key's tenant." },
  conflict: { title: 'Conflict', description: 'The resource is not in a state that allows this.' },
  payload_too_large: { title: 'Payload too large', description: 'The body is larger than the limit (BODY_LIMIT_BYTES, 1 MiB by default).' },
  unsupported_media_type: { title: 'Unsupported media type', description: 'The body is not application/json.' },
  rate_limited: { title: 'Too many requests', description: 'A rate limit, queue limit or usage budget is reached; retry after Retry-After seconds.' },
  internal: { title: 'Internal error', description: 'An unexpected error; the request id identifies it in our logs.' },
  unavailable: { title: 'Service unavailable', description: 'A backing service is unavailable; retry later.' },
};

const headersFor: Partial<Record<ApiErrorCode, z.ZodObject>> = {
  unauthorized: z.object({ 'WWW-Authenticate': z.string().meta({ example: 'Bearer realm="inferq"' }) }),
  rate_limited: z.object({ 'Retry-After': z.string().optional().meta({ description: 'Seconds to wait before retrying.', example: '5' }) }),
};

const fieldErrors = [{ path: 'input.text', message: 'must be at most 10000 characters' }];

export const problemStatus = (code: ApiErrorCode): number => apiErrorStatus[code];

export function problemResponse(code: ApiErrorCode): ZodOpenApiResponseObject {
  const { title, description } = problems[code];
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
