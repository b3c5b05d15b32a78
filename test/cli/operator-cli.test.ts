/**
 * The `kiln` operator commands as a user runs them: separate processes through bin/kiln.mjs,
 * pointed with --api at a local cloud this file starts, authenticated with the token it made.
 */
import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packDirectory } from "../../cli/artifact-packing.ts";
import {
  deploymentPageSchema,
  deploymentViewSchema,
  serviceImagesSchema,
  serviceInstancesSchema,
  serviceListSchema,
  serviceViewSchema,
} from "../../core/operations/views.ts";
import { pruneRunSchema } from "../../core/prune/prune-run.ts";
import { testApi } from "../api/api-client.ts";
import { examplesDir, type KilnCloud, startKilnCloud } from "../support/kiln-cloud.ts";

const launcher = fileURLToPath(new URL("../../bin/kiln.mjs", import.meta.url));

let cloud: KilnCloud;
let apiUrl: string;
let token: string;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `kiln …` against this file's cloud in its own process. */
function kiln(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [launcher, ...args, "--api", apiUrl],
      { timeout: 240_000, env: { ...process.env, KILN_API_TOKEN: token, ...env } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function json(result: Result): unknown {
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout);
}

let firstId: string;

beforeAll(async () => {
  cloud = await startKilnCloud();
  const api = await testApi(cloud.cloud);
  apiUrl = api.url;
  token = api.token;
  await cloud.registerService("cli");
}, 180_000);

afterAll(async () => {
  await cloud?.stop();
});

describe("kiln deploy --follow", () => {
  it("packs a directory, uploads it, shows each step live and exits 0 on success", async () => {
    const result = await kiln([
      "deploy",
      join(examplesDir, "hello-service"),
      "--service",
      "cli",
      "--version",
      "1.0.0",
      "--follow",
    ]);

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("Deploying cli 1.0.0: uploaded artifacts/cli/1.0.0.tgz");
    for (const [step, bar] of [
      ["prepare", "▰▱▱▱▱ 1/5"],
      ["bake", "▰▰▱▱▱ 2/5"],
      ["canary", "▰▰▰▱▱ 3/5"],
      ["roll", "▰▰▰▰▱ 4/5"],
      ["finish", "▰▰▰▰▰ 5/5"],
    ]) {
      expect(result.stdout).toMatch(new RegExp(`${step} +${bar} started`));
      expect(result.stdout).toMatch(new RegExp(`${step} +✓`));
    }
    expect(result.stdout).toMatch(/roll +█+ 100%/);
    expect(result.stdout).toMatch(/✔ SUCCEEDED in \d/);
    firstId = /deployment (d-[0-9a-z]+)/.exec(result.stdout)?.[1] ?? "";
    expect((await cloud.history.get(firstId))?.status).toBe("SUCCEEDED");
  });

  it("exits non-zero with the failing step and its reason when the canary is unhealthy", async () => {
    const result = await kiln([
      "deploy",
      join(examplesDir, "broken-service"),
      "--service",
      "cli",
      "--version",
      "2.0.0",
      "--follow",
    ]);

    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/✘ FAILED at canary in/);
    expect(result.stderr).toMatch(
      /kiln: deployment d-[0-9a-z]+ FAILED at canary: canary i-[0-9a-f]+ was not healthy in time: .* answered 500/,
    );
  });

  it("deploys a packed .tgz as it is, and refuses to change its version", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kiln-cli-tgz-"));
    const file = join(dir, "cli-1.1.0.tgz");
    await writeFile(
      file,
      (await packDirectory(join(examplesDir, "hello-service"), { service: "cli", version: "1.1.0" })).body,
    );

    const refused = await kiln(["deploy", file, "--version", "9.0.0"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("carries its own kiln.json (version 1.1.0)");

    const result = await kiln(["deploy", file, "--follow", "--json"]);
    expect(deploymentViewSchema.parse(json(result))).toMatchObject({
      service: "cli",
      version: "1.1.0",
      status: "SUCCEEDED",
    });
  });
});

describe("read commands with --json", () => {
  it("status, history, services, images and instances print what the API answered", async () => {
    const status = deploymentViewSchema.parse(json(await kiln(["status", firstId, "--json"])));
    expect(status).toMatchObject({ id: firstId, status: "SUCCEEDED" });

    const history = deploymentPageSchema.parse(json(await kiln(["history", "--service", "cli", "--json"])));
    expect(history.items.map((deployment) => [deployment.version, deployment.status])).toEqual([
      ["1.1.0", "SUCCEEDED"],
      ["2.0.0", "FAILED"],
      ["1.0.0", "SUCCEEDED"],
    ]);

    const failedOnly = deploymentPageSchema.parse(
      json(await kiln(["history", "--status", "FAILED", "--json"])),
    );
    expect(failedOnly.items.map((deployment) => deployment.version)).toEqual(["2.0.0"]);

    const services = serviceListSchema.parse(json(await kiln(["services", "--json"])));
    expect(services.items.map((service) => service.name)).toEqual(["cli"]);
    const one = serviceViewSchema.parse(json(await kiln(["services", "cli", "--json"])));
    expect(one.lastDeployment).toMatchObject({ version: "1.1.0", status: "SUCCEEDED" });

    const images = serviceImagesSchema.parse(json(await kiln(["images", "cli", "--json"])));
    expect(images.images.map((image) => [image.version, image.status, image.pins])).toEqual([
      ["1.1.0", "deployed", ["last-known-good"]],
      ["2.0.0", "rejected", []],
      ["1.0.0", "deployed", ["previous-image"]],
    ]);

    const instances = serviceInstancesSchema.parse(json(await kiln(["instances", "cli", "--json"])));
    expect(instances.group).toMatchObject({ name: "cli", desiredCapacity: 0 });
  });

  it("prints a deployment's steps and error for people", async () => {
    const failed = deploymentPageSchema.parse(json(await kiln(["history", "--status", "FAILED", "--json"])))
      .items[0];
    const result = await kiln(["status", failed?.id ?? ""]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/✘ canary +failed/);
    expect(result.stdout).toMatch(/· roll +not-run/);
    expect(result.stdout).toContain("error         CanaryUnhealthyError at canary:");
  });

  it("previews a prune with --dry-run --json", async () => {
    const run = pruneRunSchema.parse(json(await kiln(["prune", "--dry-run", "--json"])));
    expect(run).toMatchObject({ dryRun: true, outcome: "COMPLETED" });
  });
});

describe("kiln rollback and cancel", () => {
  it("rolls back to the previous release and follows it to success", async () => {
    const result = await kiln(["rollback", "cli", "--follow"]);

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("Rolling cli back to 1.0.0");
    expect(result.stdout).toMatch(/bake +▰▰▱▱▱ 2\/5 started \(rollback: reusing its image\)/);
    expect(result.stdout).toMatch(/✔ SUCCEEDED/);
    const first = await cloud.history.get(firstId);
    expect((await cloud.services.getState("cli")).lastKnownGood?.imageId).toBe(first?.imageId);
  });

  it("refuses to cancel a deployment that has ended, with the API's reason", async () => {
    const result = await kiln(["cancel", firstId]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`kiln: deployment ${firstId} already ended SUCCEEDED`);
  });
});

describe("errors", () => {
  it("reports wrong credentials, unknown ids and usage mistakes", async () => {
    const wrong = await kiln(["services"], { KILN_API_TOKEN: "wrong" });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("kiln: missing or wrong credentials");

    const unknown = await kiln(["status", "d-000000000000000000000000"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("deployment d-000000000000000000000000 does not exist");

    const usage = await kiln(["status"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("missing <deployment-id>");
  });
});
