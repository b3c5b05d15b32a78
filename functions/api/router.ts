/**
 * The operator API's router: API Gateway (HTTP API, payload 2.0) events in, responses out. A route
 * declares its method, path, schemas and responses once; the router matches it, checks the
 * caller, parses params, query and body with the route's zod schemas (every problem reported by
 * field), runs it, and maps Kiln's typed errors to status codes in one place. The OpenAPI document
 * is built from the same declarations (openapi.ts).
 */
import { randomUUID } from "node:crypto";
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import * as z from "zod";
import {
  ArtifactRejectedError,
  ConflictError,
  DeploymentInProgressError,
  DeploymentNotFoundError,
  InvalidInputError,
  InvalidTransitionError,
  PruneAbortedError,
  ResourceNotFoundError,
  ServiceConfigError,
  TransientAwsError,
  UnknownServiceError,
} from "../../core/errors.ts";
import { type Authenticator, type Caller, unauthorizedMessage } from "./auth.ts";

export type Method = "GET" | "POST" | "PUT" | "DELETE";

export interface RouteContext {
  caller: Caller | undefined;
  requestId: string;
  /** Milliseconds before the function is stopped (API Gateway gives up after 30 s). */
  timeLeftMs: () => number;
}

export type RouteResult =
  | { status: number; json: unknown; headers?: Record<string, string> }
  | { status: number; text: string; contentType: string; headers?: Record<string, string> };

export interface ResponseSpec {
  description: string;
  /** The JSON body's schema; absent for a body that is not JSON (see contentType). */
  schema?: z.ZodType;
  contentType?: string;
}

/**
 * What a route reads, as one object schema with up to three parts: `params` (from the path),
 * `query` and `body`. Parsing it once reports every problem with its field (`body.group.name`).
 */
export type RequestSchema = z.ZodObject<{
  params?: z.ZodObject<z.ZodRawShape>;
  query?: z.ZodObject<z.ZodRawShape>;
  body?: z.ZodType;
}>;

export interface RouteSpec<R extends RequestSchema> {
  method: Method;
  /** `/deployments/{id}`: braces name a path parameter. */
  path: string;
  operationId: string;
  summary: string;
  /** No credentials needed: the dashboard page and the OpenAPI document. */
  public?: boolean;
  request: R;
  /** The success responses; the error responses every route shares are added by the document. */
  responses: Record<number, ResponseSpec>;
  handle(input: z.output<R> & RouteContext): Promise<RouteResult>;
}

export interface RawRequest {
  params: Record<string, string>;
  query: Record<string, string>;
  /** The body parsed as JSON, or undefined when there was none. */
  body: unknown;
}

/** A route with its schema erased: `run` parses with it before calling the handler. */
export interface Route {
  method: Method;
  path: string;
  operationId: string;
  summary: string;
  public: boolean;
  request: RequestSchema;
  responses: Record<number, ResponseSpec>;
  run(raw: RawRequest, context: RouteContext): Promise<RouteResult>;
}

export interface FieldIssue {
  field: string;
  message: string;
}

/** A request whose params, query or body fail their schemas; every issue names its field. */
export class RequestValidationError extends Error {
  override readonly name = "RequestValidationError";

  constructor(readonly issues: FieldIssue[]) {
    super(`invalid request: ${issues.map((issue) => `${issue.field}: ${issue.message}`).join("; ")}`);
  }
}

/** A route that reads nothing from the request. */
export const noInput = z.object({});

/** Declares a route; its handler receives exactly what its request schema produces. */
export function defineRoute<R extends RequestSchema>(spec: RouteSpec<R>): Route {
  return {
    method: spec.method,
    path: spec.path,
    operationId: spec.operationId,
    summary: spec.summary,
    public: spec.public ?? false,
    request: spec.request,
    responses: spec.responses,
    async run(raw, context) {
      const parsed = spec.request.safeParse(raw);
      if (!parsed.success) {
        throw new RequestValidationError(
          parsed.error.issues.map((issue) => {
            const field = issue.path.map(String).join(".");
            const missingBody = field === "body" && raw.body === undefined;
            return { field, message: missingBody ? "a JSON body is required" : issue.message };
          }),
        );
      }
      return spec.handle({ ...parsed.data, ...context });
    },
  };
}

