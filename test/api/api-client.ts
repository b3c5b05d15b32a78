/**
 * Calls the local cloud's operator API over HTTP for tests, keeping every answer so that a test
 * can hold the answers to the OpenAPI document afterwards.
 */
import { readFile } from "node:fs/promises";
import type { LocalCloud } from "../../local/cloud.ts";

export interface ApiAnswer {
  method: string;
  /** The path without its query string. */
  path: string;
  status: number;
  contentType: string;
  headers: Headers;
  body: unknown;
}

export interface CallOptions {
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is, with a JSON content type (for malformed bodies). */
  rawBody?: string;
  /** `null` sends no Authorization header; a string replaces the token. */
  token?: string | null;
  /** A whole Authorization header value. */
  authorization?: string;
}

export interface TestApi {
  url: string;
  token: string;
  answers: ApiAnswer[];
  call(method: string, path: string, options?: CallOptions): Promise<ApiAnswer>;
}

/** A client for the cloud's HTTP API with the token the cloud generated. */
export async function testApi(cloud: LocalCloud): Promise<TestApi> {
  const tokenFile = cloud.env.KILN_API_TOKEN_FILE;
  if (!tokenFile) throw new Error("the local cloud sets no KILN_API_TOKEN_FILE");
  const token = (await readFile(tokenFile, "utf8")).trim();
  const answers: ApiAnswer[] = [];
  const url = cloud.endpoints.httpApi;
  return {
    url,
    token,
    answers,
    async call(method, path, options = {}) {
      const headers: Record<string, string> = {};
      const bearer = options.token === undefined ? token : options.token;
      if (options.authorization !== undefined) headers.authorization = options.authorization;
      else if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
      let body: string | undefined;
      if (options.rawBody !== undefined) body = options.rawBody;
      else if (options.body !== undefined) body = JSON.stringify(options.body);
      if (body !== undefined) headers["content-type"] = "application/json";
      const response = await fetch(`${url}${path}`, { method, headers, body });
      const text = await response.text();
      const contentType = response.headers.get("content-type") ?? "";
      const answer: ApiAnswer = {
        method,
        path: path.split("?")[0] ?? path,
        status: response.status,
        contentType,
        headers: response.headers,
        body: contentType.includes("json") ? JSON.parse(text) : text,
      };
      answers.push(answer);
      return answer;
    },
  };
}
