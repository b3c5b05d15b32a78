/**
 * The operator API as the CLI sees it: where it is (`--api`, else KILN_API_URL, else the local
 * cloud's endpoints.json), how to prove who is calling (the local cloud's bearer token, or SigV4
 * with the caller's AWS credentials for a deployed stage), and a typed method per route whose
 * answers are parsed with the same schemas the API documents.
 */
import { readFile } from "node:fs/promises";
import * as z from "zod";
import {
  type DeploymentPage,
  type DeploymentView,
  deploymentPageSchema,
  deploymentViewSchema,
  type ServiceView,
  serviceImagesSchema,
  serviceInstancesSchema,
  serviceListSchema,
  serviceViewSchema,
  uploadTicketSchema,
} from "../core/operations/views.ts";
import { pruneRunSchema } from "../core/prune/prune-run.ts";
import { readLocalCloudInfo, runningCloudPid } from "../local/endpoints.ts";
import { CliError } from "./cli-command.ts";
import {
  type CredentialSource,
  defaultCredentials,
  regionOfApiUrl,
  signedHeaders,
} from "./request-signing.ts";

export type ApiAuth =
  | { kind: "bearer"; token: string }
  | { kind: "sigv4"; region: string; credentials: CredentialSource };

export interface ApiTarget {
  url: string;
  auth: ApiAuth;
}

export interface TargetOptions {
  /** `--api`. */
  api?: string | undefined;
  /** The local cloud's state folder. */
  stateDir: string;
  env?: NodeJS.ProcessEnv;
}

const loopback = new Set(["127.0.0.1", "localhost", "[::1]"]);

