/**
 * The deployments figures 1–3 are measured on: one service with a group of three, bootstrapped
 * (its first bake goes to the empty group, which is then scaled up), then deployed alternately
 * with a fresh bake (a new version uploaded to the bucket, the S3 trigger path) and with a
 * bake-cache hit (an earlier version requested again, as `POST /deployments` does through
 * requestDeployment). Each deployment runs alone on a quiet
 * local cloud and is observed from outside: its execution history, the local cloud's operation
 * timings, the canary's console, Kiln's AWS calls and function invocations.
 */
import { SetDesiredCapacityCommand } from "@aws-sdk/client-auto-scaling";
import { type HistoryEvent, ListExecutionsCommand } from "@aws-sdk/client-sfn";
import type { Deployment } from "../core/deployment.ts";
import { requestDeployment } from "../core/request-deployment.ts";
import { artifactLimits } from "../functions/environment.ts";
import * as wire from "../functions/wiring.ts";
import type { FunctionStats } from "../local/functions.ts";
import type { KilnFunctionName } from "../workflows/functions.ts";
import { type CallCounts, callsBetween } from "./aws-call-counter.ts";
import { type BenchCloud, benchServiceConfig, startBenchCloud } from "./bench-cloud.ts";
import { type DeploymentTimeline, deploymentTimeline } from "./deployment-timeline.ts";
import type { BenchOptions } from "./figure.ts";
import type { OperationEvent } from "./recording-timescale.ts";

/** The first bake goes to the still empty group: its wait loops count for figure 2 only. */
export type DeploymentKind = "fresh bake" | "bake-cache hit" | "first bake (empty group)";

export interface FunctionInvocations {
  name: KilnFunctionName;
  durationsMs: number[];
  errors: number;
}

export interface DeploymentObservation {
  kind: DeploymentKind;
  service: string;
  version: string;
  deploymentId: string;
  status: Deployment["status"];
  requestedAt: number;
  record: Deployment;
  events: HistoryEvent[];
  operations: OperationEvent[];
  stateTransitions: number;
  invocations: FunctionInvocations[];
  calls: CallCounts;
  /** A request made in the benchmark's process (the cache hit): what the api function would have run, ms. */
  inProcessRequestMs?: number;
  timeline?: DeploymentTimeline;
  timelineError?: string;
}

export interface IdleObservation {
  windowMs: number;
  invocations: number;
  stateTransitions: number;
  executionsStarted: number;
  calls: CallCounts;
  /** One run of the daily prune schedule's target, measured after the deployments. */
  scheduledPrune: { durationsMs: number[]; calls: CallCounts };
}

export interface DeploymentRuns {
  timescale: number;
  /** AWS-like durations varied by up to ± this fraction. */
  jitter: number;
  capacity: number;
  poll: ReturnType<typeof benchServiceConfig>["poll"];
  healthyThreshold: number;
  observations: DeploymentObservation[];
  idle: IdleObservation;
  bootstrapMs: number;
}

const service = "bench-svc";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function invocationsBetween(before: FunctionStats[], after: FunctionStats[]): FunctionInvocations[] {
  return after.flatMap((stats) => {
    const previous = before.find((entry) => entry.name === stats.name);
    const durationsMs = stats.durationsMs.slice(previous?.durationsMs.length ?? 0);
    const errors = stats.errors - (previous?.errors ?? 0);
    return durationsMs.length === 0 ? [] : [{ name: stats.name, durationsMs, errors }];
  });
}

async function observe(
  bench: BenchCloud,
  kind: DeploymentKind,
  version: string,
  start: () => Promise<{ deploymentId: string; requestedAt: number; inProcessRequestMs?: number }>,
): Promise<DeploymentObservation> {
  const functionsBefore = bench.cloud.stats.functions();
  const callsBefore = bench.calls.snapshot();
  const { deploymentId, requestedAt, inProcessRequestMs } = await start();
  const record = await bench.waitForEnd(deploymentId);
  const events = await bench.executionHistory(deploymentId);
  const execution = bench.cloud.stats.execution(bench.executionArn(deploymentId));
  const operations = bench.timescale.events.filter((event) => event.endedAt >= requestedAt);
  const observation: DeploymentObservation = {
    kind,
    service,
    version,
    deploymentId,
    status: record.status,
    requestedAt,
    record,
    events,
    operations,
    stateTransitions: execution?.stateTransitions ?? 0,
    invocations: invocationsBetween(functionsBefore, bench.cloud.stats.functions()),
    calls: callsBetween(callsBefore, bench.calls.snapshot()),
    ...(inProcessRequestMs === undefined ? {} : { inProcessRequestMs }),
  };
  if (record.status === "SUCCEEDED") {
    try {
      observation.timeline = deploymentTimeline({
        requestedAt,
        record,
        events,
        operations,
        canaryListeningAt: record.canaryInstanceId
          ? bench.readiness.listeningAt(record.canaryInstanceId)
          : undefined,
        poll: benchServiceConfig(bench.timescale.factor).poll,
      });
    } catch (error) {
      observation.timelineError = error instanceof Error ? error.message : String(error);
    }
  }
  return observation;
}

