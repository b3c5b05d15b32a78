import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalFunctions, localFunctionArn, resolveFunctionName } from "../../local/functions.ts";
import { rateSeconds, startScheduler } from "../../local/scheduler.ts";
import { Timescale } from "../../local/timescale.ts";

describe("the local Lambda runtime", () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "kiln-functions-"));
    await mkdir(join(root, "functions"));
    // `prepare` echoes what Lambda gave it; `finish` exists but exports no handler.
    await writeFile(
      join(root, "functions", "prepare.ts"),
      `export async function handler(event, context) {
        return { event, functionName: context.functionName, arn: context.invokedFunctionArn,
          requestId: context.awsRequestId, remaining: context.getRemainingTimeInMillis(), when: new Date(0) };
      }\n`,
    );
    await writeFile(join(root, "functions", "finish.ts"), "export const notAHandler = 1;\n");
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("loads a handler from its entry file and invokes it as Lambda does", async () => {
    const lines: string[] = [];
    const functions = createLocalFunctions({ root, log: (line) => lines.push(line), timeoutSeconds: 10 });

    const result = await functions.invoke(localFunctionArn("prepare"), {
      deploymentId: "d-1",
      skipped: undefined,
    });

    expect(result).toMatchObject({
      event: { deploymentId: "d-1" },
      functionName: "kiln-prepare",
      arn: "arn:aws:lambda:us-east-1:000000000000:function:kiln-prepare",
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      // Dates come back as JSON strings, as from a real invocation.
      when: "1970-01-01T00:00:00.000Z",
    });
    expect((result as { remaining: number }).remaining).toBeGreaterThan(9000);
    expect((result as { remaining: number }).remaining).toBeLessThanOrEqual(10_000);
    expect(lines).toEqual([expect.stringMatching(/^λ kiln-prepare [0-9a-f-]{36} \d+ ms ok$/)]);
  });

  it("names the file when a function cannot be loaded", async () => {
    const functions = createLocalFunctions({ root });

    await expect(functions.invoke("launchBuilder", {})).rejects.toMatchObject({
      name: "Runtime.ImportModuleError",
      message: expect.stringContaining("functions/launch-builder.ts"),
    });
    await expect(functions.invoke("kiln-finish", {})).rejects.toMatchObject({
      name: "Runtime.HandlerNotFound",
      message: expect.stringContaining("functions/finish.ts does not export a handler"),
    });
  });

  it("keeps a thrown error's name and times out a handler that runs too long", async () => {
    class ArtifactRejectedError extends Error {
      override readonly name = "ArtifactRejectedError";
    }
    const functions = createLocalFunctions({
      timeoutSeconds: 0.05,
      handlers: {
        onArtifact: async () => {
          throw new ArtifactRejectedError("not a gzip file");
        },
        checkImage: () => new Promise(() => {}),
      },
    });

    await expect(functions.invoke("onArtifact", {})).rejects.toMatchObject({
      name: "ArtifactRejectedError",
      message: "not a gzip file",
    });
    await expect(functions.invoke("checkImage", {})).rejects.toMatchObject({ name: "Sandbox.Timedout" });
  });

  it("counts invocations, errors and durations per function", async () => {
    const functions = createLocalFunctions({
      handlers: { notify: async () => ({}), releaseLock: async () => Promise.reject(new Error("lost")) },
    });
    await functions.invoke("notify", {});
    await functions.invoke("notify", {});
    await functions.invoke("releaseLock", {}).catch(() => {});

    const stats = functions.stats();

    expect(stats.map(({ name, invocations, errors }) => ({ name, invocations, errors }))).toEqual([
      { name: "notify", invocations: 2, errors: 0 },
      { name: "releaseLock", invocations: 1, errors: 1 },
    ]);
    expect(stats[0]?.durationsMs).toHaveLength(2);
  });

  it.each([
    ["prepare", "prepare"],
    ["kiln-prepare", "prepare"],
    ["arn:aws:lambda:us-east-1:000000000000:function:kiln-prepare", "prepare"],
    ["arn:aws:lambda:us-east-1:000000000000:function:kiln-prepare:$LATEST", "prepare"],
  ])("resolves %s to the Kiln function %s", (given, expected) => {
    expect(resolveFunctionName(given)).toBe(expected);
  });

  it("refuses a function Kiln does not have", () => {
    expect(() => resolveFunctionName("kiln-mystery")).toThrow(
      expect.objectContaining({ name: "ResourceNotFoundException" }),
    );
  });
});

describe("the local scheduler", () => {
  it.each([
    ["rate(1 day)", 86_400],
    ["rate(12 hours)", 43_200],
    ["rate(5 minutes)", 300],
  ])("reads %s as %i seconds", (schedule, seconds) => {
    expect(rateSeconds(schedule)).toBe(seconds);
  });

  it.each(["rate(2 day)", "rate(1 days)", "cron(0 3 * * ? *)"])("refuses %s", (schedule) => {
    expect(() => rateSeconds(schedule)).toThrow();
  });

  it("fires on the scaled period and on demand, and stops cleanly", async () => {
    const runs: string[] = [];
    let fired!: () => void;
    const firstTick = new Promise<void>((resolve) => {
      fired = resolve;
    });
    // rate(1 minute) at factor 0.0005 is a 30 ms period.
    const scheduler = startScheduler({
      name: "pruneImages",
      schedule: "rate(1 minute)",
      timescale: new Timescale(0.0005),
      invoke: async () => {
        runs.push("run");
        fired();
      },
    });

    await firstTick;
    // Let the timer's run settle: a trigger during a run joins it instead of starting another.
    await new Promise((resolve) => setImmediate(resolve));
    await scheduler.trigger();
    await scheduler.stop();
    const afterStop = runs.length;
    await new Promise((resolve) => setTimeout(resolve, 100));

    expect(scheduler.periodMs).toBe(30);
    expect(afterStop).toBeGreaterThanOrEqual(2);
    expect(runs.length).toBe(afterStop);
    await expect(scheduler.trigger()).rejects.toThrow(/stopped/);
  });

  it("only runs on demand at an instant timescale", async () => {
    let runs = 0;
    const scheduler = startScheduler({
      name: "pruneImages",
      schedule: "rate(1 day)",
      timescale: Timescale.instant(),
      invoke: async () => {
        runs += 1;
      },
    });

    await scheduler.trigger();
    await scheduler.stop();

    expect(scheduler.periodMs).toBeUndefined();
    expect(runs).toBe(1);
  });
});
