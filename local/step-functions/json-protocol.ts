/**
 * The AWS JSON 1.0 protocol as Step Functions speaks it: `POST /` with
 * `x-amz-target: AWSStepFunctions.<Action>`, a JSON body, and errors as `{ __type, message }`
 * (which the SDK turns into an exception named `__type`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import * as z from "zod";
import { readBody } from "../endpoints.ts";

export class SfnError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = code;
  }
}

export type SfnAction = (body: unknown) => Promise<Record<string, unknown>>;

const contentType = "application/x-amz-json-1.0";

/** Answers one request by dispatching it to `actions[<Action>]`. */
export async function handleJsonRequest(
  request: IncomingMessage,
  response: ServerResponse,
  actions: Record<string, SfnAction>,
): Promise<void> {
  try {
    const target = request.headers["x-amz-target"];
    const action =
      typeof target === "string" && target.startsWith("AWSStepFunctions.") ? target.slice(17) : undefined;
    if (request.method !== "POST" || action === undefined) {
      throw new SfnError(
        "UnknownOperationException",
        "Expected POST / with x-amz-target: AWSStepFunctions.<Action>",
      );
    }
    const handler = Object.hasOwn(actions, action) ? actions[action] : undefined;
    if (handler === undefined) {
      throw new SfnError(
        "UnknownOperationException",
        `The local Step Functions does not implement ${action}`,
      );
    }
    const text = (await readBody(request)).toString("utf8");
    let body: unknown;
    try {
      body = text === "" ? {} : JSON.parse(text);
    } catch {
      throw new SfnError("SerializationException", "The request body is not JSON");
    }
    send(response, 200, await handler(body));
  } catch (error) {
    if (error instanceof SfnError) {
      send(response, error.status, { __type: error.code, message: error.message }, error.code);
    } else if (error instanceof z.ZodError) {
      send(
        response,
        400,
        { __type: "ValidationException", message: z.prettifyError(error) },
        "ValidationException",
      );
    } else {
      const message = error instanceof Error ? error.message : String(error);
      send(response, 500, { __type: "InternalFailure", message }, "InternalFailure");
    }
  }
}

function send(response: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    "content-type": contentType,
    "content-length": Buffer.byteLength(text),
  };
  if (errorType !== undefined) headers["x-amzn-errortype"] = errorType;
  response.writeHead(status, headers).end(text);
}

/** Parses a request body against an action's input schema (a failure becomes ValidationException). */
export function parseInput<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  return schema.parse(body);
}

/** An opaque paging token that remembers where the last page ended. */
export function encodeToken(after: string): string {
  return Buffer.from(JSON.stringify({ after }), "utf8").toString("base64url");
}

const tokenSchema = z.object({ after: z.string() });

/** The position a paging token points after; InvalidToken when it is not one of ours. */
export function decodeToken(token: string): string {
  try {
    return tokenSchema.parse(JSON.parse(Buffer.from(token, "base64url").toString("utf8"))).after;
  } catch {
    throw new SfnError("InvalidToken", "Invalid Token: the nextToken was not issued by this service");
  }
}

/** One page of `items` (already in order) after the token's item. */
export function pageOf<T>(
  items: T[],
  keyOf: (item: T) => string,
  maxResults: number | undefined,
  nextToken: string | undefined,
): { page: T[]; nextToken?: string } {
  const limit = maxResults === undefined || maxResults === 0 ? 100 : maxResults;
  let start = 0;
  if (nextToken !== undefined) {
    const after = decodeToken(nextToken);
    const index = items.findIndex((item) => keyOf(item) === after);
    if (index < 0)
      throw new SfnError("InvalidToken", "Invalid Token: the item it points after no longer exists");
    start = index + 1;
  }
  const page = items.slice(start, start + limit);
  const last = page.at(-1);
  return start + limit < items.length && last !== undefined
    ? { page, nextToken: encodeToken(keyOf(last)) }
    : { page };
}
