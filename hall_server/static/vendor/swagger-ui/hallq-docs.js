// /api/docs: Swagger UI over the hall's own OpenAPI document (no asset from outside the hall).
window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
});
