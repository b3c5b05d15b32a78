import { beforeEach, describe, expect, it } from "vitest";
import {
  causeMessage,
  concludeEndedExecution,
  finishDeployment,
  notifyDeployment,
  recordFailure,
  terminateDeploymentInstances,
} from "../../../core/deploy/conclude.ts";
import type { DeployState } from "../../../core/deploy/state.ts";
import { kilnTag } from "../../../core/deploy/tags.ts";
import type { DeploymentStatus } from "../../../core/deployment.ts";
import { admitDeployment } from "../../../core/service-queue.ts";
import { type FakeKiln, fakeKiln } from "../../fakes/fake-kiln.ts";
import {
  aDeployment,
  aDeployState,
  aManifest,
  anExecutionInput,
  aServiceConfig,
} from "../../fakes/test-data.ts";

const lambdaCause = (message: string, type = "RefreshFailedError") =>
  JSON.stringify({ errorType: type, errorMessage: message, trace: [] });

/** Moves a recorded PENDING deployment along the happy path up to `status`. */
async function advanceTo(kiln: FakeKiln, id: string, status: DeploymentStatus): Promise<void> {
  const path: DeploymentStatus[] = ["BAKING", "CANARY", "ROLLING"];
  for (const next of path.slice(0, path.indexOf(status) + 1)) await kiln.history.transition(id, next);
}

