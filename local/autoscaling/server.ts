/**
 * The local Auto Scaling service: an HTTP server on 127.0.0.1 speaking awsQuery, so the AWS
 * SDK and the AWS CLI work against it unchanged. Groups keep their capacity and run instance
 * refreshes for real, driving instances through the EC2 API of the local cloud.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { EC2Client } from "@aws-sdk/client-ec2";
import type { EmitEvent } from "../event-bus.ts";
import { type FaultInjector, InjectedFault } from "../faults.ts";
import type { Timescale } from "../timescale.ts";
import type { ActionHandler, ActionRuntime } from "./action-handler.ts";
import { Ec2Fleet } from "./ec2-fleet.ts";
import type { EmulatorContext } from "./emulator-context.ts";
import { AutoScalingError } from "./errors.ts";
import { FleetReconciler } from "./fleet-reconciler.ts";
import { groupActions } from "./group-actions.ts";
import { HealthStreaks } from "./health-check.ts";
import { RefreshRunner } from "./instance-refresh.ts";
import { KeyedLock } from "./keyed-lock.ts";
import { apiVersion, parseQueryBody, renderError, renderResponse } from "./query-protocol.ts";
import { refreshActions } from "./refresh-actions.ts";
import { activeRefreshStatuses } from "./state.ts";
import { StateStore } from "./state-store.ts";

export interface AutoScalingEmulatorOptions {
  /** The local cloud's state folder; the emulator keeps `autoscaling/state.json` in it. */
  stateDir: string;
  /** Port on 127.0.0.1; 0 or absent picks a free one. */
  port?: number;
  /** Where the EC2 API answers (the local EC2 emulator). */
  ec2Endpoint: string;
  timescale: Timescale;
  faults: FaultInjector;
  log?: (line: string) => void;
  /** How often groups are reconciled and instances health-checked (default 500 ms). */
  reconcileIntervalMs?: number;
  /**
   * Real time an instance gets to start its service before failed health checks count against
   * it, whatever the timescale (default 10 s): at timescale 0 the grace period is 0, yet a
   * process still needs a moment to listen.
   */
  startupAllowanceMs?: number;
  /**
   * Receives the instance refresh events Auto Scaling puts on EventBridge, each in the same tick
   * as DescribeInstanceRefreshes shows the new status; absent, none are emitted.
   */
  emitEvent?: EmitEvent;
}

export interface AutoScalingEmulator {
  url: string;
  close(): Promise<void>;
}

const codesAnsweredAsServerErrors = new Set([
  "InternalError",
  "InternalFailure",
  "ServiceUnavailable",
  "ResourceContention",
]);
const maxBodyBytes = 1024 * 1024;

const actions: Record<string, ActionHandler> = { ...groupActions, ...refreshActions };

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        reject(new AutoScalingError("ValidationError", "Request body too large."));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

function send(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, { "content-type": "text/xml", "content-length": Buffer.byteLength(body) });
  response.end(body);
}

async function handle(
  runtime: ActionRuntime,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const { context } = runtime;
  try {
    const query = new URL(request.url ?? "/", "http://localhost").search.slice(1);
    const body = request.method === "POST" ? await readBody(request) : query;
    const params = parseQueryBody(body);
    const action = typeof params.Action === "string" ? params.Action : "";
    const handler = actions[action];
    if (handler === undefined) {
      throw new AutoScalingError(
        "InvalidAction",
        `Could not find operation ${action} for version ${apiVersion}`,
      );
    }
    const subject = typeof params.AutoScalingGroupName === "string" ? params.AutoScalingGroupName : "";
    await context.faults.apply(`autoscaling:${action}`, subject);
    const result = await handler(runtime, params);
    send(response, 200, renderResponse(action, result));
  } catch (error) {
    if (error instanceof AutoScalingError) {
      send(response, error.status, renderError(error.type, error.code, error.message));
    } else if (error instanceof InjectedFault) {
      const status = codesAnsweredAsServerErrors.has(error.code) ? 500 : 400;
      send(response, status, renderError(status >= 500 ? "Receiver" : "Sender", error.code, error.message));
    } else {
      const message = error instanceof Error ? error.message : String(error);
      context.log(`autoscaling: internal error: ${error instanceof Error ? error.stack : message}`);
      send(response, 500, renderError("Receiver", "InternalFailure", message));
    }
  }
}

/** Starts the Auto Scaling emulator, resuming its groups and unfinished refreshes from `stateDir`. */
export async function startAutoScalingEmulator(
  options: AutoScalingEmulatorOptions,
): Promise<AutoScalingEmulator> {
  const log = options.log ?? (() => {});
  const store = await StateStore.open(options.stateDir, (error) =>
    log(`autoscaling: saving state failed: ${error instanceof Error ? error.message : String(error)}`),
  );
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1";
  const ec2 = new EC2Client({
    endpoint: options.ec2Endpoint,
    region,
    // The local EC2 does not check signatures; fixed credentials keep the SDK from looking for real ones.
    credentials: { accessKeyId: "kiln-local", secretAccessKey: "kiln-local" },
  });
  const context: EmulatorContext = {
    store,
    fleet: new Ec2Fleet(ec2),
    timescale: options.timescale,
    faults: options.faults,
    log,
    locks: new KeyedLock(),
    streaks: new HealthStreaks(),
    reconcileIntervalMs: options.reconcileIntervalMs ?? 500,
    startupAllowanceMs: options.startupAllowanceMs ?? 10_000,
    region,
    accountId: "000000000000",
    emitEvent: options.emitEvent,
  };
  const refreshes = new RefreshRunner(context);
  const reconciler = new FleetReconciler(context);
  const runtime: ActionRuntime = { context, refreshes };

  const server = createServer((request, response) => {
    void handle(runtime, request, response);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  reconciler.start();
  for (const refresh of store.state.refreshes) {
    if (activeRefreshStatuses.includes(refresh.status)) {
      context.log(`autoscaling: ${refresh.groupName}: resuming refresh ${refresh.id} (${refresh.status})`);
      refreshes.start(refresh);
    }
  }

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    close() {
      closing ??= (async () => {
        await refreshes.stop();
        await reconciler.stop();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await store.save();
        ec2.destroy();
      })();
      return closing;
    },
  };
}
