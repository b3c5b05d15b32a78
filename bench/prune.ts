/**
 * Figure 6: the image pruner over thousands of Kiln images: wall time of the pruneImages function
 * and the AWS calls it makes, by action. It runs a dry run at two inventory sizes (so the growth
 * of look-up calls with the number of images shows), then a live run with the deployed limits.
 */
import {
  CreateImageCommand,
  DescribeInstancesCommand,
  RunInstancesCommand,
  StopInstancesCommand,
} from "@aws-sdk/client-ec2";
import { type CallCounts, callsBetween, totalCalls } from "./aws-call-counter.ts";
import { type BenchCloud, startBenchCloud } from "./bench-cloud.ts";
import { type BenchOptions, type FigureResult, seconds } from "./figure.ts";

export const pruneWallTargetMs = 30_000;

interface PruneMeasurement {
  run: string;
  images: number;
  dryRun: boolean;
  wallMs: number;
  calls: CallCounts;
  summary: unknown;
}

const lookupActions = [
  "ec2:DescribeImages",
  "ec2:DescribeLaunchTemplateVersions",
  "ec2:DescribeInstances",
  "autoscaling:DescribeAutoScalingGroups",
];
const removalActions = ["ec2:DeregisterImage", "ec2:DeleteSnapshot"];

