/**
 * `npm run bench`: Kiln's benchmarks on the local cloud. Measures each group of figures in a
 * child process of its own (bench/figure-process.ts), prints every figure and a summary of the
 * targets, and writes bench/results/latest.json.
 *
 *   npm run bench                      everything (about ten minutes on two cores)
 *   npm run bench -- --quick           a small version of everything (about two minutes)
 *   npm run bench -- --only prune,history
 *   npm run bench -- --timescale 0.1   AWS durations × 0.1 (default 0.2; 0.02 with --quick)
 *   npm run bench -- --out <file>      results elsewhere than bench/results/latest.json
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as z from "zod";
import { localCloudProcessEnv } from "../local/endpoints.ts";
import { type FigureResult, figureResultsSchema } from "./figure.ts";
import { type FigureGroup, failedFigures, figureGroupNames, figureGroups } from "./figure-groups.ts";
import { renderFigure, renderSummary } from "./table-printer.ts";

const benchDir = fileURLToPath(new URL(".", import.meta.url));
export const resultsFile = join(benchDir, "results", "latest.json");

const say = (line: string) => process.stdout.write(`${line}\n`);

const coldImportsSchema = z.object({ coldImportMedianMs: z.record(z.string(), z.number()) });

function machine() {
  const [one, five] = loadavg();
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    platform: `${process.platform} ${release()}`,
    node: process.version,
    loadAverage: { oneMinute: one ?? 0, fiveMinutes: five ?? 0 },
  };
}

/** Runs one group in a child process; resolves with its figures (or figures carrying the error). */
function measureGroup(
  group: FigureGroup,
  args: string[],
  outFile: string,
  timeoutMs: number,
): Promise<FigureResult[]> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, join(benchDir, "figure-process.ts"), group, "--out", outFile, ...args],
      {
        stdio: ["ignore", "inherit", "inherit"],
        // Kiln's functions log through Powertools and the SDK warns about Node 20 in every
        // process: the output is for the figures. The local cloud gets the thread pool `npm start`
        // gives it.
        env: localCloudProcessEnv({ ...process.env, POWERTOOLS_LOG_LEVEL: "ERROR", NODE_NO_WARNINGS: "1" }),
      },
    );
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    const failed = (error: string) => failedFigures(group, error);
    child.on("close", async (code, signal) => {
      clearTimeout(timer);
      try {
        const parsed = figureResultsSchema.safeParse(JSON.parse(await readFile(outFile, "utf8")));
        if (!parsed.success) throw new Error(`not a list of figures: ${z.prettifyError(parsed.error)}`);
        resolve(parsed.data);
      } catch (error) {
        const why = signal ? `stopped by ${signal} after ${timeoutMs / 1000} s` : `exited ${code}`;
        resolve(
          failed(
            `the ${group} process ${why} without results (${error instanceof Error ? error.message : String(error)})`,
          ),
        );
      }
    });
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      timescale: { type: "string" },
      only: { type: "string" },
      out: { type: "string" },
    },
  });
  const quick = values.quick ?? false;
  const timescale = Number(values.timescale ?? (quick ? 0.02 : 0.2));
  if (!Number.isFinite(timescale) || timescale <= 0)
    throw new Error(`--timescale must be a positive number, not ${values.timescale}`);
  const only = values.only?.split(",").map((name) => name.trim());
  const unknown = only?.filter((name) => !figureGroupNames.includes(name as FigureGroup)) ?? [];
  if (unknown.length > 0)
    throw new Error(`unknown group ${unknown.join(", ")}: pick from ${figureGroupNames.join(", ")}`);
  const groups = figureGroupNames.filter((group) => only === undefined || only.includes(group));

  const started = performance.now();
  const machineAtStart = machine();
  say(
    `Kiln benchmarks${quick ? " (quick)" : ""}: timescale ${timescale} (AWS durations × ${timescale}), ${machineAtStart.cpus} × ${machineAtStart.cpuModel}, Node ${machineAtStart.node}, load ${machineAtStart.loadAverage.oneMinute.toFixed(2)}`,
  );
  const work = await mkdtemp(join(tmpdir(), "kiln-bench-run-"));
  const figures: FigureResult[] = [];
  try {
    const prior = join(work, "prior.json");
    await writeFile(prior, "{}");
    for (const group of groups) {
      say(`\n▸ ${group} (figure ${figureGroups[group].join(", ")})`);
      const args = [...(quick ? ["--quick"] : []), "--timescale", String(timescale), "--prior", prior];
      const results = await measureGroup(group, args, join(work, `${group}.json`), (quick ? 6 : 30) * 60_000);
      for (const figure of results) {
        figures.push(figure);
        say(`\n${renderFigure(figure)}`);
      }
      const bundles = results.find(
        (figure) => figure.id === "function-bundles" && figure.error === undefined,
      );
      // The cost figure prices cold starts with the bundles' import times.
      const coldImports = coldImportsSchema.safeParse(bundles?.data);
      if (coldImports.success) await writeFile(prior, JSON.stringify(coldImports.data));
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  figures.sort((a, b) => a.number - b.number);
  const elapsedMs = performance.now() - started;
  say(`\n${renderSummary(figures)}`);
  const missed = figures.flatMap((figure) => figure.targets.filter((target) => !target.met));
  const unmeasured = figures.filter((figure) => figure.error !== undefined);
  say(
    `\n${figures.length} figures in ${(elapsedMs / 1000).toFixed(0)} s; ${missed.length} target${missed.length === 1 ? "" : "s"} missed${unmeasured.length > 0 ? `; ${unmeasured.length} figure${unmeasured.length === 1 ? "" : "s"} NOT MEASURED` : ""}.`,
  );
  const out = resolve(values.out ?? resultsFile);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(
    out,
    `${JSON.stringify({ generatedAt: new Date().toISOString(), quick, timescale, groups, machine: { ...machineAtStart, loadAverageAtEnd: machine().loadAverage }, elapsedMs, figures }, null, 2)}\n`,
  );
  say(`Results: ${out}`);
  return unmeasured.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