describe("conclude step", () => {
  let kiln: FakeKiln;
  const input = anExecutionInput();

  beforeEach(async () => {
    kiln = fakeKiln();
    await kiln.services.putConfig(aServiceConfig({ notifications: { emails: ["team@example.com"] } }));
    await kiln.history.create(aDeployment(input));
  });

  describe("recordFailure", () => {
    const refreshFailed = {
      Error: "RefreshFailedError",
      Cause: lambdaCause("instance refresh failed: 2 instances unhealthy"),
    };

    it.each<[string, Partial<DeployState>, DeploymentStatus]>([
      [
        "ROLLED_BACK when Kiln's rollback refresh succeeded",
        {
          refreshCheck: { status: "SUCCEEDED", percentComplete: 100 },
          rollback: { refreshId: "r-2", reason: "x" },
        },
        "ROLLED_BACK",
      ],
      [
        "ROLLED_BACK when AWS's rollback of the refresh completed",
        {
          refreshCheck: { status: "ROLLED_BACK", percentComplete: 0 },
          rollback: { refreshId: "r-1", reason: "x" },
        },
        "ROLLED_BACK",
      ],
      [
        "ROLLED_BACK when AWS rolled the refresh back on its own",
        { refreshCheck: { status: "ROLLED_BACK", percentComplete: 40 } },
        "ROLLED_BACK",
      ],
      [
        "FAILED when the rollback itself failed",
        {
          refreshCheck: { status: "FAILED", percentComplete: 30 },
          rollback: { refreshId: "r-2", reason: "x" },
        },
        "FAILED",
      ],
      [
        "FAILED when the refresh failed and nothing rolled it back",
        { refreshCheck: { status: "FAILED", percentComplete: 30 } },
        "FAILED",
      ],
    ])("records %s", async (_case, extra, expected) => {
      await advanceTo(kiln, input.deploymentId, "ROLLING");

      const deployment = await recordFailure(kiln, aDeployState(input, { ...extra, error: refreshFailed }));

      expect(deployment.status).toBe(expected);
      expect(deployment.error).toEqual({
        name: "RefreshFailedError",
        message: "instance refresh failed: 2 instances unhealthy",
        step: "roll",
      });
      expect(deployment.endedAt).toBe(kiln.clock.now().toISOString());
    });

    it("records FAILED at the step the deployment was in, with the message inside the Lambda error", async () => {
      await advanceTo(kiln, input.deploymentId, "CANARY");
      const error = {
        Error: "CanaryUnhealthyError",
        Cause: lambdaCause("canary i-1 was not healthy in time", "CanaryUnhealthyError"),
      };

      const deployment = await recordFailure(kiln, aDeployState(input, { error }));

      expect(deployment).toMatchObject({
        status: "FAILED",
        error: {
          name: "CanaryUnhealthyError",
          message: "canary i-1 was not healthy in time",
          step: "canary",
        },
      });
    });

    it("keeps a deployment that already ended as it is", async () => {
      await kiln.history.transition(input.deploymentId, "CANCELLED");

      const deployment = await recordFailure(kiln, aDeployState(input, { error: refreshFailed }));

      expect(deployment.status).toBe("CANCELLED");
      expect(deployment.error).toBeUndefined();
    });

    it("records an UnknownError when the workflow failed without one", async () => {
      const deployment = await recordFailure(kiln, aDeployState(input));

      expect(deployment.error).toEqual({
        name: "UnknownError",
        message: "the workflow failed without an error",
        step: "prepare",
      });
    });
  });

  describe("causeMessage", () => {
    it.each([
      [
        "the errorMessage of a Lambda error",
        { Error: "BakeFailedError", Cause: lambdaCause("artifact sha256 does not match") },
        "artifact sha256 does not match",
      ],
      [
        "a plain-text cause as it is",
        { Error: "States.Timeout", Cause: "the bake took too long" },
        "the bake took too long",
      ],
      ["JSON without errorMessage as it is", { Error: "X", Cause: '{"detail":1}' }, '{"detail":1}'],
      ["the error name when there is no cause", { Error: "States.TaskFailed" }, "States.TaskFailed"],
    ])("reads %s", (_case, error, expected) => {
      expect(causeMessage(error)).toBe(expected);
    });
  });

  describe("terminateDeploymentInstances", () => {
    it("terminates the deployment's instances of the roles asked for, and no one else's", async () => {
      const builder = kiln.fleet.add(input.deploymentId, "builder", { state: "stopped" });
      const canary = kiln.fleet.add(input.deploymentId, "canary");
      const otherCanary = kiln.fleet.add("d-otherdeployment0000000000", "canary");

      const { terminated } = await terminateDeploymentInstances(kiln, { deploymentId: input.deploymentId }, [
        "canary",
      ]);

      expect(terminated).toEqual([canary.instanceId]);
      expect((await kiln.fleet.describe(builder.instanceId))?.state).toBe("stopped");
      expect((await kiln.fleet.describe(otherCanary.instanceId))?.state).toBe("running");
    });

    it("tags the image a canary failed on as rejected, so the bake cache never reuses it", async () => {
      const image = kiln.images.add({ name: "kiln-hello-service-1.2.3", tags: {} });
      const state = {
        deploymentId: input.deploymentId,
        image: { imageId: image.imageId, cached: false },
        error: { Error: "CanaryUnhealthyError", Cause: "unhealthy" },
      };

      await terminateDeploymentInstances(kiln, state, ["canary"]);

      expect((await kiln.images.describe(image.imageId))?.tags[kilnTag.imageStatus]).toBe("rejected");
    });

    it("leaves the image untagged when the deployment failed for another reason", async () => {
      const image = kiln.images.add({ name: "kiln-hello-service-1.2.3", tags: {} });
      const state = {
        deploymentId: input.deploymentId,
        image: { imageId: image.imageId, cached: false },
        error: { Error: "RefreshFailedError" },
      };

      await terminateDeploymentInstances(kiln, state, ["canary"]);

      expect((await kiln.images.describe(image.imageId))?.tags[kilnTag.imageStatus]).toBeUndefined();
    });
  });

  describe("finishDeployment", () => {
    it("records SUCCEEDED, removes the canary and pins the image as last known good", async () => {
      await advanceTo(kiln, input.deploymentId, "ROLLING");
      await kiln.history.markStep(input.deploymentId, "roll", "start");
      const canary = kiln.fleet.add(input.deploymentId, "canary");
      const image = kiln.images.add({ name: "kiln-hello-service-1.2.3", tags: {} });
      await kiln.services.pinLastKnownGood("hello-service", {
        imageId: "ami-0ccccccccccccccc0",
        deploymentId: "d-previous",
        pinnedAt: "2026-03-01T00:00:00.000Z",
      });

      await finishDeployment(
        kiln,
        aDeployState(input, { image: { imageId: image.imageId, cached: false }, template: { version: "8" } }),
      );

      const deployment = await kiln.history.get(input.deploymentId);
      expect(deployment?.status).toBe("SUCCEEDED");
      expect(deployment?.steps.finish?.endedAt).toBeDefined();
      expect(kiln.fleet.terminated).toEqual([canary.instanceId]);
      const state = await kiln.services.getState("hello-service");
      expect(state.lastKnownGood).toMatchObject({
        imageId: image.imageId,
        deploymentId: input.deploymentId,
        launchTemplateVersion: "8",
      });
      expect(state.previousImage?.imageId).toBe("ami-0ccccccccccccccc0");
      expect((await kiln.images.describe(image.imageId))?.tags[kilnTag.imageStatus]).toBe("deployed");
    });
  });

  describe("notifyDeployment", () => {
    it("tells of a start while the deployment runs", async () => {
      await admitDeployment(kiln, (await kiln.history.get(input.deploymentId)) ?? aDeployment(input));
      await notifyDeployment(kiln, input.deploymentId, "STARTED");

      expect(kiln.notifier.kinds()).toEqual(["STARTED"]);
    });

    it("tells nothing of a start told after the deployment ended, and still tells its outcome", async () => {
      await admitDeployment(kiln, (await kiln.history.get(input.deploymentId)) ?? aDeployment(input));
      await kiln.history.transition(input.deploymentId, "FAILED");

      expect(await notifyDeployment(kiln, input.deploymentId, "STARTED")).toEqual([]);
      await notifyDeployment(kiln, input.deploymentId);

      expect(kiln.notifier.kinds()).toEqual(["FAILED"]);
    });
  });

  describe("concludeEndedExecution", () => {
    let next: string;

    beforeEach(async () => {
      await admitDeployment(kiln, (await kiln.history.get(input.deploymentId)) ?? aDeployment(input));
      const waiting = anExecutionInput({ manifest: aManifest({ version: "1.3.0" }) });
      await kiln.history.create(
        aDeployment(waiting, { status: "QUEUED", requestedAt: kiln.clock.now().toISOString() }),
      );
      await admitDeployment(kiln, (await kiln.history.get(waiting.deploymentId)) ?? aDeployment(waiting));
      next = waiting.deploymentId;
    });

    it("records a stopped execution as CANCELLED, cleans up, tells people and starts the next deployment", async () => {
      await advanceTo(kiln, input.deploymentId, "CANARY");
      const builder = kiln.fleet.add(input.deploymentId, "builder", { state: "stopped" });
      const canary = kiln.fleet.add(input.deploymentId, "canary");

      const deployment = await concludeEndedExecution(kiln, {
        deploymentId: input.deploymentId,
        status: "ABORTED",
        cause: "cancelled by ana",
      });

      expect(deployment).toMatchObject({
        status: "CANCELLED",
        error: { name: "DeploymentCancelled", message: "cancelled by ana", step: "canary" },
      });
      expect(kiln.fleet.terminated.sort()).toEqual([builder.instanceId, canary.instanceId].sort());
      expect(kiln.notifier.sent).toMatchObject([{ kind: "CANCELLED", emails: ["team@example.com"] }]);
      expect(await kiln.services.getState("hello-service")).toMatchObject({ activeDeploymentId: next });
      expect(kiln.workflow.started()).toEqual([input.deploymentId, next]);
    });

    it("records a stopped execution without a cause as cancelled", async () => {
      const deployment = await concludeEndedExecution(kiln, {
        deploymentId: input.deploymentId,
        status: "ABORTED",
      });

      expect(deployment?.error).toEqual({
        name: "DeploymentCancelled",
        message: "the deployment was cancelled",
        step: "prepare",
      });
    });

    it.each([
      ["TIMED_OUT", undefined, "the deploy workflow timed out"],
      ["FAILED", "States.Runtime in Finish", "States.Runtime in Finish"],
      ["FAILED", undefined, "the deploy workflow failed outside its failure path"],
    ] as const)(
      "records an execution that ended %s (cause %s) as FAILED: %s",
      async (status, cause, message) => {
        await advanceTo(kiln, input.deploymentId, "BAKING");

        const deployment = await concludeEndedExecution(kiln, {
          deploymentId: input.deploymentId,
          status,
          cause,
        });

        expect(deployment).toMatchObject({
          status: "FAILED",
          error: { name: "WorkflowEnded", message, step: "bake" },
        });
        expect(kiln.notifier.kinds()).toEqual(["FAILED"]);
      },
    );

    it("only hands the lock on for a deployment its own paths already concluded", async () => {
      await advanceTo(kiln, input.deploymentId, "ROLLING");
      await kiln.history.transition(input.deploymentId, "SUCCEEDED");
      const canary = kiln.fleet.add(input.deploymentId, "canary");

      const deployment = await concludeEndedExecution(kiln, {
        deploymentId: input.deploymentId,
        status: "SUCCEEDED",
      });

      expect(deployment?.status).toBe("SUCCEEDED");
      expect(kiln.notifier.sent).toEqual([]);
      expect((await kiln.fleet.describe(canary.instanceId))?.state).toBe("running");
      expect((await kiln.services.getState("hello-service")).activeDeploymentId).toBe(next);
    });

    it("ignores an execution that has no deployment record", async () => {
      const deployment = await concludeEndedExecution(kiln, {
        deploymentId: "d-nosuchdeployment000000000",
        status: "ABORTED",
      });

      expect(deployment).toBeUndefined();
      expect((await kiln.services.getState("hello-service")).activeDeploymentId).toBe(input.deploymentId);
    });
  });
});
