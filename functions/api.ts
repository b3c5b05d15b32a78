/** The operator API behind API Gateway (HTTP API, payload 2.0): routes in functions/api/routes/, one router. */
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { apiDepsFromEnvironment } from "./api/api-deps.ts";
import { apiRoutes } from "./api/api-routes.ts";
import { configuredApiToken, createAuthenticator } from "./api/auth.ts";
import { createRouter } from "./api/router.ts";
import { logger } from "./observability.ts";

/** The router, exported for the test that holds the OpenAPI document to its routes. */
export const router = createRouter(apiRoutes(apiDepsFromEnvironment()), {
  authenticator: createAuthenticator(configuredApiToken()),
  log: logger,
});

export const handler = middy<unknown, APIGatewayProxyStructuredResultV2, Error, Context>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler((event, context) => router.handle(event, () => context.getRemainingTimeInMillis()));
