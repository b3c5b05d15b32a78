/**
 * The local cloud: every AWS service Kiln uses, on 127.0.0.1, wired as the stack wires them on
 * AWS, with Kiln's functions running in this process against it.
 *
 *   S3 ObjectCreated (artifacts/…​.tgz) ──▶ onArtifact        EventBridge schedule ──▶ pruneImages
 *   API Gateway ($default route) ──▶ api                        deploy workflow tasks ──▶ their functions
 *
 *   default event bus (event-bus.ts), through the stack's rules:
 *     EC2 Instance State-change Notification (a builder stopped, or gone) ───┐
 *     EC2 AMI State Change (available, failed) ──────────────────────────────┼──▶ wake
 *     EC2 Auto Scaling Instance Refresh … (refresh or rollback ended) ───────┘
 *     Step Functions status change (FAILED, TIMED_OUT, ABORTED of kiln-deploy) ──▶ onExecutionEnded
 *
 * The EC2 and Auto Scaling emulators emit every event AWS would (each instance state, AMI
 * available/failed/deregistered, each refresh status) in the same tick as Describe calls see the
 * change; the bus delivers those a rule matches asynchronously, at least once.
 *
 * Fixed ports (4566–4575, see endpoints.ts) keep printed commands stable; ephemeral ports let
 * test files run side by side. State lives under `stateDir`, so a restart keeps history, images,
 * groups and executions.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { CreateTableCommand, DynamoDBClient, ResourceInUseException } from "@aws-sdk/client-dynamodb";
import {
  CreateStateMachineCommand,
  SFNClient,
  StateMachineAlreadyExists,
  UpdateStateMachineCommand,
} from "@aws-sdk/client-sfn";
import type { S3Event } from "aws-lambda";
import { historyTableDefinition } from "../core/aws/history-table.ts";
import { deployEndedRule, wakeRules } from "../workflows/event-rules.ts";
import type { KilnFunctionName } from "../workflows/functions.ts";
import { startAutoScalingEmulator } from "./autoscaling/server.ts";
import { startDynamoDb } from "./dynamodb.ts";
import { startEc2Emulator } from "./ec2/server.ts";
import {
  accountId,
  fixedPorts,
  type LocalCloudInfo,
  type LocalEndpoints,
  type LocalService,
  type Log,
  localCredentials,
  PortInUseError,
  pidFile,
  portOf,
  readLocalCloudInfo,
  region,
  runningCloudPid,
  writeLocalCloudInfo,
} from "./endpoints.ts";
import { type BusRule, type EmitEvent, EventBus } from "./event-bus.ts";
import { FaultInjector } from "./faults.ts";
import {
  createLocalFunctions,
  type FunctionStats,
  type LambdaHandler,
  type LocalFunctions,
} from "./functions.ts";
import { startHttpApi } from "./http-api.ts";
import { outboxDir, slackMessagesDir, startSesOutbox, startSlackSink } from "./notification-sinks/index.ts";
import { startS3 } from "./s3.ts";
import { startScheduler } from "./scheduler.ts";
import { stateMachineArn as stateMachineArnOf } from "./step-functions/arns.ts";
import {
  type ExecutionRecord,
  type ExecutionStatsReport,
  type ExecutionStatusChangeEvent,
  startStepFunctions,
} from "./step-functions/server.ts";
import { type OperationTiming, Timescale } from "./timescale.ts";

export const defaultStateDir = ".kiln/local";
export const tableName = "kiln";
export const artifactBucket = "kiln-artifacts";
export const deployStateMachineName = "kiln-deploy";
export const builderInstanceProfile = "kiln-builder";
export const emailFrom = "kiln@localhost";

/** The rules on the local default bus: the stack's wake rules and its DeployExecutionEnded rule. */
function localEventRules(deployArn: string): Record<string, BusRule> {
  return { ...wakeRules, DeployExecutionEnded: deployEndedRule(deployArn) };
}

export interface LocalCloudOptions {
  /** Where everything is kept (default `.kiln/local`). */
  stateDir?: string;
  /** `fixed`: the documented block 4566–4575 (default); `ephemeral`: free ports, for tests. */
  ports?: "fixed" | "ephemeral";
  /** AWS-like durations, scaled (default 0.05: a 60 s bake takes 3 s). */
  timescale?: Timescale;
  log?: Log;
  /** Multiplies the workflow's fixed Wait seconds and retry intervals (default 1). */
  waitScale?: number;
  /** Handlers used instead of the functions' entry files (tests). */
  handlers?: Partial<Record<KilnFunctionName, LambdaHandler>>;
  /** How often Auto Scaling groups are reconciled and health-checked (default 500 ms). */
  reconcileIntervalMs?: number;
}

