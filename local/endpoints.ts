/**
 * Where the local cloud listens, and the small pieces of HTTP plumbing its servers share.
 *
 * Fixed ports (`npm start`, `kiln local start`) form one documented block so that printed
 * commands (`aws --endpoint-url …`, `eval "$(npx kiln local env)"`) stay the same from run to
 * run. Tests use ephemeral ports so that test files can run in parallel.
 */
import type { IncomingMessage, Server } from "node:http";

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
