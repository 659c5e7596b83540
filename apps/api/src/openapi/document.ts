import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { createDocument, type oas31, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject, type ZodOpenApiResponseObject } from 'zod-openapi';
import type { ApiErrorCode } from '@inferq/core/errors';
import { problemResponse, problemStatus } from './problems.ts';
import { apiRoutes, tags, type ApiRoute } from './routes.ts';

/**
 * Builds the OpenAPI 3.1 document from the route table (./routes.ts), once per process: the
 * routes and schemas are fixed at start-up, so every GET /openapi.json serves the same object.
 */

const { version } = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string };

const description = `Asynchronous inference: submit a job, get \`202\`, then poll, long-poll, stream or receive a webhook.

Every \`/v1\` route needs \`Authorization: Bearer <API key>\` (keys look like \`iq_…\`; \`npx inferq keys create --tenant NAME\` makes one):
reading needs the key's \`jobs:read\` scope, anything else \`jobs:write\`. Each request counts against the key's rate limit, reported in
\`X-RateLimit-Limit\`, \`X-RateLimit-Remaining\` and \`X-RateLimit-Reset\`.

Every answer carries \`X-Request-Id\`. Errors are RFC 9457 \`application/problem+json\`.`;

const pathParamNames = (expressPath: string): string[] => [...expressPath.matchAll(/:(\w+)/g)].map((match) => match[1]!);

/** The problem+json answers a route can give (see ApiRoute.problems). */
function problemsOf(route: ApiRoute, hasPathParams: boolean): ApiErrorCode[] {
  const implied: ApiErrorCode[] = [
    ...(route.public ? [] : (['unauthorized', 'forbidden', 'rate_limited'] as const)),
    ...(route.body ? (['invalid_request', 'payload_too_large', 'unsupported_media_type'] as const) : []),
    ...(route.query || route.headers ? (['invalid_request'] as const) : []),
    ...(hasPathParams ? (['not_found'] as const) : []),
  ];
  return [...new Set([...implied, ...(route.problems ?? [])])].sort((a, b) => problemStatus(a) - problemStatus(b));
}

function toOperation(route: ApiRoute, pathParams: string[]): { operation: ZodOpenApiOperationObject; problems: ApiErrorCode[] } {
  const params = route.params ?? (pathParams.length > 0 ? z.object(Object.fromEntries(pathParams.map((name) => [name, z.string()]))) : undefined);
  const requestParams = { ...(params ? { path: params } : {}), ...(route.query ? { query: route.query } : {}), ...(route.headers ? { header: route.headers } : {}) };
  const problems = problemsOf(route, pathParams.length > 0);
  const responses: Record<string, ZodOpenApiResponseObject | oas31.ReferenceObject> = {};
  for (const [status, response] of Object.entries(route.responses)) responses[status] = response;
  for (const code of problems) responses[problemStatus(code)] = { $ref: `#/components/responses/${code}` };
  const operation: ZodOpenApiOperationObject = {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    ...(route.public ? { security: [] } : {}),
    ...(Object.keys(requestParams).length > 0 ? { requestParams } : {}),
    ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: route.body } } } } : {}),
    responses,
  };
  return { operation, problems };
}

function build(): oas31.OpenAPIObject {
  const paths: ZodOpenApiPathsObject = {};
  const usedProblems = new Set<ApiErrorCode>();
  for (const [key, route] of Object.entries(apiRoutes)) {
    const [method, expressPath] = key.split(' ') as [string, string];
    const { operation, problems } = toOperation(route, pathParamNames(expressPath));
    problems.forEach((code) => usedProblems.add(code));
    const path = expressPath.replace(/:(\w+)/g, '{$1}');
    paths[path] = { ...paths[path], [method.toLowerCase()]: operation };
  }
  return createDocument(
    {
      openapi: '3.1.0',
      info: { title: 'inferq', version, description, license: { name: 'Apache-2.0', identifier: 'Apache-2.0' } },
      tags: Object.entries(tags).map(([name, tagDescription]) => ({ name, description: tagDescription })),
      security: [{ apiKey: [] }],
      paths,
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', bearerFormat: 'iq_…', description: 'An inferq API key.' } },
        responses: Object.fromEntries([...usedProblems].map((code) => [code, problemResponse(code)])),
      },
    },
    {
      override: ({ jsonSchema, zodSchema, io }) => {
        const def = zodSchema._zod.def;
        // Answers gain fields over time: leave response objects open (zod would write
        // `additionalProperties: false`) so clients validating against the document do not break.
        // Request bodies keep theirs (strictObject): the API refuses unknown fields.
        if (io === 'output' && def.type === 'object' && !('catchall' in def && def.catchall)) delete jsonSchema.additionalProperties;
        // Noise to an API reader: z.int()'s safe-integer range, z.iso.datetime()'s long regex (`format` says it).
        if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
        if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
        if (jsonSchema.format === 'date-time') delete jsonSchema.pattern;
      },
    },
  );
}

let document: oas31.OpenAPIObject | undefined;

/** The document, built on first use. */
export const openApiDocument = (): oas31.OpenAPIObject => (document ??= build());
