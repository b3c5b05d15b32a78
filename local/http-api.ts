/**
 * The local API Gateway: an HTTP server that turns each request into an HTTP API payload 2.0
 * event (`APIGatewayProxyEventV2`, route `$default`), invokes the function, and turns its result
 * back into a response by API Gateway's rules.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import * as z from "zod";
import { accountId, closeServer, type Log, listen, readBody } from "./endpoints.ts";

export interface HttpApiOptions {
  port?: number;
  /** Invokes the integration function with the event and returns its result. */
  invoke: (event: APIGatewayProxyEventV2) => Promise<unknown>;
  log?: Log;
}

export interface LocalHttpApi {
  url: string;
  close(): Promise<void>;
}

/** Content types API Gateway passes as text; other bodies arrive base64-encoded. */
function isTextContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  return (
    type.startsWith("text/") ||
    /^application\/([\w.-]+\+)?(json|xml)$/.test(type) ||
    type === "application/x-www-form-urlencoded" ||
    type === "application/javascript"
  );
}

/** `12/Mar/2020:19:03:58 +0000`, as `requestContext.time` has it. */
function requestTime(date: Date): string {
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const pad = (value: number) => String(value).padStart(2, "0");
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(
    date.getUTCMinutes(),
  )}:${pad(date.getUTCSeconds())} +0000`;
}

/** Builds the payload 2.0 event for a request and its body. */
export function toApiGatewayEvent(
  request: IncomingMessage,
  body: Buffer,
  now = new Date(),
): APIGatewayProxyEventV2 {
  const target = request.url ?? "/";
  const queryStart = target.indexOf("?");
  const rawPath = queryStart < 0 ? target : target.slice(0, queryStart);
  const rawQueryString = queryStart < 0 ? "" : target.slice(queryStart + 1);

  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [name, values] of Object.entries(request.headersDistinct)) {
    if (values === undefined) continue;
    // API Gateway moves cookies to their own field and joins repeated headers with commas.
    if (name === "cookie")
      cookies = values.flatMap((value) => value.split(";").map((cookie) => cookie.trim()));
    else headers[name] = values.join(",");
  }

  const queryStringParameters: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    queryStringParameters[name] =
      name in queryStringParameters ? `${queryStringParameters[name]},${value}` : value;
  }

  const host = headers.host ?? "127.0.0.1";
  const domainName = host.replace(/:\d+$/, "");
  const event: APIGatewayProxyEventV2 = {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId,
      apiId: "kiln-local",
      domainName,
      domainPrefix: domainName.split(".")[0] ?? domainName,
      http: {
        method: request.method ?? "GET",
        path: rawPath,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress?.replace(/^::ffff:/, "") ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: requestTime(now),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: false,
  };
  if (cookies !== undefined) event.cookies = cookies;
  if (rawQueryString !== "") event.queryStringParameters = queryStringParameters;
  if (body.length > 0) {
    const text = isTextContentType(headers["content-type"]);
    event.body = text ? body.toString("utf8") : body.toString("base64");
    event.isBase64Encoded = !text;
  }
  return event;
}

const structuredResultSchema = z.object({
  statusCode: z.number().int().min(100).max(599),
  headers: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  cookies: z.array(z.string()).optional(),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().optional(),
});

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

const internalServerError: HttpResponse = {
  statusCode: 500,
  headers: { "content-type": "application/json" },
  body: Buffer.from(JSON.stringify({ message: "Internal Server Error" })),
};

/**
 * A function's result as API Gateway returns it: a result with `statusCode` is the response;
 * anything else is a 200 JSON body; a malformed structured result is a 500.
 */
export function fromFunctionResult(result: unknown): HttpResponse {
  const isStructured =
    typeof result === "object" && result !== null && !Array.isArray(result) && "statusCode" in result;
  if (!isStructured) {
    return {
      statusCode: 200,
      headers: { "content-type": "application/json" },
      body: Buffer.from(JSON.stringify(result ?? null)),
    };
  }
  const parsed = structuredResultSchema.safeParse(result);
  if (!parsed.success) return internalServerError;
  const { statusCode, headers = {}, cookies, body = "", isBase64Encoded = false } = parsed.data;
  const responseHeaders: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) responseHeaders[name.toLowerCase()] = String(value);
  if (cookies !== undefined && cookies.length > 0) responseHeaders["set-cookie"] = cookies;
  return {
    statusCode,
    headers: responseHeaders,
    body: Buffer.from(body, isBase64Encoded ? "base64" : "utf8"),
  };
}

function send(response: ServerResponse, reply: HttpResponse): void {
  response
    .writeHead(reply.statusCode, { ...reply.headers, "content-length": reply.body.length })
    .end(reply.body);
}

/** Starts the local HTTP API in front of one function. */
export async function startHttpApi(options: HttpApiOptions): Promise<LocalHttpApi> {
  const log = options.log ?? (() => {});
  const server = createServer((request, response) => {
    void (async () => {
      try {
        const event = toApiGatewayEvent(request, await readBody(request));
        let reply: HttpResponse;
        try {
          reply = fromFunctionResult(await options.invoke(event));
        } catch (error) {
          log(`http-api: ${event.requestContext.http.method} ${event.rawPath} failed: ${String(error)}`);
          reply = internalServerError;
        }
        send(response, reply);
      } catch (error) {
        log(`http-api: could not answer a request: ${String(error)}`);
        if (!response.headersSent) send(response, internalServerError);
        else response.destroy();
      }
    })();
  });
  const url = await listen(server, options.port ?? 0, "HTTP API");
  return { url, close: () => closeServer(server) };
}
