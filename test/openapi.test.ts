import { existsSync, readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { oas31 } from 'zod-openapi';
import { createApp } from '@inferq/api/app';
import type { ApiDeps } from '@inferq/api/deps';
import { openApiDocument } from '@inferq/api/openapi/document';
import { createApiKey } from '@inferq/core/api-keys';
import { createLogger } from '@inferq/core/logger';
import { startReceiver, type Receiver } from './support/receiver.ts';
import { startStack, type HttpResult, type Stack } from './support/stack.ts';
import { until } from './support/until.ts';

let stack: Stack;
let hooks: Receiver;
let doc: oas31.OpenAPIObject;
let ajv: Ajv2020;

beforeAll(async () => {
  [stack, hooks] = await Promise.all([startStack(), startReceiver()]);
  const res = await stack.request('GET', '/openapi.json', { apiKey: null });
  expect(res.status).toBe(200);
  doc = res.body;
  ajv = validatorFor(doc);
});
afterAll(async () => {
  await hooks?.stop();
  await stack?.close();
});

/**
 * Ajv over the whole document, so `$ref`s resolve. Documented objects are open (clients must
 * tolerate new fields), but here every object is closed: an answer carrying a field the document
 * does not mention fails, so the document cannot fall behind the code.
 */
function validatorFor(document: oas31.OpenAPIObject): Ajv2020 {
  const closed = structuredClone(document);
  const close = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(close);
    if (!node || typeof node !== 'object') return;
    const schema = node as Record<string, unknown>;
    if (schema.type === 'object' && schema.properties && schema.additionalProperties === undefined) schema.additionalProperties = false;
    Object.values(schema).forEach(close);
  };
  close(closed);
  const validator = new Ajv2020({ allErrors: true, strict: true });
  addFormats.default(validator);
  // OpenAPI's `example`, and the two parts of the document that hold schemas, are not JSON Schema keywords.
  validator.addVocabulary(['example', 'paths', 'components']);
  const { paths, components } = closed as oas31.OpenAPIObject;
  validator.addSchema({ paths, components }, 'openapi.json');
  return validator;
}

