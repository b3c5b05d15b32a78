import { beforeEach, describe, expect, it } from "vitest";
import { checkCanary, launchCanary } from "../../../core/deploy/canary.ts";
import type { DeployState } from "../../../core/deploy/state.ts";
import { kilnTag } from "../../../core/deploy/tags.ts";
import type { GroupInfo, ScalingGroups } from "../../../core/ports.ts";
import { type FakeKiln, fakeKiln } from "../../fakes/fake-kiln.ts";
import { aDeployment, aDeployState, anExecutionInput } from "../../fakes/test-data.ts";

const minute = 60_000;

describe("canary step", () => {
  let kiln: FakeKiln;
  const input = anExecutionInput();

  beforeEach(async () => {
    kiln = fakeKiln();
    await kiln.history.create(aDeployment(input, { status: "BAKING" }));
  });

  describe("launchCanary", () => {
    const group: GroupInfo = {
      name: "hello-service-asg",
      launchTemplateId: "lt-0123456789abcdef0",
      launchTemplateVersion: "7",
      desiredCapacity: 3,
      subnetIds: ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
    };
    const groups = { describeGroup: async () => group } as unknown as ScalingGroups;

    it("moves the deployment to CANARY and launches the group's template version with the new image", async () => {
      const state = aDeployState(input, { image: { imageId: "ami-00000000000000042", cached: false } });

      const canary = await launchCanary({ ...kiln, groups }, state);

      expect(await kiln.history.get(input.deploymentId)).toMatchObject({
        status: "CANARY",
        imageId: "ami-00000000000000042",
        canaryInstanceId: canary.instanceId,
      });
      expect(kiln.fleet.requestOf(canary.instanceId)).toMatchObject({
        imageId: "ami-00000000000000042",
        launchTemplateId: "lt-0123456789abcdef0",
        launchTemplateVersion: "7",
        subnetId: "subnet-0aaaaaaaaaaaaaaa1",
        tags: { [kilnTag.role]: "canary", [kilnTag.deploymentId]: input.deploymentId },
      });
      expect(canary.deadline).toBe(kiln.clock.inMs(300 * 1000));
    });
  });

  describe("checkCanary", () => {
    let instanceId: string;

    function state(consecutive?: number, deadlineIn = minute): DeployState {
      return aDeployState(input, {
        canary: { instanceId, deadline: kiln.clock.inMs(deadlineIn) },
        ...(consecutive === undefined ? {} : { canaryCheck: { status: "RUNNING", consecutive } }),
      });
    }

    beforeEach(() => {
      instanceId = kiln.fleet.add(input.deploymentId, "canary", {
        state: "running",
        privateIp: "10.0.1.23",
      }).instanceId;
    });

    it("probes the service's health path on the canary's private address with the request timeout", async () => {
      kiln.probe.answer(true);

      await checkCanary(kiln, state());

      expect(kiln.probe.calls).toEqual([{ url: "http://10.0.1.23:8080/health", timeoutMs: 2000 }]);
    });

    it("succeeds once the threshold of consecutive healthy answers is reached", async () => {
      kiln.probe.answer(true, true, true);

      const first = await checkCanary(kiln, state());
      const second = await checkCanary(kiln, state(first.consecutive));
      const third = await checkCanary(kiln, state(second.consecutive));

      expect([first.status, second.status, third.status]).toEqual(["RUNNING", "RUNNING", "SUCCEEDED"]);
      expect(third.consecutive).toBe(3);
      expect((await kiln.history.get(input.deploymentId))?.steps.canary?.endedAt).toBeDefined();
    });

    it("starts counting again after an unhealthy answer", async () => {
      kiln.probe.answer(false);

      const check = await checkCanary(kiln, state(2));

      expect(check).toEqual({
        status: "RUNNING",
        consecutive: 0,
        reason: "http://10.0.1.23:8080/health answered 503",
      });
    });

    it("fails a canary still unhealthy at its deadline, saying what it answered", async () => {
      kiln.probe.answer(false);

      const check = await checkCanary(kiln, state(1, -1));

      expect(check).toEqual({
        status: "FAILED",
        consecutive: 0,
        reason: `canary ${instanceId} was not healthy in time: http://10.0.1.23:8080/health answered 503`,
      });
    });

    it("fails a canary still healthy below the threshold at its deadline", async () => {
      kiln.probe.answer(true);

      const check = await checkCanary(kiln, state(0, -1));

      expect(check.status).toBe("FAILED");
      expect(check.consecutive).toBe(1);
    });

    it("waits for a pending canary without probing it", async () => {
      kiln.fleet.setState(instanceId, "pending", { privateIp: undefined });

      const check = await checkCanary(kiln, state());

      expect(check).toEqual({ status: "RUNNING", consecutive: 0 });
      expect(kiln.probe.calls).toEqual([]);
    });

    it("fails a canary that never reached running by its deadline", async () => {
      kiln.fleet.setState(instanceId, "pending", { privateIp: undefined });

      const check = await checkCanary(kiln, state(0, -1));

      expect(check).toEqual({
        status: "FAILED",
        consecutive: 0,
        reason: `canary ${instanceId} never reached running`,
      });
    });

    it.each([["stopped"], ["terminated"]] as const)("fails a canary that is %s", async (instanceState) => {
      kiln.fleet.setState(instanceId, instanceState);

      const check = await checkCanary(kiln, state(2));

      expect(check).toEqual({
        status: "FAILED",
        consecutive: 0,
        reason: `canary ${instanceId} is ${instanceState}`,
      });
    });
  });
});