/** Requests an artifact already in the bucket again, as a new deployment (what the API's deploy does). */
async function requestAgain(bench: BenchCloud, key: string, etag: string, idempotencyKey: string) {
  const deps = {
    ...wire.queueDeps(),
    artifacts: wire.artifacts(),
    notifier: wire.notifier(),
    clock: wire.clock(),
    limits: artifactLimits(),
  };
  const requestedAt = Date.now();
  const started = performance.now();
  const { deployment } = await requestDeployment(deps, {
    bucket: bench.bucket,
    key,
    etag,
    idempotencyKey,
    trigger: { kind: "api", by: "kiln-bench" },
  });
  return { deploymentId: deployment.id, requestedAt, inProcessRequestMs: performance.now() - started };
}

/** Waits until the local cloud has finished what the last deployment left running (old instances ending). */
async function quiet(bench: BenchCloud, capacity: number): Promise<void> {
  await bench.waitForHealthyGroup(service, capacity);
  await sleep(bench.timescale.scaledMs(10) + 500);
}

/** Bootstraps the service, then runs `rounds` × (fresh bake, bake-cache hit), then watches it idle. */
export async function runDeployments(
  options: BenchOptions & { rounds: number; idleMs: number; capacity: number; jitter: number },
): Promise<DeploymentRuns> {
  const { capacity } = options;
  const bench = await startBenchCloud({ timescale: options.timescale, jitter: options.jitter });
  try {
    const bootstrapStarted = performance.now();
    await bench.register(service);
    const uploads = new Map<string, { key: string; etag: string }>();
    const observations: DeploymentObservation[] = [];
    const first = await observe(bench, "first bake (empty group)", "1.0.0", async () => {
      const upload = await bench.upload(service, "1.0.0");
      uploads.set("1.0.0", upload);
      return upload;
    });
    if (first.status !== "SUCCEEDED")
      throw new Error(`the first deployment ended ${first.status}: ${first.record.error?.message ?? ""}`);
    observations.push(first);
    await bench.autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: service, DesiredCapacity: capacity }),
    );
    await bench.waitForHealthyGroup(service, capacity);
    const bootstrapMs = performance.now() - bootstrapStarted;
    options.log(
      `  bootstrapped ${service} with a group of ${capacity} in ${(bootstrapMs / 1000).toFixed(1)} s`,
    );
    let previous = "1.0.0";
    for (let round = 1; round <= options.rounds; round += 1) {
      await quiet(bench, options.capacity);
      const version = `1.0.${round}`;
      const fresh = await observe(bench, "fresh bake", version, async () => {
        const upload = await bench.upload(service, version);
        uploads.set(version, upload);
        return upload;
      });
      options.log(
        `  ${fresh.kind} ${version}: ${fresh.status} in ${((fresh.timeline?.leadMs ?? 0) / 1000).toFixed(1)} s`,
      );
      observations.push(fresh);

      await quiet(bench, options.capacity);
      // An earlier version's artifact, baked before: its image comes from the bake cache.
      const again = uploads.get(previous);
      if (again === undefined) throw new Error(`no upload of ${previous} to deploy again`);
      const cached = await observe(bench, "bake-cache hit", previous, () =>
        requestAgain(bench, again.key, again.etag, `bench-round-${round}`),
      );
      options.log(
        `  ${cached.kind} ${previous}: ${cached.status} in ${((cached.timeline?.leadMs ?? 0) / 1000).toFixed(1)} s`,
      );
      observations.push(cached);
      previous = version;
    }
    await quiet(bench, options.capacity);
    const idle = await watchIdle(bench, options.idleMs);
    return {
      timescale: options.timescale,
      jitter: options.jitter,
      capacity,
      poll: benchServiceConfig(options.timescale).poll,
      healthyThreshold: benchServiceConfig(options.timescale).health.healthyThreshold,
      observations,
      idle,
      bootstrapMs,
    };
  } finally {
    await bench.stop();
  }
}

/** What Kiln does while nothing is deployed: nothing should run; the daily prune is the only schedule. */
async function watchIdle(bench: BenchCloud, windowMs: number): Promise<IdleObservation> {
  const count = () => bench.cloud.stats.functions().reduce((total, stats) => total + stats.invocations, 0);
  const invocationsBefore = count();
  const callsBefore = bench.calls.snapshot();
  const executionsBefore = await executionsOf(bench);
  await sleep(windowMs);
  const executionsAfter = await executionsOf(bench);
  const idle = {
    windowMs,
    invocations: count() - invocationsBefore,
    executionsStarted: executionsAfter.length - executionsBefore.length,
    stateTransitions: executionsAfter
      .filter((arn) => !executionsBefore.includes(arn))
      .reduce((total, arn) => total + (bench.cloud.stats.execution(arn)?.stateTransitions ?? 0), 0),
    calls: callsBetween(callsBefore, bench.calls.snapshot()),
  };
  const functionsBefore = bench.cloud.stats.functions();
  const pruneCallsBefore = bench.calls.snapshot();
  await bench.cloud.runPrune();
  const prune = invocationsBetween(functionsBefore, bench.cloud.stats.functions()).find(
    (entry) => entry.name === "pruneImages",
  );
  return {
    ...idle,
    scheduledPrune: {
      durationsMs: prune?.durationsMs ?? [],
      calls: callsBetween(pruneCallsBefore, bench.calls.snapshot()),
    },
  };
}

async function executionsOf(bench: BenchCloud): Promise<string[]> {
  const result = await bench.sfn.send(
    new ListExecutionsCommand({ stateMachineArn: bench.cloud.stateMachineArn, maxResults: 1000 }),
  );
  return (result.executions ?? []).map((execution) => execution.executionArn ?? "");
}
