/**
 * Figure 5: the deployment history's read paths with many deployments recorded: a service's
 * deployments newest first (first page, and a later page through the cursor), recent
 * deployments across services, and one deployment by id — the queries behind the API's and the
 * CLI's listings — timed through Kiln's DynamoDB adapter against the local DynamoDB.
 */
import { DynamoDeploymentHistory } from "../core/aws/dynamo-deployment-history.ts";
import type { Deployment } from "../core/deployment.ts";
import { deploymentIdForObject } from "../core/deployment-id.ts";
import { startBenchCloud } from "./bench-cloud.ts";
import { type BenchOptions, type FigureResult, millis } from "./figure.ts";
import { summarize } from "./stats.ts";

export const historyP99TargetMs = 50;
const pageSize = 20;

/** A finished deployment record as Kiln writes them, with every step and the provenance fields. */
function recordedDeployment(index: number, service: string, at: Date): Deployment {
  const time = (offsetSeconds: number) => new Date(at.getTime() + offsetSeconds * 1000).toISOString();
  const version = `1.${Math.floor(index / 1000)}.${index % 1000}`;
  const key = `artifacts/${service}/${version}.tgz`;
  const failed = index % 17 === 0;
  return {
    id: deploymentIdForObject({
      bucket: "kiln-artifacts",
      key,
      etag: `"${index.toString(16).padStart(32, "0")}"`,
    }),
    service,
    version,
    status: failed ? "FAILED" : "SUCCEEDED",
    trigger: { kind: "s3" },
    artifact: {
      bucket: "kiln-artifacts",
      key,
      etag: `"${index.toString(16).padStart(32, "0")}"`,
      sha256: index.toString(16).padStart(64, "a"),
      size: 48_213,
    },
    manifest: { service, version, start: "node server.js", port: 8080, healthPath: "/health", env: {} },
    requestedAt: time(0),
    updatedAt: time(250),
    endedAt: time(250),
    steps: {
      prepare: { startedAt: time(1), endedAt: time(2) },
      bake: { startedAt: time(2), endedAt: time(110) },
      canary: { startedAt: time(110), endedAt: time(135) },
      roll: { startedAt: time(135), endedAt: time(249) },
      finish: { startedAt: time(249), endedAt: time(250) },
    },
    timeline: [
      { status: "PENDING", at: time(0) },
      { status: "BAKING", at: time(2) },
      { status: "CANARY", at: time(110) },
      { status: "ROLLING", at: time(135) },
      { status: failed ? "FAILED" : "SUCCEEDED", at: time(250) },
    ],
    baseImageId: "ami-0123456789abcdef0",
    imageId: `ami-${index.toString(16).padStart(17, "0")}`,
    builderInstanceId: `i-${(index * 2).toString(16).padStart(17, "0")}`,
    canaryInstanceId: `i-${(index * 2 + 1).toString(16).padStart(17, "0")}`,
    launchTemplateVersion: String(index + 2),
    previousLaunchTemplateVersion: String(index + 1),
    previousImageId: `ami-${(index + 1).toString(16).padStart(17, "0")}`,
    refreshId: `08b91c4e-${index.toString(16).padStart(4, "0")}-4d3f-9a1e-5c2f7e8d9b0a`,
    rollPercent: 100,
    ...(failed
      ? {
          error: {
            name: "CanaryUnhealthyError",
            message: "canary was not healthy in time",
            step: "canary" as const,
          },
        }
      : {}),
  };
}

