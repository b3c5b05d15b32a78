/**
 * Figure 7: every function's bundle as Kiln deploys it — built by stacks/function-bundles.ts, the
 * very builder whose output stacks/functions.ts hands to SST — its size, what makes it up, and
 * its cold import time: a fresh `node` process importing it, as a Lambda cold start's INIT does.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import {
  buildFunctionBundles,
  type FunctionBundle,
  functionBuildOptions,
} from "../stacks/function-bundles.ts";
import { type KilnFunctionName, kilnFunctionNames, kilnFunctions } from "../workflows/functions.ts";
import { type BenchOptions, type FigureResult, millis } from "./figure.ts";
import { summarize } from "./stats.ts";

export const bundleSizeTargetKiB = 300;
export const coldImportTargetMs = 150;

const repo = new URL("..", import.meta.url).pathname;

/** What the functions read at cold start (functions/environment.ts), so an import can complete. */
const coldStartEnvironment = {
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "kiln-bench",
  AWS_SECRET_ACCESS_KEY: "kiln-bench",
  AWS_EC2_METADATA_DISABLED: "true",
  KILN_TABLE_NAME: "kiln",
  KILN_ARTIFACT_BUCKET: "kiln-artifacts",
  KILN_STATE_MACHINE_ARN: "arn:aws:states:us-east-1:000000000000:stateMachine:kiln-deploy",
  KILN_BUILDER_INSTANCE_PROFILE: "kiln-builder",
  KILN_SLACK_WEBHOOK_URL: "http://127.0.0.1:9/slack",
  KILN_EMAIL_FROM: "kiln@example.com",
  KILN_API_URL: "http://127.0.0.1:9",
  POWERTOOLS_LOG_LEVEL: "ERROR",
};

/** How many parts of a bundle the table names; the rest are summed as "other". */
const partsShown = 6;

export interface BundleMeasurement {
  name: string;
  entry: string;
  /** The bundle file, while the figure runs. */
  file?: string;
  bytes?: number;
  gzipBytes?: number;
  /** What the bundle is made of: npm packages, Kiln's own code, the rest as "other"; KiB. */
  parts?: Array<{ part: string; kib: number }>;
  importMs?: number[];
  error?: string;
}

/** Imports the bundle in a fresh node process; resolves with the import's duration, ms. */
function coldImport(file: string): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(String(performance.now() - t));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "--no-warnings", "-e", script], {
      env: { PATH: process.env.PATH ?? "", ...coldStartEnvironment },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = Number(stdout.trim());
      if (code === 0 && Number.isFinite(ms)) resolve(ms);
      else
        reject(
          new Error(
            `importing the bundle failed (exit ${code}): ${stderr.trim().split("\n").slice(0, 3).join(" ")}`,
          ),
        );
    });
  });
}

const firstLine = (error: unknown) =>
  error instanceof Error ? (error.message.split("\n")[0] ?? error.message) : String(error);

/**
 * Builds every function's bundle with Kiln's builder: one esbuild run for all, or, when that
 * fails, one run per function, so one entry that does not build spoils only its own row.
 */
async function bundleAll(outdir: string): Promise<{ measurements: BundleMeasurement[]; warnings: string[] }> {
  const present = kilnFunctionNames.filter((name) => existsSync(join(repo, kilnFunctions[name])));
  const built = new Map<KilnFunctionName, FunctionBundle>();
  const failed = new Map<KilnFunctionName, string>();
  const warnings: string[] = [];
  try {
    const result = await buildFunctionBundles({ root: repo, outdir, names: present });
    for (const bundle of Object.values(result.bundles)) built.set(bundle.name, bundle);
    warnings.push(...result.warnings);
  } catch {
    for (const name of present) {
      try {
        const result = await buildFunctionBundles({ root: repo, outdir, names: [name] });
        built.set(name, result.bundles[name]);
        warnings.push(...result.warnings);
      } catch (error) {
        failed.set(name, firstLine(error));
      }
    }
  }
  const measurements = await Promise.all(
    kilnFunctionNames.map(async (name): Promise<BundleMeasurement> => {
      const entry = kilnFunctions[name];
      if (!present.includes(name)) return { name, entry, error: `${entry} does not exist` };
      const bundle = built.get(name);
      if (bundle === undefined) return { name, entry, error: failed.get(name) ?? "not built" };
      return {
        name,
        entry,
        file: bundle.file,
        bytes: bundle.bytes,
        gzipBytes: gzipSync(await readFile(bundle.file)).length,
        parts: partsOf(bundle),
      };
    }),
  );
  return { measurements, warnings: [...new Set(warnings)] };
}