export interface LocalCloud {
  stateDir: string;
  endpoints: LocalEndpoints;
  slackWebhookUrl: string;
  /** The variables the in-process functions run with (also written to endpoints.json). */
  env: Record<string, string>;
  faults: FaultInjector;
  timescale: Timescale;
  baseImageId: string;
  stateMachineArn: string;
  functions: LocalFunctions;
  stats: {
    functions(): FunctionStats[];
    execution(executionArn: string): ExecutionStatsReport | undefined;
    operations(): OperationTiming[];
  };
  /** Resolves with an execution's final record once it has ended. */
  whenExecutionEnded(executionArn: string): Promise<ExecutionRecord>;
  /** Runs the prune schedule's target now. */
  runPrune(): Promise<void>;
  /**
   * Resolves once S3 events and the events on the bus (EC2, Auto Scaling, Step Functions)
   * emitted so far have been delivered.
   */
  settled(): Promise<void>;
  /** Stops every server and every instance process; state stays on disk. */
  stop(): Promise<void>;
}

export class LocalCloudAlreadyRunningError extends Error {
  override readonly name = "LocalCloudAlreadyRunningError";
}

/** Only one local cloud per process: its functions share one `process.env`. */
let runningInProcess: string | undefined;

function isAddressInUse(error: unknown): boolean {
  return (
    error instanceof PortInUseError ||
    (error instanceof Error && "code" in error && error.code === "EADDRINUSE")
  );
}

/** Decodes an S3 event key (form-URL-encoded) back into the object key. */
function decodeEventKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, " "));
}

