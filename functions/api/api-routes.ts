/** Every route of the operator API, and the two public ones: the dashboard page and the API's own description. */
import { dashboardPage } from "../dashboard/dashboard-page.ts";
import type { ApiDeps } from "./api-deps.ts";
import { buildOpenApiDocument, type OpenApiDocument } from "./openapi.ts";
import { defineRoute, noInput, type Route } from "./router.ts";
import { deploymentRoutes } from "./routes/deployment-routes.ts";
import { operationRoutes } from "./routes/operation-routes.ts";
import { serviceRoutes } from "./routes/service-routes.ts";

export const apiVersion = "1.0.0";

// The page runs only its own inline script and reads only the API it came from.
const dashboardPolicy =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The routes, in the order the OpenAPI document lists them. */
export function apiRoutes(deps: ApiDeps): Route[] {
  let document: OpenApiDocument | undefined;
  const routes: Route[] = [
    ...deploymentRoutes(deps),
    ...serviceRoutes(deps),
    ...operationRoutes(deps),
    defineRoute({
      method: "GET",
      path: "/",
      operationId: "dashboard",
      summary: "The deployments dashboard (it reads the API with the same credentials)",
      public: true,
      request: noInput,
      responses: { 200: { description: "The dashboard page", contentType: "text/html" } },
      async handle() {
        return {
          status: 200,
          text: dashboardPage,
          contentType: "text/html; charset=utf-8",
          headers: { "content-security-policy": dashboardPolicy, "x-content-type-options": "nosniff" },
        };
      },
    }),
    defineRoute({
      method: "GET",
      path: "/openapi.json",
      operationId: "openApiDocument",
      summary: "This API's OpenAPI 3.1 document",
      public: true,
      request: noInput,
      responses: { 200: { description: "The document", contentType: "application/json" } },
      async handle() {
        document ??= buildOpenApiDocument(routes, apiVersion);
        return { status: 200, json: document };
      },
    }),
  ];
  return routes;
}