const apiEventSchema = z.looseObject({
  version: z.literal("2.0"),
  rawPath: z.string(),
  headers: z.record(z.string(), z.string()).default({}),
  queryStringParameters: z.record(z.string(), z.string()).optional(),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().default(false),
  requestContext: z.looseObject({
    requestId: z.string(),
    http: z.looseObject({ method: z.string() }),
    authorizer: z.unknown().optional(),
  }),
});

interface ErrorBody {
  error: string;
  message: string;
  requestId: string;
  issues?: FieldIssue[];
}

export const errorBodySchema = z.object({
  error: z.string().describe("What went wrong, as a stable code: InvalidRequest, NotFound, Conflict, …"),
  message: z.string(),
  requestId: z.string().describe("Quote it when asking about a failed request: the logs carry it"),
  issues: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});

/** InvalidInputError issues read `path: message`; split them back into fields where they do. */
function issuesOf(error: InvalidInputError): FieldIssue[] {
  return error.issues.map((issue) => {
    const match = /^([\w.[\]-]+): (.*)$/s.exec(issue);
    return match?.[1] && match[2]
      ? { field: match[1], message: match[2] }
      : { field: error.what, message: issue };
  });
}

/** Kiln's typed errors as HTTP answers; anything unexpected is a 500 that says only its request id. */
export function errorResponse(
  error: unknown,
  requestId: string,
): { status: number; body: ErrorBody; expected: boolean } {
  const answer = (status: number, code: string, message: string, issues?: FieldIssue[]) => ({
    status,
    body: { error: code, message, requestId, ...(issues ? { issues } : {}) },
    expected: true,
  });
  if (error instanceof RequestValidationError)
    return answer(400, "InvalidRequest", "the request is invalid", error.issues);
  if (error instanceof InvalidInputError)
    return answer(400, "InvalidRequest", error.message, issuesOf(error));
  if (error instanceof ArtifactRejectedError) return answer(400, "ArtifactRejected", error.message);
  if (error instanceof ServiceConfigError) return answer(400, "InvalidServiceConfig", error.message);
  if (error instanceof UnknownServiceError) return answer(404, "UnknownService", error.message);
  if (error instanceof DeploymentNotFoundError) return answer(404, "DeploymentNotFound", error.message);
  if (error instanceof ResourceNotFoundError) return answer(404, "NotFound", error.message);
  if (
    error instanceof ConflictError ||
    error instanceof InvalidTransitionError ||
    error instanceof DeploymentInProgressError
  ) {
    return answer(409, "Conflict", error.message);
  }
  if (error instanceof PruneAbortedError) return answer(503, "PruneAborted", error.message);
  if (error instanceof TransientAwsError)
    return answer(503, "Unavailable", "AWS is throttling or unavailable: try again shortly");
  return {
    status: 500,
    body: {
      error: "InternalError",
      message: `the request failed; quote request id ${requestId} when reporting it`,
      requestId,
    },
    expected: false,
  };
}

function compilePath(path: string): { pattern: RegExp; names: string[] } {
  const names: string[] = [];
  const source = path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{(\w+)\}/g, (_match, name: string) => {
    names.push(name);
    return "([^/]+)";
  });
  return { pattern: new RegExp(`^${source}/?$`), names };
}

export interface RouterOptions {
  authenticator: Authenticator;
  log: {
    debug(message: string, details: Record<string, unknown>): void;
    error(message: string, details: Record<string, unknown>): void;
  };
}

export interface Router {
  routes: Route[];
  handle(event: unknown, timeLeftMs?: () => number): Promise<APIGatewayProxyStructuredResultV2>;
}

