import type { KilnSettings } from "./settings.ts";

/** The operator routes the api function serves (the CLI and `POST /deployments` callers use them). */
export const apiRoutes = [
  "POST /deployments",
  "GET /deployments",
  "GET /deployments/{id}",
  "POST /deployments/{id}/cancel",
  "POST /uploads",
  "GET /services",
  "PUT /services/{name}",
  "GET /services/{name}",
  "GET /services/{name}/deployments",
  "POST /services/{name}/rollback",
  "GET /services/{name}/images",
  "POST /prune",
] as const;

/** The HTTP API: every route goes to the api function and every route requires auth. */
export function createApi(settings: KilnSettings, apiFunctionArn: $util.Input<string>) {
  const api = new sst.aws.ApiGatewayV2("OperatorApi", {
    accessLog: { retention: "1 month" },
    // Operators call the API from the CLI (SigV4) or a service with a token, never a browser.
    cors: false,
  });
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
  for (const route of apiRoutes) api.route(route, apiFunctionArn, { auth });
  return api;
}
