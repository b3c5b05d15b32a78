/**
 * Measures one group of figures in a process of its own, so each gets a fresh local cloud (one
 * per process: Kiln's functions share `process.env` and SDK clients) and a quiet heap, and
 * writes the results as JSON for the runner.
 *
 *   tsx bench/figure-process.ts <group> --out <file> [--quick] [--timescale <n>] [--prior <file>]
 */
import "../local/polyfills.ts";
// First, before Kiln's functions create their logger: the output is for the figures.
import "./quiet-logs.ts";
import { readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import * as z from "zod";
import { concurrencyFigure } from "./concurrency.ts";
import { deploymentCostFigure } from "./deployment-cost.ts";
import { runDeployments } from "./deployment-runs.ts";
import { detectionLagFigure } from "./detection-lag.ts";
import type { BenchOptions, FigureResult } from "./figure.ts";
import { type FigureGroup, failedFigures, figureGroups } from "./figure-groups.ts";
import { functionBundlesFigure } from "./function-bundles.ts";
import { historyApiFigure } from "./history-api.ts";
import { leadTimeFigure } from "./lead-time.ts";
import { npmStartFigure } from "./npm-start.ts";
import { pruneFigure } from "./prune.ts";

const priorSchema = z.object({ coldImportMedianMs: z.record(z.string(), z.number()).optional() });

async function measure(
  group: FigureGroup,
  options: BenchOptions,
  priorFile: string | undefined,
): Promise<FigureResult[]> {
  switch (group) {
    case "bundles":
      return [await functionBundlesFigure(options)];
    case "deployments": {
      const prior = priorFile ? priorSchema.parse(JSON.parse(await readFile(priorFile, "utf8"))) : {};
      const runs = await runDeployments({
        ...options,
        rounds: options.quick ? 1 : 2,
        capacity: options.quick ? 1 : 3,
        // AWS's durations vary: so do these, so that wait loops meet their conditions at random
        // points of their poll cycles (bench/recording-timescale.ts).
        jitter: 0.25,
        idleMs: options.quick ? 3000 : 15_000,
      });
      return [
        leadTimeFigure(runs),
        detectionLagFigure(runs),
        deploymentCostFigure(runs, prior.coldImportMedianMs),
      ];
    }
    case "concurrency":
      return [await concurrencyFigure(options)];
    case "history":
      return [await historyApiFigure(options)];
    case "prune":
      return [await pruneFigure(options)];
    case "npm-start":
      return [await npmStartFigure(options)];
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      out: { type: "string" },
      quick: { type: "boolean", default: false },
      timescale: { type: "string" },
      prior: { type: "string" },
    },
  });
  const group = z.enum(Object.keys(figureGroups) as [FigureGroup, ...FigureGroup[]]).parse(positionals[0]);
  if (values.out === undefined) throw new Error("--out <file> is required");
  const options: BenchOptions = {
    quick: values.quick ?? false,
    timescale: Number(values.timescale ?? (values.quick ? 0.02 : 0.2)),
    log: (line) => process.stderr.write(`${line}\n`),
  };
  const started = performance.now();
  let figures: FigureResult[];
  try {
    figures = await measure(group, options, values.prior);
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    options.log(`  ${group} failed: ${message}`);
    figures = failedFigures(group, error instanceof Error ? error.message : String(error));
  }
  const elapsedMs = performance.now() - started;
  await writeFile(
    values.out,
    JSON.stringify(
      figures.map((figure) => ({ ...figure, elapsedMs })),
      null,
      2,
    ),
  );
}

main().then(
  // Instance processes are gone once the local cloud stopped; SDK sockets may linger: exit.
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
