import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KilnCloud, startKilnCloud } from "../support/kiln-cloud.ts";

let kiln: KilnCloud;

beforeAll(async () => {
  kiln = await startKilnCloud();
});

afterAll(async () => {
  await kiln?.stop();
});

describe("deploy workflow, happy path", () => {
  it("bakes, canaries and rolls a new version onto every instance of the group", async () => {
    const bootstrap = await kiln.bootstrap("hello", "hello-service", "1.0.0", 2);
    expect(await kiln.answers("hello")).toEqual(["hello from hello 1.0.0", "hello from hello 1.0.0"]);

    const { deploymentId } = await kiln.upload("hello-service", "1.1.0", "hello");
    const deployment = await kiln.waitFor(deploymentId);

    expect(deployment.status).toBe("SUCCEEDED");
    expect(deployment.timeline.map((entry) => entry.status)).toEqual([
      "QUEUED",
      "PENDING",
      "BAKING",
      "CANARY",
      "ROLLING",
      "SUCCEEDED",
    ]);
    for (const step of ["prepare", "bake", "canary", "roll", "finish"] as const)
      expect(deployment.steps[step]?.endedAt, step).toBeDefined();
    expect(deployment.imageId).toMatch(/^ami-/);
    expect(deployment.previousImageId).toBe(bootstrap.imageId);
    expect(deployment.previousLaunchTemplateVersion).toBe(bootstrap.launchTemplateVersion);

    const group = await kiln.group("hello");
    expect(group.version).toBe(deployment.launchTemplateVersion);
    expect(await kiln.answers("hello")).toEqual(["hello from hello 1.1.0", "hello from hello 1.1.0"]);
    expect(await kiln.liveInstances({ "kiln:deployment-id": deploymentId })).toEqual([]);

    const state = await kiln.services.getState("hello");
    expect(state.lastKnownGood?.imageId).toBe(deployment.imageId);
    expect(state.previousImage?.imageId).toBe(bootstrap.imageId);
    expect(state.activeDeploymentId).toBeUndefined();
  });
});
