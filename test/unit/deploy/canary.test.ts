import { beforeEach, describe, expect, it } from "vitest";
import { checkCanary, checkCanaryBoot, launchCanary, probeWindowCapMs } from "../../../core/deploy/canary.ts";
import type { DeployState } from "../../../core/deploy/state.ts";
import { kilnTag } from "../../../core/deploy/tags.ts";
import type { GroupInfo, ScalingGroups } from "../../../core/ports.ts";
import { type FakeKiln, fakeKiln } from "../../fakes/fake-kiln.ts";
import { aDeployment, aDeployState, anExecutionInput, aPlan } from "../../fakes/test-data.ts";

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

    it("probes the service's health path on the canary's private address, retrying for one poll interval", async () => {
      kiln.probe.answer(true);

      await checkCanary(kiln, state());

      expect(kiln.probe.calls).toEqual([
        { url: "http://10.0.1.23:8080/health", timeoutMs: 2000, retryForMs: 5000 },
      ]);
    });

    it("retries for no longer than the window's cap, nor past the deadline", async () => {
      kiln.probe.answer(true, true);
      const plan = aPlan(input);
      const slowPolls = aDeployState(input, {
        plan: { ...plan, poll: { ...plan.poll, canarySeconds: 60 } },
        canary: { instanceId, deadline: kiln.clock.inMs(minute) },
      });

      await checkCanary(kiln, slowPolls);
      await checkCanary(kiln, state(0, 1500));

      expect(kiln.probe.calls.map((call) => call.retryForMs)).toEqual([probeWindowCapMs, 1500]);
    });

    it("counts a healthy answer that came after retries as the first in a row", async () => {
      kiln.probe.answerHealthyAfter(4);

      const check = await checkCanary(kiln, state(2));

      expect(check).toEqual({
        status: "RUNNING",
        consecutive: 1,
        reason: "http://10.0.1.23:8080/health answered 200",
      });
    });

    it("succeeds at once when the threshold is one and the canary answers within the window", async () => {
      kiln.probe.answerHealthyAfter(7);
      const plan = aPlan(input);
      const once = aDeployState(input, {
        plan: { ...plan, health: { ...plan.health, healthyThreshold: 1 } },
        canary: { instanceId, deadline: kiln.clock.inMs(minute) },
      });

      expect(await checkCanary(kiln, once)).toEqual({ status: "SUCCEEDED", consecutive: 1 });
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

    it("sends a pending canary back to be watched, without probing it", async () => {
      kiln.fleet.setState(instanceId, "pending", { privateIp: undefined });

      const check = await checkCanary(kiln, state());

      expect(check).toEqual({ status: "BOOTING", consecutive: 0 });
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

  describe("checkCanaryBoot", () => {
    it.each([
      ["pending", "10.0.1.23", "BOOTING"],
      ["running", undefined, "BOOTING"],
      ["running", "10.0.1.23", "BOOTED"],
      ["terminated", undefined, "BOOTED"],
      ["stopped", "10.0.1.23", "BOOTED"],
    ] as const)("a %s canary with address %s is %s", async (instanceState, privateIp, status) => {
      const { instanceId } = kiln.fleet.add(input.deploymentId, "canary", {
        state: instanceState,
        privateIp,
      });

      const check = await checkCanaryBoot(
        kiln,
        aDeployState(input, { canary: { instanceId, deadline: kiln.clock.inMs(minute) } }),
      );

      expect(check).toEqual({ status });
    });

    it("treats a canary that is gone as booted: the health check reports it", async () => {
      const check = await checkCanaryBoot(
        kiln,
        aDeployState(input, {
          canary: { instanceId: "i-0000000000000dead", deadline: kiln.clock.inMs(minute) },
        }),
      );

      expect(check).toEqual({ status: "BOOTED" });
    });
  });
});