async function inParallel<T>(
  items: T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

async function timed(samples: number, call: (index: number) => Promise<unknown>): Promise<number[]> {
  for (let index = 0; index < 10; index += 1) await call(index);
  const durations: number[] = [];
  for (let index = 0; index < samples; index += 1) {
    const started = performance.now();
    await call(index);
    durations.push(performance.now() - started);
  }
  return durations;
}

/** Runs figure 5. */
export async function historyApiFigure(options: BenchOptions): Promise<FigureResult> {
  const total = options.quick ? 1000 : 10_000;
  const serviceCount = options.quick ? 5 : 20;
  const samples = options.quick ? 50 : 300;
  const bench = await startBenchCloud({ timescale: 0 });
  try {
    const services = Array.from(
      { length: serviceCount },
      (_, index) => `service-${String(index + 1).padStart(2, "0")}`,
    );
    const start = Date.parse("2026-01-01T00:00:00Z");
    const deployments = Array.from({ length: total }, (_, index) =>
      recordedDeployment(
        index,
        services[index % serviceCount] ?? "service-01",
        new Date(start + index * 60_000),
      ),
    );
    const seeding = performance.now();
    await inParallel(deployments, 8, async (deployment) => {
      await bench.history.create(deployment);
    });
    const seedMs = performance.now() - seeding;
    options.log(
      `  recorded ${total} deployments of ${serviceCount} services in ${(seedMs / 1000).toFixed(1)} s`,
    );

    // Kiln's adapter with its own client, as the API function would read.
    const history = new DynamoDeploymentHistory(bench.cloud.env.KILN_TABLE_NAME ?? "kiln");
    const serviceAt = (index: number) => services[index % serviceCount] ?? "service-01";
    const secondPageCursors = await Promise.all(
      services.map(async (service) => (await history.listByService(service, { limit: pageSize })).cursor),
    );
    const operations: Array<{ name: string; query: string; durations: number[] }> = [
      {
        name: "list a service's deployments",
        query: `listByService, newest ${pageSize}`,
        durations: await timed(samples, (index) =>
          history.listByService(serviceAt(index), { limit: pageSize }),
        ),
      },
      {
        name: "… next page",
        query: `listByService with the cursor, next ${pageSize}`,
        durations: await timed(samples, (index) =>
          history.listByService(serviceAt(index), {
            limit: pageSize,
            cursor: secondPageCursors[index % serviceCount],
          }),
        ),
      },
      {
        name: "list recent deployments",
        query: `listRecent, newest ${pageSize} across services`,
        durations: await timed(samples, () => history.listRecent({ limit: pageSize })),
      },
      {
        name: "get a deployment",
        query: "get by id (random)",
        durations: await timed(samples, (index) =>
          history.get(deployments[(index * 7919) % total]?.id ?? ""),
        ),
      },
    ];
    const rows = operations.map((operation) => {
      const summary = summarize(operation.durations);
      return [
        operation.name,
        operation.query,
        String(summary.runs),
        millis(summary.median),
        millis(summary.p99),
        `${summary.min.toFixed(1)}–${summary.max.toFixed(1)} ms`,
        summary.p99 <= historyP99TargetMs ? "yes" : "NO",
      ];
    });
    return {
      number: 5,
      id: "history-api",
      title: `History queries with ${total.toLocaleString("en")} deployments recorded`,
      method: `${total} finished deployment records (${serviceCount} services) written through DynamoDeploymentHistory.create into the local DynamoDB (dynalite on disk); then each query ${samples} times in a row after 10 warm-up calls, through Kiln's adapter and SDK client, timed in the caller; p50, p99, min–max.`,
      tables: [
        {
          title: "Latency per query",
          columns: ["query", "as", "n", "p50", "p99", "min–max", `p99 ≤ ${historyP99TargetMs} ms`],
          rows,
        },
      ],
      targets: operations.map((operation) => {
        const p99 = summarize(operation.durations).p99;
        return {
          name: `${operation.name}, p99`,
          target: `≤ ${historyP99TargetMs} ms`,
          actual: millis(p99),
          met: p99 <= historyP99TargetMs,
        };
      }),
      notes: [
        "Timed at the adapter, which is what the API and the CLI call; the API's HTTP layer adds its own (small) cost on top.",
        "Both listings are Query calls on a global secondary index, newest first, one page: their cost does not grow with the number of deployments recorded, only with the page size.",
      ],
      data: {
        total,
        serviceCount,
        seedMs,
        operations: operations.map((operation) => ({
          ...operation,
          summary: summarize(operation.durations),
        })),
      },
    };
  } finally {
    await bench.stop();
  }
}