async function waitForState(bench: BenchCloud, instanceId: string, state: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt += 1) {
    const described = await bench.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    if (described.Reservations?.[0]?.Instances?.[0]?.State?.Name === state) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${instanceId} never reached ${state}`);
}

/** Creates `count` images of the stopped source, spread over the services, tagged as Kiln's bakes are. */
async function bakeImages(
  bench: BenchCloud,
  source: string,
  services: string[],
  from: number,
  count: number,
): Promise<void> {
  const indexes = Array.from({ length: count }, (_, offset) => from + offset);
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let index = indexes.shift(); index !== undefined; index = indexes.shift()) {
        const service = services[index % services.length] ?? "prune-01";
        const tags = [
          { Key: "kiln:managed", Value: "true" },
          { Key: "kiln:service", Value: service },
          { Key: "kiln:version", Value: `1.0.${index}` },
          { Key: "kiln:image-status", Value: index % 10 === 3 ? "rejected" : "deployed" },
        ];
        await bench.ec2.send(
          new CreateImageCommand({
            InstanceId: source,
            Name: `kiln-${service}-1.0.${index}`,
            NoReboot: true,
            TagSpecifications: [
              { ResourceType: "image", Tags: tags },
              { ResourceType: "snapshot", Tags: tags },
            ],
          }),
        );
      }
    }),
  );
}

async function invokePrune(
  bench: BenchCloud,
  run: string,
  images: number,
  dryRun: boolean,
): Promise<PruneMeasurement> {
  const before = bench.calls.snapshot();
  const started = performance.now();
  const summary = await bench.cloud.functions.invoke("pruneImages", dryRun ? { dryRun: true } : {});
  const wallMs = performance.now() - started;
  return { run, images, dryRun, wallMs, calls: callsBetween(before, bench.calls.snapshot()), summary };
}

const sumOf = (calls: CallCounts, actions: string[]) =>
  actions.reduce((total, action) => total + (calls[action] ?? 0), 0);

/** Runs figure 6. */
export async function pruneFigure(options: BenchOptions): Promise<FigureResult> {
  const smaller = options.quick ? 200 : 1000;
  const total = options.quick ? 500 : 5000;
  const services = Array.from({ length: 10 }, (_, index) => `prune-${String(index + 1).padStart(2, "0")}`);
  const bench = await startBenchCloud({ timescale: 0 });
  try {
    for (const service of services) {
      await bench.register(service, { retention: { keepImages: 5, minAgeDays: 0, failedImageDays: 0 } });
    }
    const launched = await bench.ec2.send(
      new RunInstancesCommand({
        ImageId: bench.cloud.baseImageId,
        InstanceType: "t3.micro",
        MinCount: 1,
        MaxCount: 1,
      }),
    );
    const source = launched.Instances?.[0]?.InstanceId ?? "";
    await waitForState(bench, source, "running");
    await bench.ec2.send(new StopInstancesCommand({ InstanceIds: [source] }));
    await waitForState(bench, source, "stopped");

    let started = performance.now();
    await bakeImages(bench, source, services, 0, smaller);
    options.log(`  made ${smaller} images in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const measurements = [await invokePrune(bench, "dry run", smaller, true)];
    started = performance.now();
    await bakeImages(bench, source, services, smaller, total - smaller);
    options.log(
      `  made ${total - smaller} more images in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    measurements.push(await invokePrune(bench, "dry run", total, true));
    measurements.push(await invokePrune(bench, "live run", total, false));
    for (const measurement of measurements) {
      options.log(
        `  ${measurement.run} over ${measurement.images} images: ${(measurement.wallMs / 1000).toFixed(1)} s, ${totalCalls(measurement.calls)} calls`,
      );
    }

    const [small, large, live] = measurements as [PruneMeasurement, PruneMeasurement, PruneMeasurement];
    const lookupsSmall = sumOf(small.calls, lookupActions);
    const lookupsLarge = sumOf(large.calls, lookupActions);
    const pagesSmall = Math.ceil(smaller / 1000);
    const pagesLarge = Math.ceil(total / 1000);
    const removed = countOf(live.summary, "removed");
    const actions = [
      ...new Set(measurements.flatMap((measurement) => Object.keys(measurement.calls))),
    ].sort();
    const growsWithPages = lookupsLarge - lookupsSmall === pagesLarge - pagesSmall;
    return {
      number: 6,
      id: "prune",
      title: `Prune over ${total.toLocaleString("en")} images`,
      method: `${services.length} registered services (keep 5 newest, no minimum age), ${total} images tagged as Kiln's bakes (every tenth rejected) made with CreateImage on the local EC2 at an instant timescale. The pruneImages function invoked as the schedule and the API do: a dry run at ${smaller} images, another at ${total}, then a live run with the deployed limits (at most 500 removals per run, 4 at a time). One run each; wall time of the invocation; calls counted in Kiln's clients.`,
      tables: [
        {
          title: "Runs",
          columns: ["run", "images", "wall time", "look-up calls", "removal calls", "all calls", "outcome"],
          rows: measurements.map((measurement) => [
            measurement.run,
            String(measurement.images),
            seconds(measurement.wallMs),
            String(sumOf(measurement.calls, lookupActions)),
            String(sumOf(measurement.calls, removalActions)),
            String(totalCalls(measurement.calls)),
            outcomeOf(measurement.summary),
          ]),
        },
        {
          title: "Calls by action",
          columns: [
            "service:Action",
            ...measurements.map((measurement) => `${measurement.run} (${measurement.images})`),
          ],
          rows: actions.map((action) => [
            action,
            ...measurements.map((measurement) => String(measurement.calls[action] ?? 0)),
          ]),
        },
      ],
      targets: [
        {
          name: `dry run over ${total} images`,
          target: `< ${seconds(pruneWallTargetMs, 0)}`,
          actual: seconds(large.wallMs),
          met: large.wallMs < pruneWallTargetMs,
        },
        {
          name: `live run over ${total} images`,
          target: `< ${seconds(pruneWallTargetMs, 0)}`,
          actual: seconds(live.wallMs),
          met: live.wallMs < pruneWallTargetMs,
        },
        {
          name: `look-up calls, ${smaller} → ${total} images`,
          target: `grow by the extra DescribeImages pages (${pagesLarge - pagesSmall})`,
          actual: `${lookupsSmall} → ${lookupsLarge}`,
          met: growsWithPages,
        },
      ],
      notes: [
        `Look-ups read images a page (1,000) at a time and launch templates and instances per group or page: ${lookupsSmall} calls at ${smaller} images, ${lookupsLarge} at ${total}.`,
        `The run's audit record lists every image it kept or removed, written in parts: ${small.calls["dynamodb:PutItem"] ?? 0} PutItem calls at ${smaller} images, ${large.calls["dynamodb:PutItem"] ?? 0} at ${total}: those grow with the images, in chunks.`,
        "Each DeregisterImage on the local EC2 waits for its whole state file (thousands of images) to be rewritten before it answers, likely most of the live run's time here; on AWS the run takes 125 rounds (500 removals, 4 at a time) of DeregisterImage's own latency.",
        `Removal is one DeregisterImage per image (it deletes the image's snapshots in the same call; a DeleteSnapshot follows only for one it could not): EC2 has no batch deregistration. The live run removed ${removed} images${removed >= 500 ? ", the per-run limit; the rest wait for the next daily run" : ""}.`,
      ],
      data: { services: services.length, measurements },
    };
  } finally {
    await bench.stop();
  }
}

function countOf(summary: unknown, field: string): number {
  if (typeof summary !== "object" || summary === null || !("counts" in summary)) return 0;
  const counts = summary.counts;
  if (typeof counts !== "object" || counts === null || !(field in counts)) return 0;
  const value = (counts as Record<string, unknown>)[field];
  return typeof value === "number" ? value : 0;
}

function outcomeOf(summary: unknown): string {
  const outcome =
    typeof summary === "object" && summary !== null && "outcome" in summary ? String(summary.outcome) : "?";
  return `${outcome}: ${countOf(summary, "selected")} selected, ${countOf(summary, "removed")} removed, ${countOf(summary, "kept")} kept`;
}
