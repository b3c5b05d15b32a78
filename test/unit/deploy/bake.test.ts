import { beforeEach, describe, expect, it } from "vitest";
import { checkBuilder, checkImage, createImage, launchBuilder } from "../../../core/deploy/bake.ts";
import type { DeployState } from "../../../core/deploy/state.ts";
import { kilnTag } from "../../../core/deploy/tags.ts";
import type { InstanceState } from "../../../core/ports.ts";
import { type FakeKiln, fakeKiln } from "../../fakes/fake-kiln.ts";
import { aDeployment, aDeployState, anExecutionInput } from "../../fakes/test-data.ts";

const minute = 60_000;

describe("bake step", () => {
  let kiln: FakeKiln;
  const input = anExecutionInput();

  beforeEach(async () => {
    kiln = fakeKiln();
    await kiln.history.create(aDeployment(input));
  });

  describe("launchBuilder", () => {
    it("moves the deployment to BAKING and launches a builder that downloads the artifact by a presigned URL", async () => {
      const state = aDeployState(input);

      const builder = await launchBuilder(kiln, state);

      const deployment = await kiln.history.get(input.deploymentId);
      expect(deployment).toMatchObject({ status: "BAKING", builderInstanceId: builder.instanceId });
      expect(deployment?.steps.bake?.startedAt).toBe(kiln.clock.now().toISOString());
      const request = kiln.fleet.requestOf(builder.instanceId);
      expect(request).toMatchObject({
        deploymentId: input.deploymentId,
        baseImageId: state.plan?.baseImageId,
        instanceType: "t3.small",
        tags: {
          [kilnTag.role]: "builder",
          [kilnTag.deploymentId]: input.deploymentId,
          [kilnTag.artifactSha256]: input.artifact.sha256,
          [kilnTag.baseImage]: state.plan?.baseImageId,
        },
      });
      expect(request && "userData" in request ? request.userData : "").toContain(
        `https://${input.artifact.bucket}.s3.example/${input.artifact.key}?X-Amz-Expires=900`,
      );
    });

    it("sets the builder's deadline its timeout after the launch", async () => {
      const builder = await launchBuilder(kiln, aDeployState(input));

      expect(builder.deadline).toBe(kiln.clock.inMs(1800 * 1000));
    });

    it("launches one builder when the task is retried", async () => {
      const first = await launchBuilder(kiln, aDeployState(input));

      const second = await launchBuilder(kiln, aDeployState(input));

      expect(second.instanceId).toBe(first.instanceId);
      expect(kiln.fleet.count()).toBe(1);
      expect((await kiln.history.get(input.deploymentId))?.timeline.map((entry) => entry.status)).toEqual([
        "PENDING",
        "BAKING",
      ]);
    });
  });

  describe("checkBuilder", () => {
    let instanceId: string;

    function stateWithDeadlineIn(ms: number): DeployState {
      return aDeployState(input, { builder: { instanceId, deadline: kiln.clock.inMs(ms) } });
    }

    beforeEach(() => {
      instanceId = kiln.fleet.add(input.deploymentId, "builder").instanceId;
    });

    it.each<[string, InstanceState, string, number, { status: string; reason?: string }]>([
      ["still running before its deadline", "running", "", minute, { status: "RUNNING" }],
      [
        "stopped after reporting OK",
        "stopped",
        "boot\nKILN-BAKE: OK hello-service 1.2.3\n",
        minute,
        { status: "SUCCEEDED" },
      ],
      [
        "stopped after reporting a failure",
        "stopped",
        "KILN-BAKE: FAILED install hook failed: ./install.sh\n",
        minute,
        { status: "FAILED", reason: "install hook failed: ./install.sh" },
      ],
      [
        "stopped without a verdict yet, before its deadline",
        "stopped",
        "booting\n",
        minute,
        { status: "RUNNING" },
      ],
      ["stopping, before its deadline", "stopping", "", minute, { status: "RUNNING" }],
    ])("reports the builder %s", async (_case, instanceState, console, deadlineIn, expected) => {
      kiln.fleet.setState(instanceId, instanceState);
      kiln.fleet.setConsole(instanceId, console);

      const check = await checkBuilder(kiln, stateWithDeadlineIn(deadlineIn));

      expect(check).toEqual(expected);
    });

    it("fails a builder that stopped without a verdict once its deadline passed", async () => {
      kiln.fleet.setState(instanceId, "stopped");
      kiln.fleet.setConsole(instanceId, "booting\n");

      const check = await checkBuilder(kiln, stateWithDeadlineIn(-1));

      expect(check).toEqual({
        status: "FAILED",
        reason: `builder ${instanceId} stopped without reporting a result`,
      });
    });

    it("fails a builder still running after its deadline", async () => {
      const state = stateWithDeadlineIn(-1);

      const check = await checkBuilder(kiln, state);

      expect(check).toEqual({
        status: "FAILED",
        reason: `builder ${instanceId} did not finish before ${state.builder?.deadline}`,
      });
    });

    it("takes the verdict of a builder that stopped with OK even after its deadline", async () => {
      kiln.fleet.setState(instanceId, "stopped");
      kiln.fleet.setConsole(instanceId, "KILN-BAKE: OK hello-service 1.2.3\n");

      const check = await checkBuilder(kiln, stateWithDeadlineIn(-1));

      expect(check).toEqual({ status: "SUCCEEDED" });
    });

    it.each<[InstanceState]>([["terminated"], ["shutting-down"]])(
      "fails a builder that is %s, with the reason EC2 gives",
      async (instanceState) => {
        kiln.fleet.setState(instanceId, instanceState, { stateReason: "Server.SpotInstanceTermination" });

        const check = await checkBuilder(kiln, stateWithDeadlineIn(minute));

        expect(check).toEqual({
          status: "FAILED",
          reason: `builder ${instanceId} was terminated: Server.SpotInstanceTermination`,
        });
      },
    );

    it("fails when the builder no longer exists", async () => {
      const state = aDeployState(input, {
        builder: { instanceId: "i-0000000000000dead", deadline: kiln.clock.inMs(minute) },
      });

      const check = await checkBuilder(kiln, state);

      expect(check).toEqual({ status: "FAILED", reason: "builder i-0000000000000dead was terminated" });
    });
  });

  describe("createImage", () => {
    it("creates the image from the builder, tagged with its provenance and cache key", async () => {
      const state = aDeployState(input, {
        builder: { instanceId: "i-00000000000000001", deadline: kiln.clock.inMs(minute) },
      });

      const { imageId, cached } = await createImage(kiln, state);

      expect(cached).toBe(false);
      const image = await kiln.images.describe(imageId);
      expect(image?.name).toBe(`kiln-hello-service-1.2.3-${input.deploymentId}`);
      expect(image?.tags).toMatchObject({
        [kilnTag.cacheKey]: state.plan?.cacheKey,
        [kilnTag.deploymentId]: input.deploymentId,
        [kilnTag.managed]: "true",
      });
      expect((await kiln.history.get(input.deploymentId))?.imageId).toBe(imageId);
    });
  });

  describe("checkImage", () => {
    it.each([
      ["pending", { status: "RUNNING" }],
      ["available", { status: "SUCCEEDED" }],
      [
        "failed",
        { status: "FAILED", reason: "image ami-00000000000000042 is failed: Snapshot creation failed" },
      ],
    ] as const)("reports an image that is %s", async (imageState, expected) => {
      kiln.images.add({
        imageId: "ami-00000000000000042",
        name: "n",
        state: imageState,
        stateReason: "Snapshot creation failed",
      });

      const check = await checkImage(
        kiln,
        aDeployState(input, { image: { imageId: "ami-00000000000000042", cached: false } }),
      );

      expect(check).toEqual(expected);
    });

    it("ends the bake step once the image is available", async () => {
      await kiln.history.markStep(input.deploymentId, "bake", "start");
      kiln.clock.advance(minute);
      kiln.images.add({ imageId: "ami-00000000000000042", name: "n", state: "available" });

      await checkImage(
        kiln,
        aDeployState(input, { image: { imageId: "ami-00000000000000042", cached: false } }),
      );

      expect((await kiln.history.get(input.deploymentId))?.steps.bake?.endedAt).toBe(
        kiln.clock.now().toISOString(),
      );
    });

    it("fails when the image disappeared", async () => {
      const check = await checkImage(
        kiln,
        aDeployState(input, { image: { imageId: "ami-0000000000000dead", cached: false } }),
      );

      expect(check).toEqual({ status: "FAILED", reason: "image ami-0000000000000dead disappeared" });
    });
  });
});
