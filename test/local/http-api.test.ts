import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromFunctionResult, type LocalHttpApi, startHttpApi } from "../../local/http-api.ts";

describe("local HTTP API", () => {
  let api: LocalHttpApi;
  let lastEvent: APIGatewayProxyEventV2 | undefined;
  let nextResult: () => unknown = () => ({ ok: true });

  beforeAll(async () => {
    api = await startHttpApi({
      invoke: async (event) => {
        lastEvent = event;
        return nextResult();
      },
    });
  });

  afterAll(async () => {
    await api?.close();
  });

  it("turns a request into a payload 2.0 event", async () => {
    nextResult = () => ({ ok: true });
    await fetch(`${api.url}/deployments/web?limit=5&status=a&status=b`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "X-Kiln-Actor": "alice",
        "User-Agent": "kiln-cli/1",
        Cookie: "a=1; b=2",
      },
      body: JSON.stringify({ artifactKey: "artifacts/web/1.0.tgz" }),
    });

    expect(lastEvent).toMatchObject({
      version: "2.0",
      routeKey: "$default",
      rawPath: "/deployments/web",
      rawQueryString: "limit=5&status=a&status=b",
      cookies: ["a=1", "b=2"],
      queryStringParameters: { limit: "5", status: "a,b" },
      body: JSON.stringify({ artifactKey: "artifacts/web/1.0.tgz" }),
      isBase64Encoded: false,
      requestContext: {
        routeKey: "$default",
        stage: "$default",
        http: { method: "POST", path: "/deployments/web", sourceIp: "127.0.0.1", userAgent: "kiln-cli/1" },
      },
    });
    expect(lastEvent?.headers).toMatchObject({ "content-type": "application/json", "x-kiln-actor": "alice" });
    expect(lastEvent?.headers.cookie).toBeUndefined();
    expect(lastEvent?.requestContext.time).toMatch(/^\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
  });

  it("passes a binary body base64-encoded and leaves out what a GET does not have", async () => {
    await fetch(`${api.url}/upload`, {
      method: "PUT",
      headers: { "content-type": "application/gzip" },
      body: new Uint8Array([0x1f, 0x8b, 0x08]),
    });
    const binary = lastEvent;
    await fetch(`${api.url}/deployments`);

    expect(binary).toMatchObject({ body: "H4sI", isBase64Encoded: true });
    expect(lastEvent?.body).toBeUndefined();
    expect(lastEvent?.queryStringParameters).toBeUndefined();
    expect(lastEvent?.rawQueryString).toBe("");
  });

  it("returns a structured result as the response", async () => {
    nextResult = () => ({
      statusCode: 202,
      headers: { "Content-Type": "application/json", "X-Deployment-Id": "d-1" },
      cookies: ["session=x"],
      body: JSON.stringify({ deploymentId: "d-1" }),
    });
    const response = await fetch(`${api.url}/deployments`, { method: "POST" });

    expect(response.status).toBe(202);
    expect(response.headers.get("x-deployment-id")).toBe("d-1");
    expect(response.headers.get("set-cookie")).toBe("session=x");
    expect(await response.json()).toEqual({ deploymentId: "d-1" });
  });

  it("returns a plain value as 200 JSON and a failing function as 500", async () => {
    nextResult = () => [{ id: "d-1" }];
    const plain = await fetch(`${api.url}/deployments`);
    nextResult = () => {
      throw new Error("boom");
    };
    const failed = await fetch(`${api.url}/deployments`);

    expect(plain.status).toBe(200);
    expect(plain.headers.get("content-type")).toBe("application/json");
    expect(await plain.json()).toEqual([{ id: "d-1" }]);
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ message: "Internal Server Error" });
  });
});

describe("fromFunctionResult", () => {
  it("decodes a base64 body", () => {
    const response = fromFunctionResult({
      statusCode: 200,
      body: Buffer.from("tgz").toString("base64"),
      isBase64Encoded: true,
    });

    expect(response.body.toString()).toBe("tgz");
  });

  it("answers 500 for a structured result of the wrong shape", () => {
    expect(fromFunctionResult({ statusCode: "two hundred" }).statusCode).toBe(500);
  });
});
