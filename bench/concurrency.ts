/**
 * Figure 4: many services deploying at once. Each service has a small group of its own; first
 * one deploys alone (the baseline), then all deploy a new version at the same moment. Every
 * deployment must succeed on its own group with its own image (no cross-talk), and its overhead
 * (lead time − floor) is compared with the lone deployment's.
 */
import { DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
} from "@aws-sdk/client-ec2";
import type { HistoryEvent } from "@aws-sdk/client-sfn";
import type { Deployment } from "../core/deployment.ts";
import type { FunctionStats } from "../local/functions.ts";
import { type BenchCloud, benchServiceConfig, type PackedArtifact, startBenchCloud } from "./bench-cloud.ts";
import {
  type DeploymentTimeline,
  deploymentTimeline,
  timeOutsideWaitLoopsByPart,
} from "./deployment-timeline.ts";
import { type BenchOptions, type FigureResult, millis, ratio, seconds } from "./figure.ts";
import { median, summarize } from "./stats.ts";

export const concurrencyTarget = 1.2;

interface Outcome {
  service: string;
  version: string;
  deploymentId: string;
  status: Deployment["status"];
  leadMs: number;
  floorMs: number;
  overheadMs: number;
  /** Lead time outside the wait loops: Kiln's own work, told apart from the execution history. */
  kilnMs: number;
  /** kilnMs by part: the request and each state outside the loops (timeOutsideWaitLoopsByPart). */
  kilnParts: Record<string, number>;
  /** What is wrong with where it landed; empty when it landed on its own group with its own image. */
  crossTalk: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every function invocation's duration between two snapshots of the local Lambda runtime. */
function durationsBetween(before: FunctionStats[], after: FunctionStats[]): number[] {
  return after.flatMap((stats) =>
    stats.durationsMs.slice(before.find((entry) => entry.name === stats.name)?.durationsMs.length ?? 0),
  );
}

/**
 * A deployment's timeline (deployment-timeline.ts), from the local cloud's records of its own
 * resources only: its builder, image and canary and its group's refresh (each record names the
 * resource it concerns), so that ten deployments' operations at once are never mixed up. Lone
 * and concurrent deployments are measured alike.
 */
function timelineOf(
  bench: BenchCloud,
  record: Deployment,
  requestedAt: number,
  events: HistoryEvent[],
): DeploymentTimeline {
  const own = new Set(
    [record.builderInstanceId, record.imageId, record.canaryInstanceId, record.service].filter(
      (subject) => subject !== undefined,
    ),
  );
  return deploymentTimeline({
    requestedAt,
    record,
    events,
    operations: bench.timescale.events.filter(
      (event) => event.endedAt >= requestedAt && event.subject !== undefined && own.has(event.subject),
    ),
    canaryListeningAt: record.canaryInstanceId
      ? bench.readiness.listeningAt(record.canaryInstanceId)
      : undefined,
    poll: benchServiceConfig(bench.timescale.factor).poll,
  });
}

/** Checks that the deployment landed on its own group, with its own image, serving its own version. */
async function crossTalkOf(bench: BenchCloud, record: Deployment, capacity: number): Promise<string[]> {
  const problems: string[] = [];
  const imageId = record.imageId ?? "";
  const images = await bench.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
  const tags = Object.fromEntries((images.Images?.[0]?.Tags ?? []).map((tag) => [tag.Key, tag.Value]));
  if (tags["kiln:service"] !== record.service)
    problems.push(`image ${imageId} is tagged for ${tags["kiln:service"]}`);
  if (tags["kiln:deployment-id"] !== record.id)
    problems.push(`image ${imageId} was baked by ${tags["kiln:deployment-id"]}`);
  const groups = await bench.autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [record.service] }),
  );
  const group = groups.AutoScalingGroups?.[0];
  if (group?.LaunchTemplate?.Version !== record.launchTemplateVersion) {
    problems.push(
      `group runs template version ${group?.LaunchTemplate?.Version}, the deployment made ${record.launchTemplateVersion}`,
    );
  }
  const versions = await bench.ec2.send(
    new DescribeLaunchTemplateVersionsCommand({
      LaunchTemplateId: group?.LaunchTemplate?.LaunchTemplateId,
      Versions: [record.launchTemplateVersion ?? "$Latest"],
    }),
  );
  const templateImage = versions.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.ImageId;
  if (templateImage !== imageId) problems.push(`template version launches ${templateImage}, not ${imageId}`);
  const ids = (group?.Instances ?? [])
    .filter((instance) => instance.LifecycleState === "InService")
    .map((instance) => instance.InstanceId ?? "");
  if (ids.length !== capacity) problems.push(`${ids.length} instances in service, expected ${capacity}`);
  if (ids.length > 0) {
    const described = await bench.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
    const instances = (described.Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []);
    for (const instance of instances) {
      if (instance.ImageId !== imageId) problems.push(`${instance.InstanceId} runs ${instance.ImageId}`);
      const answer = await fetch(`http://${instance.PrivateIpAddress}:8080/`, {
        signal: AbortSignal.timeout(2000),
      })
        .then((response) => response.text())
        .catch((error: Error) => `no answer (${error.message})`);
      const expected = `hello from ${record.service} ${record.version}`;
      if (answer.trim() !== expected)
        problems.push(`${instance.InstanceId} answers "${answer.trim()}", expected "${expected}"`);
    }
  }
  return problems;
}

