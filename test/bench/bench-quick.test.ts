/**
 * `npm run bench -- --quick` keeps working: it measures every figure, prints each, and writes
 * results that read back. No timing is asserted: the figures' targets are the benchmark's to
 * report, met or missed, not this test's to enforce.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as z from "zod";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const figureNumbers = [1, 2, 3, 4, 5, 6, 7, 8];

const resultsSchema = z.object({
  generatedAt: z.iso.datetime({ offset: true }),
  quick: z.literal(true),
  timescale: z.number().positive(),
  machine: z.object({ cpus: z.number().int().positive(), node: z.string() }),
  figures: z.array(
    z.object({
      number: z.number().int(),
      title: z.string().min(1),
      method: z.string().min(1),
      tables: z.array(z.object({ columns: z.array(z.string()), rows: z.array(z.array(z.string())) })).min(1),
      targets: z.array(
        z.object({ name: z.string(), target: z.string(), actual: z.string(), met: z.boolean() }),
      ),
      error: z.string().optional(),
    }),
  ),
});

let workDir: string;
let run: { code: number; stdout: string; stderr: string };
let resultsText: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "kiln-bench-test-"));
  const out = join(workDir, "results.json");
  run = await new Promise((resolve) => {
    execFile(
      "npm",
      ["run", "bench", "--silent", "--", "--quick", "--out", out],
      { cwd: repo, timeout: 900_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, FORCE_COLOR: "0" } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
  resultsText = await readFile(out, "utf8").catch(() => "");
}, 960_000);

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe("npm run bench -- --quick", () => {
  it("exits 0, having measured every figure", () => {
    expect(run.stdout).not.toContain("NOT MEASURED");
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
  });

  it.each(figureNumbers)("prints figure %i with how it was measured and its targets", (number) => {
    const section = run.stdout.split("━━ ").find((part) => part.startsWith(`Figure ${number}:`));
    expect(section, `figure ${number} is missing from the output`).toBeDefined();
    expect(section).toContain("How: ");
    expect(section).toContain("Targets");
  });

  it("prints the summary of targets, met or MISSED", () => {
    expect(run.stdout).toContain("━━ Targets");
    expect(run.stdout).toMatch(/\b(met|MISSED)\b/);
  });

  it("writes results that parse, with every figure measured", () => {
    const results = resultsSchema.parse(JSON.parse(resultsText));
    expect(results.figures.map((figure) => figure.number)).toEqual(figureNumbers);
    for (const figure of results.figures) expect(figure.error, `figure ${figure.number}`).toBeUndefined();
  });
});