function respond(
  status: number,
  result: RouteResult | { json: ErrorBody },
  requestId: string,
  extra: Record<string, string> = {},
) {
  const headers: Record<string, string> = {
    "cache-control": "no-store",
    "x-kiln-request-id": requestId,
    ...extra,
  };
  const custom = "headers" in result ? result.headers : undefined;
  if ("text" in result) {
    return {
      statusCode: status,
      headers: { ...headers, ...custom, "content-type": result.contentType },
      body: result.text,
    };
  }
  return {
    statusCode: status,
    headers: { ...headers, ...custom, "content-type": "application/json" },
    body: JSON.stringify(result.json),
  };
}

function decodePart(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Builds the router over `routes`. */
export function createRouter(routes: Route[], options: RouterOptions): Router {
  const compiled = routes.map((route) => ({ route, ...compilePath(route.path) }));

  async function dispatch(
    event: z.infer<typeof apiEventSchema>,
    requestId: string,
    timeLeftMs: () => number,
  ): Promise<APIGatewayProxyStructuredResultV2> {
    const method = event.requestContext.http.method.toUpperCase();
    const path = event.rawPath;
    const onPath = compiled.flatMap((entry) => {
      const match = entry.pattern.exec(path);
      return match ? [{ ...entry, values: match.slice(1).map(decodePart) }] : [];
    });
    if (onPath.length === 0) {
      return respond(
        404,
        { json: errorResponse(new ResourceNotFoundError(`no route for ${path}`), requestId).body },
        requestId,
      );
    }
    const found = onPath.find((entry) => entry.route.method === method);
    if (!found) {
      const allow = [...new Set(onPath.map((entry) => entry.route.method))].join(", ");
      const body = {
        error: "MethodNotAllowed",
        message: `${path} answers ${allow}, not ${method}`,
        requestId,
      };
      return respond(405, { json: body }, requestId, { allow });
    }

    const headers = Object.fromEntries(
      Object.entries(event.headers).map(([name, value]) => [name.toLowerCase(), value]),
    );
    const caller = options.authenticator({ headers, authorizer: event.requestContext.authorizer });
    if (!found.route.public && !caller) {
      const body = { error: "Unauthorized", message: unauthorizedMessage, requestId };
      return respond(401, { json: body }, requestId, { "www-authenticate": 'Bearer realm="kiln"' });
    }

    const params = Object.fromEntries(found.names.map((name, index) => [name, found.values[index] ?? ""]));
    const text =
      event.body === undefined
        ? ""
        : event.isBase64Encoded
          ? Buffer.from(event.body, "base64").toString("utf8")
          : event.body;
    let body: unknown;
    if (text.trim() !== "") {
      try {
        body = JSON.parse(text);
      } catch (error) {
        throw new RequestValidationError([
          {
            field: "body",
            message: `not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
          },
        ]);
      }
    }
    const result = await found.route.run(
      { params, query: event.queryStringParameters ?? {}, body },
      { caller, requestId, timeLeftMs },
    );
    return respond(result.status, result, requestId);
  }

  return {
    routes,
    async handle(event, timeLeftMs = () => 29_000) {
      const started = Date.now();
      const parsed = apiEventSchema.safeParse(event);
      const requestId = parsed.success ? parsed.data.requestContext.requestId : randomUUID();
      let response: APIGatewayProxyStructuredResultV2;
      try {
        if (!parsed.success) throw new Error(`not an HTTP API payload 2.0 event: ${parsed.error.message}`);
        response = await dispatch(parsed.data, requestId, timeLeftMs);
      } catch (error) {
        const mapped = errorResponse(error, requestId);
        if (!mapped.expected) {
          options.log.error("api request failed", {
            requestId,
            errorName: error instanceof Error ? error.name : typeof error,
            error: error instanceof Error ? error.message : String(error),
            stack: error instanceof Error ? error.stack : undefined,
          });
        }
        response = respond(mapped.status, { json: mapped.body }, requestId);
      }
      options.log.debug("api request", {
        requestId,
        method: parsed.success ? parsed.data.requestContext.http.method : undefined,
        path: parsed.success ? parsed.data.rawPath : undefined,
        status: response.statusCode,
        ms: Date.now() - started,
      });
      return response;
    },
  };
}