/** Bytes in one bundle per npm package (Kiln's own files together), largest first. */
function partsOf(bundle: FunctionBundle): Array<{ part: string; kib: number }> {
  const bytes = new Map<string, number>();
  for (const [file, size] of Object.entries(bundle.inputs)) {
    const part = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? "Kiln's code";
    bytes.set(part, (bytes.get(part) ?? 0) + size);
  }
  const sorted = [...bytes].sort((a, b) => b[1] - a[1]);
  const shown = sorted.slice(0, partsShown);
  const rest = sorted.slice(partsShown).reduce((total, [, size]) => total + size, 0);
  return [...shown, ...(rest > 0 ? [["other", rest] as const] : [])].map(([part, size]) => ({
    part,
    kib: Math.round(size / 102.4) / 10,
  }));
}

/** Functions the size target's price is shown for: the smallest, a two-service one, the largest. */
const comparedWithExternalSdk: KilnFunctionName[] = ["checkBuilder", "releaseLock", "api"];

/**
 * The same function built with the AWS SDK left to the Lambda runtime's copy (`@aws-sdk/*` and
 * `@smithy/*` external, resolved from node_modules when imported): its size and cold import.
 */
async function externalSdkVariant(name: KilnFunctionName, runs: number) {
  // Inside the repository, so the external packages resolve from its node_modules.
  const outfile = join(repo, ".sst", "bench-external-sdk", `${name}.mjs`);
  const options = functionBuildOptions(repo);
  const result = await build({
    ...options,
    entryPoints: [join(repo, kilnFunctions[name])],
    outfile,
    external: ["@aws-sdk/*", "@smithy/*"],
    // The credential plugin replaces an SDK module, which is now external.
    plugins: (options.plugins ?? []).filter((plugin) => plugin.name !== "kiln-lambda-credentials"),
  });
  const bytes = Object.values(result.metafile?.outputs ?? {})[0]?.bytes ?? 0;
  const importMs: number[] = [];
  for (let run = 0; run < runs; run += 1) importMs.push(await coldImport(outfile));
  return { name, bytes, importMs };
}

