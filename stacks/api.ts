import type { KilnSettings } from "./settings.ts";

/** The operator routes the api function serves; each requires IAM (SigV4) auth, or a JWT. */
export const operatorRoutes = [
  "POST /deployments",
  "GET /deployments",
  "GET /deployments/{id}",
  "POST /deployments/{id}/cancel",
  "GET /services",
  "PUT /services/{name}",
  "GET /services/{name}",
  "GET /services/{name}/deployments",
  "GET /services/{name}/images",
  "GET /services/{name}/instances",
  "POST /services/{name}/rollback",
  "POST /uploads",
  "POST /prune",
] as const;

/** Routes that hold no data: the dashboard page (it calls the API with its own credentials) and the API's description. */
export const publicRoutes = ["GET /", "GET /openapi.json"] as const;

/**
 * The HTTP API, made before the functions: its URL is the dashboard's, which the functions that
 * notify put in their messages. Its routes come after them (`routeApi`): the API itself does not
 * depend on the api function, so the api function may read the URL too.
 */
export function createApi() {
  return new sst.aws.ApiGatewayV2("OperatorApi", {
    accessLog: { retention: "1 month" },
    // The dashboard is served from the API's own origin; no other origin needs to call it.
    cors: false,
  });
}

/** Every route goes to the api function; all but the public ones require auth. */
export function routeApi(
  api: sst.aws.ApiGatewayV2,
  settings: KilnSettings,
  apiFunctionArn: $util.Input<string>,
) {
  const auth = settings.jwt
    ? {
        jwt: {
          authorizer: api.addAuthorizer({
            name: "KilnJwt",
            jwt: { issuer: settings.jwt.issuer, audiences: settings.jwt.audiences },
          }).id,
        },
      }
    : { iam: true };
  for (const route of operatorRoutes) api.route(route, apiFunctionArn, { auth });
  for (const route of publicRoutes) api.route(route, apiFunctionArn, { auth: false });
}