const pointer = (...parts: string[]) => parts.map((part) => `/${part.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');

/** Where the document's JSON pointer leads. */
const at = (path: string): any => path.split('/').slice(1).reduce((node: any, part) => node?.[part.replaceAll('~1', '/').replaceAll('~0', '~')], doc);

/**
 * Every way a real answer departs from the documented operation (`path` as the document writes
 * it: /v1/jobs/{id}): an undocumented status or content type, a missing required header, a body
 * the schema refuses, a problem whose type, title, status or code differ from the documented example.
 */
function violations(method: string, path: string, res: HttpResult): string[] {
  const operationAt = pointer('paths', path, method.toLowerCase());
  if (!at(operationAt)) return [`${method} ${path} is not documented`];
  let responseAt = `${operationAt}${pointer('responses', String(res.status))}`;
  if (at(responseAt)?.$ref) responseAt = at(responseAt).$ref.slice(1);
  const response = at(responseAt);
  if (!response) return [`status ${res.status} is not documented for ${method} ${path}`];
  const found: string[] = [];
  for (const [name, header] of Object.entries<any>(response.headers ?? {})) {
    if (header.required && !res.headers.has(name)) found.push(`header ${name} is missing`);
  }
  const contentType = res.headers.get('content-type')?.split(';')[0] ?? '';
  const mediaAt = `${responseAt}${pointer('content', contentType)}`;
  if (!at(mediaAt)) return [...found, `content type ${contentType} is not documented for ${res.status}`];
  if (typeof res.body === 'string') return found; // HTML, event streams
  const example = at(mediaAt).example;
  if (contentType === 'application/problem+json' && example) {
    for (const field of ['type', 'title', 'status', 'code']) {
      if (res.body[field] !== example[field]) found.push(`${field} is ${JSON.stringify(res.body[field])}, the documented example says ${JSON.stringify(example[field])}`);
    }
  }
  const validate = ajv.getSchema(`openapi.json#${mediaAt}/schema`)!;
  if (!validate(res.body)) found.push(...validate.errors!.map((e) => `body${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`));
  return found;
}

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document, served without an API key', async () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.version).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
    expect(doc.components?.securitySchemes?.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.paths!['/health']!.get!.security).toEqual([]);
  });

  it('documents every route the app registers, and no other', () => {
    // Registering routes reads nothing from deps (handlers do, later), so a stub is enough.
    const app = createApp({ logger: createLogger('test', 'silent') } as unknown as ApiDeps);
    const registered = routesOf((app as unknown as { router: { stack: Layer[] } }).router.stack).sort();
    const documented = Object.entries(doc.paths!)
      .flatMap(([path, item]) => methods.filter((method) => item![method]).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`))
      .sort();
    expect(registered.length).toBeGreaterThan(10);
    expect(documented, 'apps/api/src/openapi/routes.ts needs one entry per route').toEqual(registered);
  });

  it('has examples that its own schemas accept', () => {
    // An `example` sits in a schema, or beside one in a media type.
    const examples: string[] = [];
    const find = (node: unknown, path: string): void => {
      if (!node || typeof node !== 'object') return;
      if ('example' in node) examples.push(path);
      for (const [key, child] of Object.entries(node)) if (key !== 'example') find(child, `${path}${pointer(key)}`);
    };
    find(doc, '');
    expect(examples.length).toBeGreaterThan(20);
    for (const path of examples) {
      const validate = ajv.getSchema(`openapi.json#${path}${'schema' in at(path) ? '/schema' : ''}`)!;
      expect(validate(at(path).example), `${path}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });

  it('is built once per process', () => {
    expect(openApiDocument()).toBe(openApiDocument());
  });
});

const methods = ['get', 'put', 'post', 'delete', 'patch'] as const;

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  slash: boolean;
  rawPath: string;
}

/** `METHOD /path` of every route in an Express router stack, nested routers included. */
function routesOf(stack: Layer[], prefix = ''): string[] {
  return stack.flatMap((layer) => {
    if (layer.route) return Object.keys(layer.route.methods).map((method) => `${method.toUpperCase()} ${prefix}${layer.route!.path}`);
    if (layer.handle.stack) return routesOf(layer.handle.stack, layer.slash ? prefix : `${prefix}${layer.rawPath}`);
    return [];
  });
}


describe('real answers match the document', () => {
  const expectDocumented = (method: string, path: string, res: HttpResult) => expect(violations(method, path, res), `${method} ${path} → ${res.status}`).toEqual([]);

  it('jobs: submit (202), read when finished, events, deliveries, redeliver, cancel (409)', async () => {
    const submit = await stack.request('POST', '/v1/jobs', {
      body: { model: 'local/sentiment', input: { text: 'The documentation is clear and lovely.' }, metadata: { team: 'docs' }, webhook: { url: hooks.url } },
    });
    expect(submit.status).toBe(202);
    expectDocumented('POST', '/v1/jobs', submit);
    expect(submit.headers.get('location')).toBe(`/v1/jobs/${submit.body.id}`);

    const id = submit.body.id as string;
    const done = await stack.request('GET', `/v1/jobs/${id}?wait=30`);
    expect(done.body.status).toBe('succeeded');
    expectDocumented('GET', '/v1/jobs/{id}', done);

    const events = await stack.request('GET', `/v1/jobs/${id}/events`);
    expectDocumented('GET', '/v1/jobs/{id}/events', events);
    const validateJob = ajv.getSchema('openapi.json#/components/schemas/Job')!;
    const data = [...String(events.body).matchAll(/^data: (.*)$/gm)].map((match) => JSON.parse(match[1]!));
    expect(data.map((job) => job.status)).toEqual(['succeeded']);
    expect(validateJob(data[0]), JSON.stringify(validateJob.errors)).toBe(true);

    await hooks.waitFor(1);
    const deliveries = await until(() => stack.request('GET', `/v1/jobs/${id}/deliveries`), (res) => res.body.data[0]?.status === 'delivered');
    expect(deliveries.body.data[0].attempts).toHaveLength(1);
    expectDocumented('GET', '/v1/jobs/{id}/deliveries', deliveries);

    const redeliver = await stack.request('POST', `/v1/deliveries/${deliveries.body.data[0].id}/redeliver`);
    expect(redeliver.status).toBe(202);
    expectDocumented('POST', '/v1/deliveries/{id}/redeliver', redeliver);

    const cancel = await stack.request('POST', `/v1/jobs/${id}/cancel`);
    expect(cancel.status).toBe(409);
    expectDocumented('POST', '/v1/jobs/{id}/cancel', cancel);
  });

  it('batches, job lists, retry, delete and usage', async () => {
    const created = await stack.request('POST', '/v1/batches', { body: { requests: [{ custom_id: 'doc-1', model: 'local/sentiment', input: { text: 'documented' } }] } });
    expect(created.status).toBe(202);
    expectDocumented('POST', '/v1/batches', created);
    const batch = await until(() => stack.request('GET', `/v1/batches/${created.body.id}`), (res) => res.body.status === 'completed');
    expectDocumented('GET', '/v1/batches/{id}', batch);
    expectDocumented('GET', '/v1/batches', await stack.request('GET', '/v1/batches?limit=1'));
    expectDocumented('POST', '/v1/batches/{id}/cancel', await stack.request('POST', `/v1/batches/${created.body.id}/cancel`));

    const list = await stack.request('GET', `/v1/jobs?batch_id=${created.body.id}`);
    expect(list.body.data).toHaveLength(1);
    expectDocumented('GET', '/v1/jobs', list);
    const jobId = list.body.data[0].id as string;
    expectDocumented('POST', '/v1/jobs/{id}/retry', await stack.request('POST', `/v1/jobs/${jobId}/retry`));
    expectDocumented('DELETE', '/v1/jobs/{id}', await stack.request('DELETE', `/v1/jobs/${jobId}`));
    expectDocumented('GET', '/v1/usage', await stack.request('GET', '/v1/usage'));
  });

  it('cancel (200) of a queued job', async () => {
    const paused = await startStack({ worker: false });
    try {
      const submit = await paused.request('POST', '/v1/jobs', { body: { model: 'local/sentiment', input: { text: 'never runs' } } });
      const cancel = await paused.request('POST', `/v1/jobs/${submit.body.id}/cancel`);
      expect(cancel.body.status).toBe('cancelled');
      expectDocumented('POST', '/v1/jobs/{id}/cancel', cancel);
    } finally {
      await paused.close();
    }
  });

  it('problems: 400, 401, 403, 404, 409, 413, 415', async () => {
    const invalid = await stack.request('POST', '/v1/jobs', { body: { model: 'local/sentiment', input: { text: '' }, colour: 'blue' } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.errors.length).toBeGreaterThan(0);
    expectDocumented('POST', '/v1/jobs', invalid);

    const badWait = await stack.request('GET', '/v1/jobs/job_x?wait=600');
    expect(badWait.status).toBe(400);
    expectDocumented('GET', '/v1/jobs/{id}', badWait);

    const unauthorized = await stack.request('GET', '/v1/models', { apiKey: null });
    expect(unauthorized.status).toBe(401);
    expectDocumented('GET', '/v1/models', unauthorized);

    const { key: readOnly } = await createApiKey(stack.db, 'tenant-read-only', { scopes: ['jobs:read'] });
    const forbidden = await stack.request('POST', '/v1/webhook-endpoints', { apiKey: readOnly, body: { url: hooks.url, events: ['job.failed'] } });
    expect(forbidden.status).toBe(403);
    expectDocumented('POST', '/v1/webhook-endpoints', forbidden);

    const first = await stack.request('POST', '/v1/jobs', { headers: { 'idempotency-key': 'openapi-1' }, body: { model: 'local/sentiment', input: { text: 'once' } } });
    const replay = await stack.request('POST', '/v1/jobs', { headers: { 'idempotency-key': 'openapi-1' }, body: { model: 'local/sentiment', input: { text: 'once' } } });
    expect(replay.body.id).toBe(first.body.id);
    expectDocumented('POST', '/v1/jobs', replay);
    const reused = await stack.request('POST', '/v1/jobs', { headers: { 'idempotency-key': 'openapi-1' }, body: { model: 'local/sentiment', input: { text: 'twice' } } });
    expect(reused.status).toBe(409);
    expectDocumented('POST', '/v1/jobs', reused);

    const missing = await stack.request('GET', '/v1/jobs/job_01jz3k8m0qf7r9w5x2y4v6t8s0');
    expect(missing.status).toBe(404);
    expectDocumented('GET', '/v1/jobs/{id}', missing);

    const tooLarge = await stack.request('POST', '/v1/jobs', { body: { model: 'local/sentiment', input: { text: 'x'.repeat(200_000) } } });
    expect(tooLarge.status).toBe(413);
    expectDocumented('POST', '/v1/jobs', tooLarge);

    const notJson = await stack.request('POST', '/v1/webhook-endpoints', { rawBody: 'url=x', headers: { 'content-type': 'text/plain' } });
    expect(notJson.status).toBe(415);
    expectDocumented('POST', '/v1/webhook-endpoints', notJson);
  });

  it('webhook endpoints: create (201), list, rotate, delete; the webhook secret', async () => {
    const created = await stack.request('POST', '/v1/webhook-endpoints', { body: { url: hooks.url, events: ['job.succeeded'] } });
    expect(created.status).toBe(201);
    expectDocumented('POST', '/v1/webhook-endpoints', created);
    const id = created.body.id as string;

    expectDocumented('GET', '/v1/webhook-endpoints', await stack.request('GET', '/v1/webhook-endpoints'));
    expectDocumented('POST', '/v1/webhook-endpoints/{id}/rotate-secret', await stack.request('POST', `/v1/webhook-endpoints/${id}/rotate-secret`));
    expectDocumented('DELETE', '/v1/webhook-endpoints/{id}', await stack.request('DELETE', `/v1/webhook-endpoints/${id}`));
    expectDocumented('GET', '/v1/webhook-secret', await stack.request('GET', '/v1/webhook-secret'));
  });

  it('models, health, readiness, the document itself', async () => {
    expectDocumented('GET', '/v1/models', await stack.request('GET', '/v1/models'));
    expectDocumented('GET', '/health', await stack.request('GET', '/health', { apiKey: null }));
    expectDocumented('GET', '/ready', await stack.request('GET', '/ready', { apiKey: null }));
    expectDocumented('GET', '/openapi.json', await stack.request('GET', '/openapi.json', { apiKey: null }));
  });

  it('refuses answers that depart from the document (so the checks above can fail)', async () => {
    const submit = await stack.request('POST', '/v1/jobs', { body: { model: 'local/sentiment', input: { text: 'fine' } } });
    const job = submit.body;
    const tampered = (body: unknown, status = 202): HttpResult => ({ ...submit, status, body });
    const { status: _dropped, ...withoutStatus } = job;

    expect(violations('POST', '/v1/jobs', tampered(withoutStatus))).toEqual([expect.stringContaining("must have required property 'status'")]);
    expect(violations('POST', '/v1/jobs', tampered({ ...job, surprise: 1 }))).toEqual([expect.stringContaining('must NOT have additional properties')]);
    expect(violations('POST', '/v1/jobs', tampered({ ...job, created_at: 'yesterday' }))).toEqual([expect.stringContaining('must match format "date-time"')]);
    expect(violations('POST', '/v1/jobs', tampered({ ...job, status: 'lost' }))).toEqual([expect.stringContaining('must be equal to one of the allowed values')]);
    expect(violations('POST', '/v1/jobs', tampered(job, 200))).toEqual(['status 200 is not documented for POST /v1/jobs']);
    expect(violations('POST', '/v1/jobs', { ...submit, headers: new Headers({ 'content-type': 'application/json' }) })).toEqual(['header Location is missing']);

    const missing = await stack.request('GET', '/v1/jobs/job_01jz3k8m0qf7r9w5x2y4v6t8s0');
    expect(violations('GET', '/v1/jobs/{id}', missing)).toEqual([]);
    expect(violations('GET', '/v1/jobs/{id}', { ...missing, body: { ...missing.body, title: 'Oops' } })).toEqual(['title is "Oops", the documented example says "Not found"']);
    expect(violations('GET', '/v1/jobs/{id}', { ...missing, headers: new Headers({ 'content-type': 'application/json' }) })).toEqual(['content type application/json is not documented for 404']);
  });
});

describe('GET /docs', () => {
  it('serves an HTML page whose assets all come from this origin and load', async () => {
    const page = await fetch(`${stack.baseUrl}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(3);
    for (const asset of assets) {
      expect(asset, 'same-origin path').toMatch(/^\/(?!\/)/);
      const res = await fetch(`${stack.baseUrl}${asset}`);
      expect(res.status, asset).toBe(200);
      expect((await res.arrayBuffer()).byteLength, asset).toBeGreaterThan(0);
    }
    expect(assets).toEqual(expect.arrayContaining(['/docs/assets/swagger-ui-bundle.js', '/docs/assets/swagger-ui.css', '/docs/assets/docs.js']));
    const script = await (await fetch(`${stack.baseUrl}/docs/assets/docs.js`)).text();
    expect(script).toContain("url: '/openapi.json'");
  });
});

const chromiumPath = '/usr/bin/chromium';

// Debian's chromium is installed by hand (apt-get install chromium); without it this is skipped.
describe.skipIf(!existsSync(chromiumPath))('GET /docs in a browser', () => {
  it('renders every operation with nothing fetched from another origin and no console errors', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
      const requested: string[] = [];
      const problems: string[] = [];
      page.on('request', (request) => requested.push(request.url()));
      page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
      page.on('pageerror', (error) => problems.push(error.message));

      await page.goto(`${stack.baseUrl}/docs`);
      await page.locator('.opblock').first().waitFor({ timeout: 20_000 });
      expect(await page.locator('.opblock').count()).toBe(Object.values(doc.paths!).flatMap((item) => methods.filter((method) => item![method])).length);
      await expect(page.locator('.info .title').textContent()).resolves.toContain('inferq');
      if (process.env.DOCS_SCREENSHOT) await page.screenshot({ path: process.env.DOCS_SCREENSHOT, fullPage: true });

      expect(requested.filter((url) => !url.startsWith(`${stack.baseUrl}/`) && !url.startsWith('data:'))).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