/** Runs figure 7. */
export async function functionBundlesFigure(options: BenchOptions): Promise<FigureResult> {
  const runs = options.quick ? 1 : 7;
  const outdir = await mkdtemp(join(tmpdir(), "kiln-bundles-"));
  try {
    const { measurements, warnings } = await bundleAll(outdir);
    options.log(
      `  bundled ${measurements.filter((m) => m.bytes !== undefined).length} of ${measurements.length} functions`,
    );
    // Rounds over all bundles rather than one bundle at a time, so a burst of load elsewhere on
    // the machine does not land on one function only.
    for (let round = 0; round < runs; round += 1) {
      for (const measurement of measurements) {
        if (measurement.file === undefined || measurement.error !== undefined) continue;
        try {
          const ms = await coldImport(measurement.file);
          measurement.importMs = [...(measurement.importMs ?? []), ms];
        } catch (error) {
          measurement.error = error instanceof Error ? error.message : String(error);
        }
      }
    }
    const kib = (bytes: number) => bytes / 1024;
    const rows = measurements.map((measurement) => {
      if (measurement.bytes === undefined || measurement.importMs === undefined) {
        return [
          measurement.name,
          "–",
          "–",
          "–",
          "–",
          "–",
          `not measured: ${measurement.error ?? "no import"}`,
        ];
      }
      const imported = summarize(measurement.importMs);
      const sizeMet = kib(measurement.bytes) <= bundleSizeTargetKiB;
      const importMet = imported.median <= coldImportTargetMs;
      return [
        measurement.name,
        `${kib(measurement.bytes).toFixed(1)} KiB`,
        `${kib(measurement.gzipBytes ?? 0).toFixed(1)} KiB`,
        millis(imported.median),
        `${imported.min.toFixed(0)}–${imported.max.toFixed(0)} ms`,
        (measurement.parts ?? []).map((part) => `${part.part} ${part.kib.toFixed(0)}`).join(", "),
        [
          sizeMet ? "" : `size over ${bundleSizeTargetKiB} KiB`,
          importMet ? "" : `import over ${coldImportTargetMs} ms`,
          measurement.error ?? "",
        ]
          .filter(Boolean)
          .join("; ") || "both met",
      ];
    });
    const measured = measurements.filter((m) => m.bytes !== undefined && m.importMs !== undefined);
    const unmeasured = measurements.filter((m) => m.bytes === undefined || m.importMs === undefined);
    const largest = measured.reduce<BundleMeasurement | undefined>(
      (top, m) => ((m.bytes ?? 0) > (top?.bytes ?? -1) ? m : top),
      undefined,
    );
    const slowest = measured.reduce<BundleMeasurement | undefined>(
      (top, m) =>
        summarize(m.importMs ?? []).median > summarize(top?.importMs ?? []).median || top === undefined
          ? m
          : top,
      undefined,
    );
    const overSize = measured.filter((m) => kib(m.bytes ?? 0) > bundleSizeTargetKiB);
    const overImport = measured.filter((m) => summarize(m.importMs ?? []).median > coldImportTargetMs);
    const external = await Promise.all(
      comparedWithExternalSdk.map((name) =>
        externalSdkVariant(name, runs).catch((error: unknown) => ({ name, error: firstLine(error) })),
      ),
    );
    const externalRows = external.map((variant) => {
      const bundled = measurements.find((m) => m.name === variant.name);
      const bundledCells = [
        bundled?.bytes === undefined ? "–" : `${kib(bundled.bytes).toFixed(0)} KiB`,
        bundled?.importMs === undefined ? "–" : millis(summarize(bundled.importMs).median, 0),
      ];
      if ("error" in variant) return [variant.name, ...bundledCells, "–", `not measured: ${variant.error}`];
      return [
        variant.name,
        ...bundledCells,
        `${kib(variant.bytes).toFixed(0)} KiB`,
        millis(summarize(variant.importMs).median, 0),
      ];
    });
    return {
      number: 7,
      id: "function-bundles",
      title: "Function bundles: size and cold import",
      method: `Each entry of workflows/functions.ts built by stacks/function-bundles.ts, whose bundles stacks/functions.ts deploys: esbuild with SST v3's options for Node functions (bundle, minify, keep names, platform node, target node22, format esm, mainFields module then main, its createRequire banner; only Node built-ins external) and Kiln's two plugins (the SDK schemas' constant keys written out; Lambda's credential chain in place of the SDK's default one); size of the .mjs, the only file of the function's zip (and gzipped, as it travels in the zip); parts by npm package. Cold import: a fresh \`node\` process (${process.version} here; Lambda runs nodejs22.x) timing \`await import(bundle)\`, ${runs} runs per function in rounds; median, min–max.`,
      tables: [
        {
          title: "Per function",
          columns: [
            "function",
            "bundle",
            "gzipped",
            "import median",
            "min–max",
            "largest parts (KiB)",
            "targets",
          ],
          rows,
        },
        {
          title:
            "The size target's price: the same functions with the SDK left to the Lambda runtime's copy (median import)",
          columns: ["function", "bundled: size", "import", "SDK external: size", "import"],
          rows: externalRows,
        },
      ],
      targets: [
        {
          name: "every function's bundle size",
          target: `≤ ${bundleSizeTargetKiB} KiB`,
          actual: largest
            ? `largest ${largest.name} ${kib(largest.bytes ?? 0).toFixed(0)} KiB; ${overSize.length} of ${measured.length} over`
            : "not measured",
          met: measured.length > 0 && overSize.length === 0,
        },
        {
          name: "every function's cold import (median)",
          target: `≤ ${coldImportTargetMs} ms`,
          actual: slowest
            ? `slowest ${slowest.name} ${millis(summarize(slowest.importMs ?? []).median, 0)}; ${overImport.length} of ${measured.length} over`
            : "not measured",
          met: measured.length > 0 && overImport.length === 0,
        },
        {
          name: "every function built and imported",
          target: `${measurements.length} of ${measurements.length}`,
          actual: `${measured.length} of ${measurements.length}${unmeasured.length > 0 ? ` (not: ${unmeasured.map((m) => m.name).join(", ")})` : ""}`,
          met: unmeasured.length === 0,
        },
      ],
      notes: [
        "KiB = 1,024 bytes. The import time covers loading, parsing and running the module's top level (SDK clients created, configuration read), not the Lambda runtime's own start.",
        "Kiln bundles the SDK: the runtime's copy would meet the size target but load from hundreds of files at every cold start (second table), and its version would be AWS's choice rather than the one Kiln is tested with.",
        ...warnings.map((warning) => `esbuild warned: ${warning}`),
      ],
      data: {
        runs,
        measurements: measurements.map(({ file: _file, ...measurement }) => measurement),
        warnings,
        coldImportMedianMs: Object.fromEntries(
          measured.map((m) => [m.name, summarize(m.importMs ?? []).median]),
        ),
      },
    };
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
}