async function deploy(
  bench: BenchCloud,
  service: string,
  version: string,
  artifact: PackedArtifact,
  capacity: number,
): Promise<Outcome> {
  const { deploymentId, requestedAt } = await bench.put(artifact);
  const record = await bench.waitForEnd(deploymentId);
  const history = await bench.executionHistory(deploymentId);
  const timeline =
    record.status === "SUCCEEDED" ? timelineOf(bench, record, requestedAt, history) : undefined;
  const kilnParts = timeOutsideWaitLoopsByPart(history, requestedAt);
  return {
    service,
    version,
    deploymentId,
    status: record.status,
    leadMs: record.endedAt ? Date.parse(record.endedAt) - requestedAt : Number.NaN,
    floorMs: timeline?.floorTotalMs ?? Number.NaN,
    overheadMs: timeline?.overhead.totalMs ?? Number.NaN,
    kilnMs: timeline?.overhead.orchestrationMs ?? Number.NaN,
    kilnParts,
    crossTalk:
      record.status === "SUCCEEDED"
        ? await crossTalkOf(bench, record, capacity)
        : [`ended ${record.status}: ${record.error?.message ?? ""}`],
  };
}

/** Runs figure 4. */
export async function concurrencyFigure(options: BenchOptions): Promise<FigureResult> {
  const count = options.quick ? 3 : 10;
  const capacity = options.quick ? 1 : 2;
  const loneRuns = options.quick ? 1 : 3;
  const services = Array.from({ length: count }, (_, index) => `svc-${String(index + 1).padStart(2, "0")}`);
  // Varied durations, as in figure 1: with exact ones every loop meets its condition at the same
  // point of its poll cycle, and a small slowdown under load tips it past a check.
  const bench = await startBenchCloud({ timescale: options.timescale, jitter: 0.25 });
  try {
    const started = performance.now();
    await Promise.all(services.map((service) => bench.bootstrap(service, capacity)));
    options.log(
      `  bootstrapped ${count} services with groups of ${capacity} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    const settle = () => sleep(bench.timescale.scaledMs(10) + 500);

    const functionsAtStart = bench.cloud.stats.functions();
    const lone: Outcome[] = [];
    for (const service of services.slice(0, loneRuns)) {
      await settle();
      const outcome = await deploy(bench, service, "1.1.0", await bench.pack(service, "1.1.0"), capacity);
      options.log(`  lone ${service}: ${outcome.status} in ${(outcome.leadMs / 1000).toFixed(1)} s`);
      lone.push(outcome);
    }
    const functionsAlone = bench.cloud.stats.functions();
    // Packed beforehand, so that the uploads leave at one moment and no packing competes with them.
    const packed = await Promise.all(
      services.map(async (service) => ({ service, artifact: await bench.pack(service, "2.0.0") })),
    );
    await settle();
    const together = performance.now();
    const concurrent = await Promise.all(
      packed.map(({ service, artifact }) => deploy(bench, service, "2.0.0", artifact, capacity)),
    );
    const wallMs = performance.now() - together;
    options.log(
      `  ${count} at once: ${concurrent.filter((outcome) => outcome.status === "SUCCEEDED").length} succeeded in ${(wallMs / 1000).toFixed(1)} s`,
    );

    const invocationMs = {
      alone: summarize(durationsBetween(functionsAtStart, functionsAlone)),
      atOnce: summarize(durationsBetween(functionsAlone, bench.cloud.stats.functions())),
    };
    const loneOverhead = median(lone.map((outcome) => outcome.overheadMs));
    const loneKiln = median(lone.map((outcome) => outcome.kilnMs));
    const concurrentKiln = median(concurrent.map((outcome) => outcome.kilnMs));
    const concurrentOverhead = summarize(concurrent.map((outcome) => outcome.overheadMs));
    const overheadRatio = concurrentOverhead.median / loneOverhead;
    const succeeded = concurrent.filter((outcome) => outcome.status === "SUCCEEDED").length;
    const clean = concurrent.filter((outcome) => outcome.crossTalk.length === 0).length;
    const partNames = [...new Set(concurrent.flatMap((outcome) => Object.keys(outcome.kilnParts)))];
    const partMedian = (outcomes: Outcome[], part: string) =>
      median(outcomes.map((outcome) => outcome.kilnParts[part] ?? 0));
    const parts = partNames
      .map((part) => ({ part, alone: partMedian(lone, part), atOnce: partMedian(concurrent, part) }))
      .sort((a, b) => b.atOnce - b.alone - (a.atOnce - a.alone))
      .slice(0, 8);
    const rows = [
      ...lone.map((outcome) => ["alone", outcome]),
      ...concurrent.map((outcome) => ["at once", outcome]),
    ] as Array<[string, Outcome]>;
    return {
      number: 4,
      id: "concurrency",
      title: `${count} services deploying at once`,
      method: `${count} services, each with its own group of ${capacity}, bootstrapped; ${loneRuns} of them then deployed alone, one after the other (the baseline), then all ${count} uploaded a new version at the same moment (fresh bakes). Timescale ${options.timescale}. AWS-like durations varied by up to ±25%. Floor per deployment as in figure 1, from the local cloud's records of its own builder, image, canary and group only: in each wait loop, from the task that started the operation returning to the operation reported done; the same for lone and concurrent. Median of each set.`,
      tables: [
        {
          title: "Every deployment",
          columns: [
            "run",
            "service",
            "status",
            "lead",
            "floor",
            "overhead",
            "outside wait loops",
            "landed where it should",
          ],
          rows: rows.map(([run, outcome]) => [
            run,
            outcome.service,
            outcome.status,
            seconds(outcome.leadMs),
            seconds(outcome.floorMs),
            seconds(outcome.overheadMs),
            seconds(outcome.kilnMs),
            outcome.crossTalk.length === 0 ? "yes" : outcome.crossTalk.join("; "),
          ]),
        },
        {
          title: "Where the time outside the wait loops grows at once (medians; the parts that grow most)",
          columns: ["part", "alone", "at once"],
          rows: parts.map(({ part, alone, atOnce }) => [part, millis(alone, 0), millis(atOnce, 0)]),
        },
        {
          title: "Summary",
          columns: ["", "value"],
          rows: [
            ["succeeded at once", `${succeeded} of ${count}`],
            ["on their own group, image and version", `${clean} of ${count}`],
            ["overhead alone (median)", seconds(loneOverhead)],
            [
              "overhead at once (median, min–max)",
              `${seconds(concurrentOverhead.median)} (${(concurrentOverhead.min / 1000).toFixed(2)}–${(concurrentOverhead.max / 1000).toFixed(2)})`,
            ],
            ["ratio", ratio(overheadRatio)],
            [
              "outside wait loops, alone → at once (medians)",
              `${seconds(loneKiln)} → ${seconds(concurrentKiln)} (${ratio(concurrentKiln / loneKiln)})`,
            ],
            ["wall time for all at once", seconds(wallMs)],
            [
              "Kiln's function invocations: median (p99) duration",
              `alone ${millis(invocationMs.alone.median)} (${millis(invocationMs.alone.p99)}), at once ${millis(invocationMs.atOnce.median)} (${millis(invocationMs.atOnce.p99)})`,
            ],
          ],
        },
      ],
      targets: [
        {
          name: "all succeed",
          target: `${count} of ${count}`,
          actual: `${succeeded} of ${count}`,
          met: succeeded === count,
        },
        {
          name: "no cross-talk",
          target: `${count} of ${count} clean`,
          actual: `${clean} of ${count}`,
          met: clean === count,
        },
        {
          name: "overhead at once / alone (medians)",
          target: `≤ ${concurrencyTarget.toFixed(2)}`,
          actual: ratio(overheadRatio),
          met: overheadRatio <= concurrencyTarget,
        },
      ],
      notes: [
        `A deployment's overhead is Kiln's alone: its time outside the wait loops (tasks, transitions, the request), each loop's detection lag and the canary's further probes. ${loneRuns} lone run${loneRuns === 1 ? "" : "s"} make the baseline. AWS-like durations vary by up to ±25% here, as in figure 1.`,
        "Kiln's own work under load shows in its functions' durations (last row of the summary): that part is what many deployments at once slow down.",
        `All ${count} deployments share 2 cores with their instances (builders, canaries, ${count * capacity} group instances and their replacements) and the emulators, whose file work (the instances' disk copies, the DynamoDB engine, S3's objects) shares libuv's thread pool: ${process.env.UV_THREADPOOL_SIZE ?? "4 (Node's default)"} threads here.`,
      ],
      data: { count, capacity, lone, concurrent, wallMs, invocationMs },
    };
  } finally {
    await bench.stop();
  }
}
