/**
 * Where the local cloud listens, and the small pieces of HTTP plumbing its servers share.
 *
 * Fixed ports (`npm start`, `kiln local start`) form one documented block so that printed
 * commands (`aws --endpoint-url …`, `eval "$(npx kiln local env)"`) stay the same from run to
 * run. Tests use ephemeral ports so that test files can run in parallel.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import type { IncomingMessage, Server } from "node:http";
import { join } from "node:path";
import * as z from "zod";

export const region = "us-east-1";
export const accountId = "000000000000";

/** Dummy credentials: the local endpoints accept any signature, the SDK and the CLI need some. */
export const localCredentials = {
  accessKeyId: "kiln-local",
  secretAccessKey: "kiln-local-secret",
} as const;

/** The fixed block 4566–4575 used by `npm start`; 4574 and 4575 are kept free for later services. */
export const fixedPorts = {
  s3: 4566,
  dynamodb: 4567,
  stepFunctions: 4568,
  ec2: 4569,
  autoScaling: 4570,
  httpApi: 4571,
  slack: 4572,
  ses: 4573,
} as const;

export type LocalService = keyof typeof fixedPorts;

/**
 * libuv threads for a process hosting the local cloud: the instances' disk copies, S3's files and
 * the DynamoDB engine's store all queue on libuv's pool, and Node's 4 threads are too few when
 * deployments run side by side. Node sizes the pool before any of Kiln's code runs, so the size
 * can only be given to a process as it starts: `npm start` (package.json's script says 16 too),
 * `kiln local start --detach`, and the benchmark's figure processes. `UV_THREADPOOL_SIZE` wins.
 */
export const localCloudThreadPoolSize = 16;

/** `env` for a process that will host the local cloud. */
export function localCloudProcessEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, UV_THREADPOOL_SIZE: env.UV_THREADPOOL_SIZE ?? String(localCloudThreadPoolSize) };
}

export type Log = (message: string) => void;

export class PortInUseError extends Error {
  override readonly name = "PortInUseError";

  constructor(
    readonly service: string,
    readonly port: number,
  ) {
    super(
      `port ${port} (${service}) is already in use on 127.0.0.1 — is a local cloud already running? ` +
        "Stop it with `npx kiln local stop`, or free the port.",
    );
  }
}

/** Starts `server` on 127.0.0.1:`port` (0 = ephemeral) and returns its base URL. */
export async function listen(server: Server, port: number, service: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      reject(error.code === "EADDRINUSE" ? new PortInUseError(service, port) : error);
    };
    const onListening = () => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, "127.0.0.1");
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error(`${service} did not bind a TCP port`);
  return `http://127.0.0.1:${address.port}`;
}

/** Closes `server`, ending idle keep-alive connections so that close does not hang. */
export async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve, reject) =>
    server.close((error) => (error ? reject(error) : resolve())),
  );
  server.closeIdleConnections();
  // Connections still mid-request get a moment to finish, then are cut.
  const cut = setTimeout(() => server.closeAllConnections(), 2000);
  try {
    await closed;
  } finally {
    clearTimeout(cut);
  }
}

/** Reads a whole request body. */
export async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

/** The port a base URL listens on. */
export function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** `<stateDir>/endpoints.json`: where a running local cloud answers, for the CLI and the AWS CLI. */
export const localCloudInfoSchema = z.object({
  pid: z.number().int(),
  startedAt: z.string(),
  stateDir: z.string(),
  ports: z.enum(["fixed", "ephemeral"]),
  endpoints: z.object({
    s3: z.string(),
    dynamodb: z.string(),
    stepFunctions: z.string(),
    ec2: z.string(),
    autoScaling: z.string(),
    httpApi: z.string(),
    slack: z.string(),
    ses: z.string(),
  }),
  slackWebhookUrl: z.string(),
  env: z.record(z.string(), z.string()),
  baseImageId: z.string(),
  stateMachineArn: z.string(),
  outboxDir: z.string(),
  slackMessagesDir: z.string(),
});
export type LocalCloudInfo = z.infer<typeof localCloudInfoSchema>;
export type LocalEndpoints = LocalCloudInfo["endpoints"];

export const endpointsFile = (stateDir: string) => join(stateDir, "endpoints.json");
export const pidFile = (stateDir: string) => join(stateDir, "cloud.pid");

/** Reads `endpoints.json`, or undefined when there is none. */
export async function readLocalCloudInfo(stateDir: string): Promise<LocalCloudInfo | undefined> {
  try {
    return localCloudInfoSchema.parse(JSON.parse(await readFile(endpointsFile(stateDir), "utf8")));
  } catch (error) {
    if (isMissingFile(error)) return undefined;
    throw error;
  }
}

/** Writes `endpoints.json` whole (through a rename, so a waiting CLI never reads half of it). */
export async function writeLocalCloudInfo(info: LocalCloudInfo): Promise<void> {
  const path = endpointsFile(info.stateDir);
  await writeFile(`${path}.tmp`, `${JSON.stringify(info, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}

/** Whether a process with this id exists (and may be signalled by us). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error instanceof Error && "code" in error && error.code === "EPERM";
  }
}

/** The pid of the local cloud running on `stateDir`, or undefined when none runs. */
export async function runningCloudPid(stateDir: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(pidFile(stateDir), "utf8");
  } catch (error) {
    if (isMissingFile(error)) return undefined;
    throw error;
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 && isProcessAlive(pid) ? pid : undefined;
}

function isMissingFile(error: unknown): boolean {
  return error instanceof Error && "code" in error && error.code === "ENOENT";
}