/** Starts the local cloud; `stop()` ends it. */
export async function startLocalCloud(options: LocalCloudOptions = {}): Promise<LocalCloud> {
  const stateDir = resolve(options.stateDir ?? defaultStateDir);
  const portMode = options.ports ?? "fixed";
  const timescale = options.timescale ?? new Timescale(0.05);
  const log = options.log ?? (() => {});
  if (runningInProcess !== undefined) {
    throw new LocalCloudAlreadyRunningError(
      `a local cloud is already running in this process (on ${runningInProcess})`,
    );
  }
  await mkdir(stateDir, { recursive: true });
  const otherPid = await runningCloudPid(stateDir);
  if (otherPid !== undefined && otherPid !== process.pid) {
    throw new LocalCloudAlreadyRunningError(
      `a local cloud is already running on ${stateDir} (pid ${otherPid}); stop it with \`npx kiln local stop\``,
    );
  }
  runningInProcess = stateDir;
  await writeFile(pidFile(stateDir), `${process.pid}\n`);

  // Clients of the in-process functions resolve their endpoint once: a restart in the same
  // process on ephemeral ports takes the previous ports again, so those clients keep working.
  const previous =
    portMode === "ephemeral" ? await readLocalCloudInfo(stateDir).catch(() => undefined) : undefined;
  const previousPorts: Partial<Record<LocalService, number>> =
    previous?.ports === "ephemeral"
      ? {
          s3: portOf(previous.endpoints.s3),
          dynamodb: portOf(previous.endpoints.dynamodb),
          stepFunctions: portOf(previous.endpoints.stepFunctions),
          ec2: portOf(previous.endpoints.ec2),
          autoScaling: portOf(previous.endpoints.autoScaling),
          httpApi: portOf(previous.endpoints.httpApi),
          slack: portOf(previous.endpoints.slack),
          ses: portOf(previous.endpoints.ses),
        }
      : {};

  async function onPort<T>(
    service: LocalService,
    label: string,
    start: (port: number) => Promise<T>,
  ): Promise<T> {
    const port = portMode === "fixed" ? fixedPorts[service] : (previousPorts[service] ?? 0);
    try {
      return await start(port);
    } catch (error) {
      if (!isAddressInUse(error)) throw error;
      if (portMode === "fixed") throw new PortInUseError(label, port);
      return start(0);
    }
  }

  const closers: { name: string; close: () => Promise<void> }[] = [];
  const savedEnv = new Map<string, string | undefined>();
  const faults = new FaultInjector();
  const functions = createLocalFunctions({ log, handlers: options.handlers });
  // Events that reach functions wait until the environment the functions read is in place
  // (false: the cloud stopped before it was, and they are dropped).
  let markReady!: (started: boolean) => void;
  const ready = new Promise<boolean>((resolveReady) => {
    markReady = resolveReady;
  });
  const deployArn = stateMachineArnOf(deployStateMachineName);
  // EventBridge's default bus: the emulators put their events on it from the start (a resumed
  // instance may change state during startup); deliveries wait until the functions can run.
  const bus = new EventBus({
    rules: localEventRules(deployArn),
    log,
    invoke: async (target, event) => {
      if (!(await ready)) throw new Error("the local cloud stopped before its functions could run");
      await functions.invoke(target, event);
    },
  });
  const emitEvent: EmitEvent = (event) => bus.publish(event);

  async function stopAll(): Promise<void> {
    markReady(false);
    for (const { name, close } of closers.reverse()) {
      try {
        await close();
      } catch (error) {
        log(`cloud: stopping ${name} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    closers.length = 0;
    // Closed with the other services in order when startup got that far; otherwise here.
    await bus.close();
    for (const [key, value] of savedEnv) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await rm(pidFile(stateDir), { force: true });
    runningInProcess = undefined;
  }

  try {
    const dynamodb = await onPort("dynamodb", "DynamoDB", (port) => startDynamoDb({ stateDir, port, log }));
    closers.push({ name: "DynamoDB", close: () => dynamodb.close() });

    const ec2 = await onPort("ec2", "EC2", (port) =>
      startEc2Emulator({ stateDir, port, timescale, faults, log, emitEvent }),
    );
    closers.push({ name: "EC2", close: () => ec2.close() });

    const autoScaling = await onPort("autoScaling", "Auto Scaling", (port) =>
      startAutoScalingEmulator({
        stateDir,
        port,
        ec2Endpoint: ec2.url,
        timescale,
        faults,
        log,
        emitEvent,
        ...(options.reconcileIntervalMs === undefined
          ? {}
          : { reconcileIntervalMs: options.reconcileIntervalMs }),
      }),
    );
    closers.push({ name: "Auto Scaling", close: () => autoScaling.close() });

    const slack = await onPort("slack", "Slack webhook", (port) => startSlackSink({ stateDir, port, log }));
    closers.push({ name: "Slack webhook", close: () => slack.close() });
    const ses = await onPort("ses", "SES", (port) => startSesOutbox({ stateDir, port, log }));
    closers.push({ name: "SES", close: () => ses.close() });

    // Closed after Step Functions (whose last status changes it delivers) and before the services
    // the delivered functions call.
    closers.push({ name: "event bus", close: () => bus.close() });
    const stepFunctions = await onPort("stepFunctions", "Step Functions", (port) =>
      startStepFunctions({
        stateDir,
        port,
        log,
        waitScale: options.waitScale ?? 1,
        invokeFunction: (functionArn, input) => functions.invoke(functionArn, input),
        // Onto the default bus, where the DeployExecutionEnded rule picks what onExecutionEnded gets.
        onExecutionStatusChange: async (event: ExecutionStatusChangeEvent) => bus.publish(event),
      }),
    );
    closers.push({ name: "Step Functions", close: () => stepFunctions.close() });

    const s3 = await onPort("s3", "S3", (port) =>
      startS3({
        stateDir,
        port,
        log,
        // The stack's bucket notification: ObjectCreated:* under artifacts/ ending .tgz.
        onObjectCreated: async (event: S3Event) => {
          const key = decodeEventKey(event.Records[0]?.s3.object.key ?? "");
          if (!key.startsWith("artifacts/") || !key.endsWith(".tgz")) return;
          if (!(await ready)) return;
          await functions.invoke("onArtifact", event);
        },
      }),
    );
    closers.push({ name: "S3", close: () => s3.close() });

    const httpApi = await onPort("httpApi", "HTTP API", (port) =>
      startHttpApi({ port, log, invoke: (event) => functions.invoke("api", event) }),
    );
    closers.push({ name: "HTTP API", close: () => httpApi.close() });

    const endpoints: LocalEndpoints = {
      s3: s3.url,
      dynamodb: dynamodb.url,
      stepFunctions: stepFunctions.url,
      ec2: ec2.url,
      autoScaling: autoScaling.url,
      httpApi: httpApi.url,
      slack: slack.url,
      ses: ses.url,
    };
    const env: Record<string, string> = {
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_ACCESS_KEY_ID: localCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: localCredentials.secretAccessKey,
      AWS_ENDPOINT_URL_S3: endpoints.s3,
      AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
      AWS_ENDPOINT_URL_SFN: endpoints.stepFunctions,
      AWS_ENDPOINT_URL_EC2: endpoints.ec2,
      AWS_ENDPOINT_URL_AUTO_SCALING: endpoints.autoScaling,
      AWS_ENDPOINT_URL_SESV2: endpoints.ses,
      AWS_REQUEST_CHECKSUM_CALCULATION: "WHEN_REQUIRED",
      // Nothing here runs on EC2: never wait on the instance metadata service for credentials.
      AWS_EC2_METADATA_DISABLED: "true",
      KILN_TABLE_NAME: tableName,
      KILN_ARTIFACT_BUCKET: artifactBucket,
      KILN_STATE_MACHINE_ARN: deployArn,
      KILN_BUILDER_INSTANCE_PROFILE: builderInstanceProfile,
      KILN_SLACK_WEBHOOK_URL: slack.webhookUrl,
      KILN_EMAIL_FROM: emailFrom,
      KILN_API_URL: endpoints.httpApi,
      // The API function requires this token; the CLI reads it from here (the file is mode 0600).
      KILN_API_TOKEN_FILE: await ensureApiToken(stateDir),
      // The api function serves the dashboard at its root: notifications link there.
      KILN_DASHBOARD_URL: endpoints.httpApi,
    };
    for (const [key, value] of Object.entries(env)) {
      if (!savedEnv.has(key)) savedEnv.set(key, process.env[key]);
      process.env[key] = value;
    }
    markReady(true);

    await s3.ensureBucket(artifactBucket);
    await createHistoryTable(endpoints.dynamodb);
    await putDeployStateMachine(endpoints.stepFunctions, functions, log);
    const baseImageId = await ec2.ensureBaseImage();

    const prune = startScheduler({
      name: "pruneImages",
      schedule: process.env.KILN_PRUNE_SCHEDULE?.trim() || "rate(1 day)",
      timescale,
      log,
      // CronV2 passes its `event` option, `{}` unless the stack sets one.
      invoke: async () => {
        await functions.invoke("pruneImages", {});
      },
    });
    closers.push({ name: "scheduler", close: () => prune.stop() });

    const info: LocalCloudInfo = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      stateDir,
      ports: portMode,
      endpoints,
      slackWebhookUrl: slack.webhookUrl,
      env,
      baseImageId,
      stateMachineArn: deployArn,
      outboxDir: outboxDir(stateDir),
      slackMessagesDir: slackMessagesDir(stateDir),
    };
    await writeLocalCloudInfo(info);
    log(`cloud: ready on ${stateDir} (${portMode} ports), base image ${baseImageId}`);

    let stopping: Promise<void> | undefined;
    return {
      stateDir,
      endpoints,
      slackWebhookUrl: slack.webhookUrl,
      env,
      faults,
      timescale,
      baseImageId,
      stateMachineArn: deployArn,
      functions,
      stats: {
        functions: () => functions.stats(),
        execution: (executionArn) => stepFunctions.stats(executionArn),
        operations: () => timescale.report(),
      },
      whenExecutionEnded: (executionArn) => stepFunctions.whenEnded(executionArn),
      runPrune: () => prune.trigger(),
      async settled() {
        await s3.settled();
        await stepFunctions.settled();
        await bus.settled();
      },
      stop() {
        stopping ??= stopAll().then(() => log("cloud: stopped"));
        return stopping;
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The local API's bearer token file: generated at first start, kept across restarts. */
async function ensureApiToken(stateDir: string): Promise<string> {
  const file = join(stateDir, "api-token");
  try {
    await writeFile(file, `${randomBytes(32).toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if (!(error instanceof Error && "code" in error && error.code === "EEXIST")) throw error;
  }
  return file;
}

async function createHistoryTable(endpoint: string): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region, credentials: localCredentials });
  try {
    await client.send(new CreateTableCommand(historyTableDefinition(tableName)));
  } catch (error) {
    // The table survives restarts: it is created once.
    if (!(error instanceof ResourceInUseException)) throw error;
  } finally {
    client.destroy();
  }
}

/** Creates the deploy state machine, or brings an existing one up to the current definition. */
async function putDeployStateMachine(endpoint: string, functions: LocalFunctions, log: Log): Promise<void> {
  let definition: unknown;
  try {
    // Imported when needed, so the local cloud starts (without a workflow) in a tree that lacks it.
    const workflow = await import("../workflows/deploy-workflow.ts");
    definition = workflow.buildDeployWorkflow((name) => functions.functionArn(name));
  } catch (error) {
    const missing = error instanceof Error && "code" in error && error.code === "ERR_MODULE_NOT_FOUND";
    if (missing && error.message.includes("deploy-workflow")) {
      log(`cloud: no deploy workflow yet (${error.message}); ${deployStateMachineName} is not created`);
      return;
    }
    throw error;
  }
  const client = new SFNClient({ endpoint, region, credentials: localCredentials });
  const roleArn = `arn:aws:iam::${accountId}:role/${deployStateMachineName}`;
  try {
    await client.send(
      new CreateStateMachineCommand({
        name: deployStateMachineName,
        definition: JSON.stringify(definition),
        roleArn,
      }),
    );
  } catch (error) {
    if (!(error instanceof StateMachineAlreadyExists)) throw error;
    await client.send(
      new UpdateStateMachineCommand({
        stateMachineArn: stateMachineArnOf(deployStateMachineName),
        definition: JSON.stringify(definition),
        roleArn,
      }),
    );
  } finally {
    client.destroy();
  }
}
