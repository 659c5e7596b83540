import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';
import { openApiDocument } from '../openapi/document.ts';

const swaggerUiDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const ownAssetsDir = fileURLToPath(new URL('../openapi/assets/', import.meta.url));

const page = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>inferq API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/docs.js"></script>
</body>
</html>
`;

// Everything the page uses comes from this origin; the browser refuses anything else.
const pagePolicy = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

/**
 * GET /openapi.json: the OpenAPI 3.1 document. GET /docs: Swagger UI rendering it, its assets
 * served from node_modules (no CDN: the page works offline). Both public, like /health.
 */
export function registerOpenApi(router: Router): void {
  router.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
  router.get('/docs', (_req, res) => {
    res.setHeader('Content-Security-Policy', pagePolicy);
    res.type('html').send(page);
  });
  // `index: false`: the package's own index.html would load its demo document.
  router.use('/docs/assets', express.static(ownAssetsDir, { index: false }), express.static(swaggerUiDir, { index: false }));
}
