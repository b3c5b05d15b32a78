/**
 * The router on its own, with events as API Gateway sends them on AWS: the identity its
 * authorizer proved, a request that came through none (refused), and a failure nobody expected
 * (a 500 with a request id and nothing else, the stack only in the log).
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { describe, expect, it } from "vitest";
import * as z from "zod";
import { createAuthenticator } from "../../functions/api/auth.ts";
import { createRouter, defineRoute, noInput } from "../../functions/api/router.ts";

function event(
  method: string,
  path: string,
  authorizer?: unknown,
): APIGatewayProxyEventV2 & { requestContext: { authorizer?: unknown } } {
  return {
    version: "2.0",
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: "",
    headers: {},
    isBase64Encoded: false,
    requestContext: {
      accountId: "123456789012",
      apiId: "a1b2c3",
      domainName: "a1b2c3.execute-api.eu-west-1.amazonaws.com",
      domainPrefix: "a1b2c3",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "203.0.113.9", userAgent: "kiln" },
      requestId: "req-1",
      routeKey: `${method} ${path}`,
      stage: "$default",
      time: "02/Mar/2026:09:00:00 +0000",
      timeEpoch: 0,
      ...(authorizer === undefined ? {} : { authorizer }),
    },
  };
}

function routerFor(handle: () => Promise<never> | Promise<{ status: number; json: unknown }>) {
  const errors: Array<Record<string, unknown>> = [];
  const router = createRouter(
    [
      defineRoute({
        method: "GET",
        path: "/whoami",
        operationId: "whoAmI",
        summary: "the caller",
        request: noInput,
        responses: { 200: { description: "the caller", schema: z.object({ by: z.string() }) } },
        async handle({ caller }) {
          await handle();
          return { status: 200, json: { by: caller?.id ?? "nobody" } };
        },
      }),
    ],
    {
      authenticator: createAuthenticator(undefined),
      log: { debug: () => {}, error: (_message, details) => errors.push(details) },
    },
  );
  return { router, errors };
}

const ok = async () => ({ status: 200, json: {} });

describe("the router behind API Gateway's IAM auth", () => {
  it("takes the caller from the IAM authorizer's identity", async () => {
    const { router } = routerFor(ok);
    const iam = { iam: { userArn: "arn:aws:iam::123456789012:user/ana", accountId: "123456789012" } };

    const response = await router.handle(event("GET", "/whoami", iam));

    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body ?? "")).toEqual({ by: "arn:aws:iam::123456789012:user/ana" });
  });

  it("takes the caller from a JWT's email or subject", async () => {
    const { router } = routerFor(ok);

    const response = await router.handle(
      event("GET", "/whoami", { jwt: { claims: { sub: "u-1", email: "ana@example.com" }, scopes: null } }),
    );

    expect(JSON.parse(response.body ?? "")).toEqual({ by: "ana@example.com" });
  });

  it("refuses a request that came through no authorizer: a route wired without auth fails closed", async () => {
    const { router } = routerFor(ok);

    const response = await router.handle(event("GET", "/whoami"));

    expect(response.statusCode).toBe(401);
    expect(response.headers?.["www-authenticate"]).toContain("Bearer");
  });

  it("answers an unexpected failure with a 500 that carries only the request id, and logs the stack", async () => {
    const { router, errors } = routerFor(async () => {
      throw new TypeError("cannot read properties of undefined (reading 'imageId')");
    });

    const response = await router.handle(
      event("GET", "/whoami", { iam: { userArn: "arn:aws:iam::123456789012:user/ana" } }),
    );

    expect(response.statusCode).toBe(500);
    expect(JSON.parse(response.body ?? "")).toEqual({
      error: "InternalError",
      message: "the request failed; quote request id req-1 when reporting it",
      requestId: "req-1",
    });
    expect(response.body).not.toContain("imageId");
    expect(errors).toEqual([
      expect.objectContaining({
        requestId: "req-1",
        errorName: "TypeError",
        stack: expect.stringContaining("TypeError"),
      }),
    ]);
  });

  it("answers an event that is not an HTTP API payload 2.0 event with a 500", async () => {
    const { router } = routerFor(ok);

    const response = await router.handle({ httpMethod: "GET", path: "/whoami" });

    expect(response.statusCode).toBe(500);
  });
});
