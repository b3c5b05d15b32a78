import { beforeEach, describe, expect, it } from "vitest";
import { bakeCacheKey } from "../../../core/bake-recipe.ts";
import { prepareDeployment } from "../../../core/deploy/prepare.ts";
import { kilnTag } from "../../../core/deploy/tags.ts";
import { UnknownServiceError } from "../../../core/errors.ts";
import { type FakeKiln, fakeKiln } from "../../fakes/fake-kiln.ts";
import { aDeployment, aManifest, anExecutionInput, aServiceConfig } from "../../fakes/test-data.ts";

describe("prepareDeployment", () => {
  let kiln: FakeKiln;
  const input = anExecutionInput({ manifest: aManifest({ port: 3000, healthPath: "/ready" }) });
  const config = aServiceConfig();
  const cacheKey = bakeCacheKey(input.artifact.sha256, config.baseImageId, input.manifest);

  beforeEach(async () => {
    kiln = fakeKiln();
    await kiln.services.putConfig(config);
    await kiln.history.create(aDeployment(input));
  });

  it("plans a bake when no image was baked from the same inputs", async () => {
    const plan = await prepareDeployment(kiln, input);

    expect(plan).toEqual({
      baseImageId: config.baseImageId,
      cacheKey,
      cachedImageId: null,
      groupName: "hello-service-asg",
      launchTemplateId: "lt-0123456789abcdef0",
      builder: config.builder,
      health: {
        port: 3000,
        path: "/ready",
        healthyThreshold: 3,
        timeoutSeconds: 300,
        requestTimeoutMs: 2000,
      },
      rollout: config.rollout,
      poll: config.poll,
    });
    const deployment = await kiln.history.get(input.deploymentId);
    expect(deployment?.baseImageId).toBe(config.baseImageId);
    expect(deployment?.steps.prepare).toEqual({
      startedAt: kiln.clock.now().toISOString(),
      endedAt: kiln.clock.now().toISOString(),
    });
    expect(deployment?.steps.bake).toBeUndefined();
  });

  it("reuses an image baked from the same inputs and records the bake step as cached", async () => {
    const image = kiln.images.add({
      name: "kiln-hello-service-1.2.3-old",
      tags: { [kilnTag.cacheKey]: cacheKey },
    });

    const plan = await prepareDeployment(kiln, input);

    expect(plan.cachedImageId).toBe(image.imageId);
    const deployment = await kiln.history.get(input.deploymentId);
    expect(deployment?.imageId).toBe(image.imageId);
    expect(deployment?.steps.bake).toMatchObject({ cached: true, note: `reused ${image.imageId}` });
    expect(deployment?.steps.bake?.endedAt).toBeDefined();
  });

  it("does not reuse an image baked from another base image", async () => {
    kiln.images.add({
      name: "other-base",
      tags: {
        [kilnTag.cacheKey]: bakeCacheKey(input.artifact.sha256, "ami-0bbbbbbbbbbbbbbb0", input.manifest),
      },
    });

    const plan = await prepareDeployment(kiln, input);

    expect(plan.cachedImageId).toBeNull();
  });

  it("takes the health check's port and path from the service config when it overrides the manifest", async () => {
    await kiln.services.putConfig(aServiceConfig({ health: { port: 9000, path: "/live" } }));

    const plan = await prepareDeployment(kiln, input);

    expect(plan.health).toMatchObject({ port: 9000, path: "/live" });
  });

  it("remembers the image the service ran before as the previous image", async () => {
    await kiln.services.pinLastKnownGood("hello-service", {
      imageId: "ami-0ccccccccccccccc0",
      deploymentId: "d-previous",
      pinnedAt: "2026-03-01T00:00:00.000Z",
    });

    await prepareDeployment(kiln, input);

    expect((await kiln.history.get(input.deploymentId))?.previousImageId).toBe("ami-0ccccccccccccccc0");
  });

  it("fails with UnknownServiceError when the service was unregistered since the request", async () => {
    const orphan = anExecutionInput({ manifest: aManifest({ service: "gone-service" }) });
    await kiln.history.create(aDeployment(orphan));

    await expect(prepareDeployment(kiln, orphan)).rejects.toThrow(
      new UnknownServiceError('service "gone-service" is no longer registered'),
    );
  });
});