async function tokenFrom(file: string): Promise<string> {
  try {
    const token = (await readFile(file, "utf8")).trim();
    if (token !== "") return token;
  } catch (error) {
    throw new CliError(
      `cannot read the API token in ${file}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  throw new CliError(`the API token file ${file} is empty`);
}

/** Finds the API and the credentials to call it with. */
export async function resolveApiTarget(options: TargetOptions): Promise<ApiTarget> {
  const env = options.env ?? process.env;
  const running = (await runningCloudPid(options.stateDir)) !== undefined;
  const local = running ? await readLocalCloudInfo(options.stateDir) : undefined;
  const given = options.api ?? (env.KILN_API_URL || undefined);
  const url = (given ?? local?.endpoints.httpApi)?.replace(/\/+$/, "");
  if (url === undefined) {
    throw new CliError(
      "no API to talk to: start the local cloud (`npx kiln local start --detach`), or pass --api <url> (or set KILN_API_URL) for a deployed stage",
    );
  }
  let origin: string;
  try {
    origin = new URL(url).origin;
  } catch {
    throw new CliError(`--api must be a URL, got "${url}"`, 2);
  }

  if (env.KILN_API_TOKEN) return { url, auth: { kind: "bearer", token: env.KILN_API_TOKEN } };
  if (env.KILN_API_TOKEN_FILE)
    return { url, auth: { kind: "bearer", token: await tokenFrom(env.KILN_API_TOKEN_FILE) } };
  const localTokenFile = local?.env.KILN_API_TOKEN_FILE;
  if (local && localTokenFile && new URL(local.endpoints.httpApi).origin === origin) {
    return { url, auth: { kind: "bearer", token: await tokenFrom(localTokenFile) } };
  }
  if (loopback.has(new URL(url).hostname)) {
    throw new CliError(
      `${url} is a local API, but no local cloud runs on ${options.stateDir}: pass --state-dir, or set KILN_API_TOKEN`,
    );
  }
  const region = regionOfApiUrl(url) ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (region === undefined) throw new CliError(`cannot tell the region of ${url}: set AWS_REGION`);
  return { url, auth: { kind: "sigv4", region, credentials: defaultCredentials } };
}

const errorSchema = z.object({
  error: z.string(),
  message: z.string(),
  requestId: z.string().optional(),
  issues: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});

/** An answer the API gave as an error: its message, and each field it names. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: Array<{ field: string; message: string }> = [],
  ) {
    super([message, ...issues.map((issue) => `  ${issue.field}: ${issue.message}`)].join("\n"));
  }
}

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
}

/** A typed client of the operator API. */
export class KilnApi {
  constructor(
    readonly target: ApiTarget,
    private readonly fetcher: typeof fetch = fetch,
  ) {}

  /** One call; a non-2xx answer becomes an ApiError, a 2xx one is parsed with `schema`. */
  async request<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    options: RequestOptions = {},
  ): Promise<{ status: number; body: z.output<S> }> {
    const url = new URL(`${this.target.url}${path}`);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    const auth = this.target.auth;
    const sent =
      auth.kind === "bearer"
        ? { ...headers, authorization: `Bearer ${auth.token}` }
        : await signedHeaders({ method, url: url.toString(), headers, body }, auth.region, auth.credentials);

    let response: Response;
    try {
      response = await this.fetcher(url, { method, headers: sent, body });
    } catch (error) {
      const reason =
        error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
      throw new CliError(`cannot reach the API at ${this.target.url}: ${reason}`);
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {
      throw new CliError(
        `${method} ${path} answered ${response.status} with something that is not JSON: ${text.slice(0, 200)}`,
      );
    }
    if (!response.ok) {
      const error = errorSchema.safeParse(json);
      if (error.success)
        throw new ApiError(response.status, error.data.error, error.data.message, error.data.issues);
      // API Gateway's own refusals (IAM auth) carry only `message`.
      const message = z.object({ message: z.string() }).safeParse(json);
      throw new ApiError(
        response.status,
        "HttpError",
        `${method} ${path} answered ${response.status}: ${message.success ? message.data.message : text.slice(0, 200)}`,
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new CliError(
        `${method} ${path} answered in a shape this CLI does not know (is it a newer Kiln?): ${parsed.error.message}`,
      );
    }
    return { status: response.status, body: parsed.data };
  }

  /** A deployment, or undefined while there is none by that id (an upload not yet picked up). */
  async findDeployment(id: string): Promise<DeploymentView | undefined> {
    try {
      return (await this.request("GET", `/deployments/${encodeURIComponent(id)}`, deploymentViewSchema)).body;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  async getDeployment(id: string): Promise<DeploymentView> {
    return (await this.request("GET", `/deployments/${encodeURIComponent(id)}`, deploymentViewSchema)).body;
  }

  async listDeployments(query: {
    service?: string;
    status?: string;
    limit?: number;
    cursor?: string;
  }): Promise<DeploymentPage> {
    return (await this.request("GET", "/deployments", deploymentPageSchema, { query })).body;
  }

  async requestUpload(service: string, version: string) {
    return (await this.request("POST", "/uploads", uploadTicketSchema, { body: { service, version } })).body;
  }

  async cancel(id: string) {
    return this.request("POST", `/deployments/${encodeURIComponent(id)}/cancel`, deploymentViewSchema);
  }

  async rollBack(service: string, target: { deploymentId?: string; imageId?: string }) {
    return this.request("POST", `/services/${encodeURIComponent(service)}/rollback`, deploymentViewSchema, {
      body: target,
    });
  }

  async listServices(): Promise<ServiceView[]> {
    return (await this.request("GET", "/services", serviceListSchema)).body.items;
  }

  async getService(name: string): Promise<ServiceView> {
    return (await this.request("GET", `/services/${encodeURIComponent(name)}`, serviceViewSchema)).body;
  }

  /** `config` is sent as read: the API checks it and names each invalid field. */
  async registerService(name: string, config: unknown) {
    return this.request("PUT", `/services/${encodeURIComponent(name)}`, serviceViewSchema, { body: config });
  }

  async listImages(service: string) {
    return (await this.request("GET", `/services/${encodeURIComponent(service)}/images`, serviceImagesSchema))
      .body;
  }

  async listInstances(service: string) {
    return (
      await this.request("GET", `/services/${encodeURIComponent(service)}/instances`, serviceInstancesSchema)
    ).body;
  }

  async prune(request: { dryRun: boolean; service?: string | undefined }) {
    return (await this.request("POST", "/prune", pruneRunSchema, { body: request })).body;
  }
}
