/**
 * The local EC2: an HTTP server on 127.0.0.1 speaking EC2's query protocol, so the AWS SDK and the
 * AWS CLI work against it unchanged. Instances are real process groups running the image's
 * services on their own loopback address; images are folder snapshots. See README.md.
 */
import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { EmitEvent } from "../event-bus.ts";
import { type FaultInjector, InjectedFault } from "../faults.ts";
import type { Timescale } from "../timescale.ts";
import { actions } from "./actions.ts";
import { probeInstanceLimits } from "./cgroups.ts";
import type { Ec2Context } from "./context.ts";
import { Ec2Error, statusForCode } from "./errors.ts";
import { ImageBuilder } from "./image-builder.ts";
import { InstanceLifecycle } from "./instance-lifecycle.ts";
import { firstAddressFor } from "./ip-allocator.ts";
import { ec2Paths } from "./paths.ts";
import { parseQueryTree, type QueryTree } from "./query-params.ts";
import { StateStore } from "./state.ts";
import { renderError, renderResponse } from "./xml.ts";

export interface Ec2EmulatorOptions {
  stateDir: string;
  /** 0 or absent: any free port. */
  port?: number;
  timescale: Timescale;
  faults: FaultInjector;
  log?: (line: string) => void;
  /**
   * Receives the events EC2 puts on EventBridge (instance state changes, AMI state changes),
   * each in the same tick as Describe calls see the change; absent, none are emitted.
   */
  emitEvent?: EmitEvent;
}

export interface Ec2Emulator {
  /** `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL_EC2` or `--endpoint-url`. */
  url: string;
  /** Ends every instance process group, persists state, stops the server. */
  close(): Promise<void>;
  /** Registers (idempotently, by name "kiln-local-base") the base image and returns its ami id. */
  ensureBaseImage(): Promise<string>;
}

const MAX_BODY_BYTES = 10 * 1024 * 1024;
const DEFAULT_REGION = "us-east-1";

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new Ec2Error("RequestEntityTooLarge", "The request is too large", 413);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The region the caller signed for (SigV4 credential scope), so zones match the client's. */
function signedRegion(request: IncomingMessage): string {
  const match = /Credential=[^/,]+\/\d{8}\/([a-z0-9-]+)\/ec2\//.exec(request.headers.authorization ?? "");
  return match?.[1] ?? DEFAULT_REGION;
}

/**
 * What a fault rule's `match` is tested against: every parameter value of the request (ids,
 * names, tag values, client tokens), so a rule can target an image name or a group's tag.
 */
function requestSubject(tree: QueryTree, prefix = ""): string {
  return Object.entries(tree)
    .filter(
      ([key]) => !(prefix === "" && (key === "Action" || key === "Version")) && !key.endsWith("UserData"),
    )
    .map(([key, value]) => (typeof value === "string" ? value : requestSubject(value, `${prefix}${key}.`)))
    .filter((value) => value !== "")
    .join(" ");
}

function faultError(fault: InjectedFault): Ec2Error {
  if (fault.rule.kind === "throttle")
    return new Ec2Error(fault.rule.code ?? "RequestLimitExceeded", "Request limit exceeded.", 503);
  return new Ec2Error(fault.code, fault.message, statusForCode(fault.code));
}

/** Starts the emulator: loads state, ends processes a crashed run left behind, boots running instances again. */
export async function startEc2Emulator(options: Ec2EmulatorOptions): Promise<Ec2Emulator> {
  const log = options.log ?? (() => undefined);
  const paths = ec2Paths(options.stateDir);
  await mkdir(paths.imagesDir, { recursive: true });
  await mkdir(paths.instancesDir, { recursive: true });
  const store = await StateStore.open(paths.stateFile);
  const limits = await probeInstanceLimits(log);
  log(`ec2: ${limits.summary}`);
  const { timescale, faults, emitEvent } = options;
  const lifecycle = new InstanceLifecycle({ store, paths, timescale, faults, limits, log, emitEvent });
  const images = new ImageBuilder({ store, paths, lifecycle, timescale, faults, log, emitEvent });
  await lifecycle.resume();
  images.resume();

  const firstPrivateAddress = firstAddressFor(paths.base);
  const contextFor = (request: IncomingMessage, requestId: string): Ec2Context => ({
    store,
    state: store.state,
    paths,
    lifecycle,
    images,
    timescale,
    faults,
    log,
    region: signedRegion(request),
    firstPrivateAddress,
    requestId,
  });

  const send = (response: ServerResponse, status: number, body: string, requestId: string) => {
    response.writeHead(status, {
      "Content-Type": "text/xml;charset=UTF-8",
      "Content-Length": Buffer.byteLength(body),
      // As EC2 sends it: the SDK reports it as `$metadata.requestId`, and AMI events name it.
      "x-amzn-RequestId": requestId,
    });
    response.end(body);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const requestId = randomUUID();
    try {
      const body = await readBody(request);
      const query = new URL(request.url ?? "/", "http://127.0.0.1").searchParams.toString();
      const tree = parseQueryTree([query, body].filter((part) => part !== "").join("&"));
      const action = typeof tree.Action === "string" ? tree.Action : "";
      const handler = actions[action];
      if (handler === undefined)
        throw new Ec2Error(
          "InvalidAction",
          `The action ${action || "(none)"} is not valid for this web service.`,
        );
      await faults.apply(`ec2:${action}`, requestSubject(tree));
      if (tree.DryRun === "true")
        throw new Ec2Error("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412);
      send(
        response,
        200,
        renderResponse(action, requestId, await handler(contextFor(request, requestId), tree)),
        requestId,
      );
    } catch (error) {
      const failure =
        error instanceof Ec2Error
          ? error
          : error instanceof InjectedFault
            ? faultError(error)
            : new Ec2Error("InternalError", "An internal error has occurred", 500);
      if (!(error instanceof Ec2Error) && !(error instanceof InjectedFault)) {
        log(
          `ec2: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
      }
      send(response, failure.status, renderError(failure.code, failure.message, requestId), requestId);
    }
  };

  const server = createServer((request, response) => void handle(request, response));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string")
    throw new Error("the EC2 emulator is not listening on a TCP port");
  const url = `http://127.0.0.1:${address.port}`;
  log(`ec2: listening on ${url}, state in ${paths.base}`);

  let closed: Promise<void> | undefined;
  return {
    url,
    ensureBaseImage: () => images.ensureBaseImage(),
    close: () => {
      closed ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await lifecycle.close();
        await images.close();
        await limits.close();
        await store.save();
        await stopped;
      })();
      return closed;
    },
  };
}
