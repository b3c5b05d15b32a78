import { cp, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DescribeImagesCommand } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { examplesDir, type KilnCloud, startKilnCloud } from "../support/kiln-cloud.ts";

let kiln: KilnCloud;

beforeAll(async () => {
  kiln = await startKilnCloud();
});

afterAll(async () => {
  await kiln?.stop();
});

/** hello-service with an install hook that fails the way a missing dependency would. */
async function serviceWithFailingInstall(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "kiln-failing-install-"));
  await cp(join(examplesDir, "hello-service"), dir, { recursive: true });
  const manifest = JSON.parse(await readFile(join(dir, "kiln.json"), "utf8"));
  await writeFile(
    join(dir, "kiln.json"),
    JSON.stringify({ ...manifest, install: "sh -c 'echo libfoo is missing >&2; exit 3'" }),
  );
  return dir;
}

async function imageTags(imageId: string): Promise<Record<string, string>> {
  const result = await kiln.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
  return Object.fromEntries((result.Images?.[0]?.Tags ?? []).map((tag) => [tag.Key, tag.Value]));
}

describe("deploy workflow, failure paths", () => {
  it("fails at bake when the install hook fails, with the hook named, and leaves no builder", async () => {
    await kiln.registerService("bakefail");
    const { deploymentId } = await kiln.upload(await serviceWithFailingInstall(), "1.0.0", "bakefail");

    const deployment = await kiln.waitFor(deploymentId);

    expect(deployment.status).toBe("FAILED");
    expect(deployment.error).toMatchObject({ name: "BakeFailedError", step: "bake" });
    expect(deployment.error?.message).toContain("install hook failed");
    expect(await kiln.liveInstances({ "kiln:deployment-id": deploymentId })).toEqual([]);
    expect((await kiln.group("bakefail")).version).toBe("$Latest");
    expect((await kiln.services.getState("bakefail")).activeDeploymentId).toBeUndefined();
  });

  it("fails at bake when the image ends in the failed state", async () => {
    await kiln.registerService("imagefail");
    kiln.cloud.faults.add({
      operation: "ec2:image",
      kind: "fail",
      match: "kiln-imagefail-",
      message: "snapshot copy failed",
      times: 1,
    });
    const { deploymentId } = await kiln.upload("hello-service", "1.0.0", "imagefail");

    const deployment = await kiln.waitFor(deploymentId);

    expect(deployment.status).toBe("FAILED");
    expect(deployment.error).toMatchObject({ name: "ImageFailedError", step: "bake" });
    expect(deployment.error?.message).toMatch(/is failed/);
    expect(await kiln.liveInstances({ "kiln:deployment-id": deploymentId })).toEqual([]);
    expect((await kiln.group("imagefail")).version).toBe("$Latest");
  });

  it("stops a release whose canary is unhealthy: image rejected, group untouched and still serving", async () => {
    const before = await kiln.bootstrap("canaryfail", "hello-service", "1.0.0", 2);
    const { deploymentId } = await kiln.upload("broken-service", "2.0.0", "canaryfail");

    const deployment = await kiln.waitFor(deploymentId);

    expect(deployment.status).toBe("FAILED");
    expect(deployment.error).toMatchObject({ name: "CanaryUnhealthyError", step: "canary" });
    expect(deployment.error?.message).toContain("answered 500");
    expect(await imageTags(deployment.imageId ?? "")).toMatchObject({ "kiln:image-status": "rejected" });
    expect(await kiln.liveInstances({ "kiln:deployment-id": deploymentId })).toEqual([]);
    expect((await kiln.group("canaryfail")).version).toBe(before.launchTemplateVersion);
    expect(await kiln.answers("canaryfail")).toEqual([
      "hello from canaryfail 1.0.0",
      "hello from canaryfail 1.0.0",
    ]);
    expect((await kiln.services.getState("canaryfail")).lastKnownGood?.imageId).toBe(before.imageId);
  });

  it("records ROLLED_BACK when the instance refresh fails, and the group serves the old version on its old template version", async () => {
    const before = await kiln.bootstrap("rollfail", "hello-service", "1.0.0", 2);
    kiln.cloud.faults.add({
      operation: "autoscaling:refresh",
      kind: "fail",
      match: "rollfail",
      message: "instances failed to launch",
      times: 1,
    });
    const { deploymentId } = await kiln.upload("hello-service", "1.1.0", "rollfail");

    const deployment = await kiln.waitFor(deploymentId);

    expect(deployment.status).toBe("ROLLED_BACK");
    expect(deployment.error).toMatchObject({ name: "RefreshFailedError", step: "roll" });
    expect((await kiln.group("rollfail")).version).toBe(before.launchTemplateVersion);
    expect(await kiln.answers("rollfail")).toEqual([
      "hello from rollfail 1.0.0",
      "hello from rollfail 1.0.0",
    ]);
    expect(await kiln.liveInstances({ "kiln:deployment-id": deploymentId })).toEqual([]);
    expect((await kiln.services.getState("rollfail")).lastKnownGood?.imageId).toBe(before.imageId);
  });

  it("retries a throttled launch and still succeeds", async () => {
    await kiln.registerService("throttled");
    kiln.cloud.faults.add({
      operation: "ec2:RunInstances",
      kind: "throttle",
      match: "kiln-builder-throttled",
      times: 4,
    });
    const errorsBefore = kiln.cloud.stats.functions().find((fn) => fn.name === "launchBuilder")?.errors ?? 0;
    const { deploymentId } = await kiln.upload("hello-service", "1.0.0", "throttled");

    const deployment = await kiln.waitFor(deploymentId);

    expect(deployment.status).toBe("SUCCEEDED");
    const launches = kiln.cloud.stats.functions().find((fn) => fn.name === "launchBuilder");
    expect((launches?.errors ?? 0) - errorsBefore).toBeGreaterThanOrEqual(1);
    expect(kiln.cloud.faults.list().filter((rule) => rule.match === "kiln-builder-throttled")).toEqual([]);
    expect(await kiln.liveInstances({ "kiln:deployment-id": deploymentId })).toEqual([]);
    expect((await kiln.group("throttled")).version).toBe(deployment.launchTemplateVersion);
  });
});
