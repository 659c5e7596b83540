// Starts Swagger UI on GET /docs. A file rather than an inline script so the page's
// Content-Security-Policy can allow scripts from this origin only.
window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  // The default would send the document to validator.swagger.io.
  validatorUrl: null,
});
