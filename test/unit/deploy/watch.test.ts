import { beforeEach, describe, expect, it } from "vitest";
import { resourceOfEvent, wake, watch, watchedResource } from "../../../core/deploy/watch.ts";
import type { ScalingGroups } from "../../../core/ports.ts";
import { matchesPattern, wakeRules } from "../../../workflows/event-rules.ts";
import { type FakeKiln, fakeKiln } from "../../fakes/fake-kiln.ts";
import { InMemoryWatcherRegistry, RecordingTaskCallbacks } from "../../fakes/in-memory-watchers.ts";
import { aDeployment, aDeployState, anExecutionInput } from "../../fakes/test-data.ts";

/** Example events as AWS documents them (EC2 and Auto Scaling user guides). */
const instanceEvent = (instanceId: string, state: string) => ({
  version: "0",
  id: "7bf73129-1428-4cd3-a780-95db273d1602",
  "detail-type": "EC2 Instance State-change Notification",
  source: "aws.ec2",
  account: "123456789012",
  time: "2021-11-11T21:29:54Z",
  region: "us-east-1",
  resources: [`arn:aws:ec2:us-east-1:123456789012:instance/${instanceId}`],
  detail: { "instance-id": instanceId, state },
});
const imageEvent = (imageId: string, state: string) => ({
  version: "0",
  id: "d0e1c2f3-0000-4000-8000-000000000001",
  "detail-type": "EC2 AMI State Change",
  source: "aws.ec2",
  account: "123456789012",
  time: "2021-11-11T21:29:54Z",
  region: "us-east-1",
  resources: [`arn:aws:ec2:us-east-1::image/${imageId}`],
  detail: { ImageId: imageId, State: state, ErrorMessage: "" },
});
const refreshEvent = (refreshId: string, outcome: string) => ({
  version: "0",
  id: "12345678-1234-1234-1234-123456789012",
  "detail-type": `EC2 Auto Scaling Instance Refresh ${outcome}`,
  source: "aws.autoscaling",
  account: "123456789012",
  time: "2021-11-11T21:29:54Z",
  region: "us-west-2",
  resources: ["arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:uuid:autoScalingGroupName/my-asg"],
  detail: { InstanceRefreshId: refreshId, AutoScalingGroupName: "my-asg" },
});

const unusedGroups = new Proxy({} as ScalingGroups, {
  get: (_, name) => () => Promise.reject(new Error(`groups.${String(name)} is not expected here`)),
});

describe("event-driven waits", () => {
  let kiln: FakeKiln;
  let watchers: InMemoryWatcherRegistry;
  let callbacks: RecordingTaskCallbacks;
  let deps: FakeKiln & {
    watchers: InMemoryWatcherRegistry;
    callbacks: RecordingTaskCallbacks;
    groups: ScalingGroups;
  };
  const input = anExecutionInput();

  beforeEach(async () => {
    kiln = fakeKiln();
    watchers = new InMemoryWatcherRegistry();
    callbacks = new RecordingTaskCallbacks();
    deps = { ...kiln, watchers, callbacks, groups: unusedGroups };
    await kiln.history.create(aDeployment(input));
  });

  function builderState() {
    const instanceId = kiln.fleet.add(input.deploymentId, "builder").instanceId;
    const state = aDeployState(input, { builder: { instanceId, deadline: kiln.clock.inMs(60_000) } });
    return { instanceId, state };
  }

  it("keeps a builder's wait registered while it bakes, and resumes it with the check's verdict when it stops", async () => {
    const { instanceId, state } = builderState();

    const watched = await watch(deps, { kind: "builder", taskToken: "token-1", state });

    expect(watched).toEqual({ resource: `instance:${instanceId}`, status: "RUNNING", resumed: false });
    expect(callbacks.answered).toEqual([]);
    expect(await watchers.get(`instance:${instanceId}`)).toMatchObject({
      taskToken: "token-1",
      kind: "builder",
    });

    kiln.fleet.setState(instanceId, "stopped");
    kiln.fleet.setConsole(instanceId, "KILN-BAKE: OK hello-service 1.2.3\n");
    const woken = await wake(deps, instanceEvent(instanceId, "stopped"));

    expect(woken).toMatchObject({ watched: true, status: "SUCCEEDED", resumed: true });
    expect(callbacks.answered).toEqual([{ taskToken: "token-1", output: { status: "SUCCEEDED" } }]);
    expect(await watchers.get(`instance:${instanceId}`)).toBeUndefined();
  });

  it("resumes at once when the operation ended before the wait was registered", async () => {
    const { instanceId, state } = builderState();
    kiln.fleet.setState(instanceId, "stopped");
    kiln.fleet.setConsole(instanceId, "KILN-BAKE: FAILED install hook failed: ./install.sh\n");

    const watched = await watch(deps, { kind: "builder", taskToken: "token-1", state });

    expect(watched.resumed).toBe(true);
    expect(callbacks.answered).toEqual([
      { taskToken: "token-1", output: { status: "FAILED", reason: "install hook failed: ./install.sh" } },
    ]);
  });

  it("answers a wait once when the event and the registration's own check both find it over", async () => {
    const { instanceId, state } = builderState();
    kiln.fleet.setState(instanceId, "stopped");
    kiln.fleet.setConsole(instanceId, "KILN-BAKE: OK hello-service 1.2.3\n");

    const [watched, woken] = await Promise.all([
      watch(deps, { kind: "builder", taskToken: "token-1", state }),
      wake(deps, instanceEvent(instanceId, "stopped")),
    ]);

    expect(callbacks.answered).toHaveLength(1);
    expect([watched.resumed, "resumed" in woken && woken.resumed].filter(Boolean)).toHaveLength(1);
  });

  it("leaves the wait in place for an event that does not end it", async () => {
    const { instanceId, state } = builderState();
    await watch(deps, { kind: "builder", taskToken: "token-1", state });
    kiln.fleet.setState(instanceId, "stopping");

    const woken = await wake(deps, instanceEvent(instanceId, "stopping"));

    expect(woken).toMatchObject({ watched: true, status: "RUNNING", resumed: false });
    expect(callbacks.answered).toEqual([]);
    expect(await watchers.get(`instance:${instanceId}`)).toBeDefined();
  });

  it("lets a newer wait on the same resource replace an older one, whose token is then never answered", async () => {
    const { instanceId, state } = builderState();
    await watch(deps, { kind: "builder", taskToken: "token-1", state });
    await watch(deps, { kind: "builder", taskToken: "token-2", state });
    kiln.fleet.setState(instanceId, "stopped");
    kiln.fleet.setConsole(instanceId, "KILN-BAKE: OK hello-service 1.2.3\n");

    await wake(deps, instanceEvent(instanceId, "stopped"));

    expect(callbacks.answered.map((answer) => answer.taskToken)).toEqual(["token-2"]);
  });

  it("reports a task that no longer waits (timed out) as not resumed", async () => {
    const { instanceId, state } = builderState();
    await watch(deps, { kind: "builder", taskToken: "token-1", state });
    callbacks.gone.add("token-1");
    kiln.fleet.setState(instanceId, "terminated", { stateReason: "Server.SpotInstanceTermination" });

    const woken = await wake(deps, instanceEvent(instanceId, "terminated"));

    expect(woken).toMatchObject({ watched: true, status: "FAILED", resumed: false });
  });

  it("resumes an image's wait when the image becomes available, marking the bake's end", async () => {
    const imageId = kiln.images.add({ name: "hello", state: "pending" }).imageId;
    const state = aDeployState(input, { image: { imageId, cached: false } });
    await watch(deps, { kind: "image", taskToken: "token-1", state });

    const early = await wake(deps, imageEvent(imageId, "available"));
    expect(early).toMatchObject({ status: "RUNNING", resumed: false });

    kiln.images.setState(imageId, "available");
    const woken = await wake(deps, imageEvent(imageId, "available"));

    expect(woken).toMatchObject({ resource: `image:${imageId}`, status: "SUCCEEDED", resumed: true });
    expect((await kiln.history.get(input.deploymentId))?.steps.bake?.endedAt).toBeDefined();
  });

  it("resumes a canary's wait when it is running, and when it is gone before it ran", async () => {
    const canaryState = (instanceId: string) =>
      aDeployState(input, { canary: { instanceId, deadline: kiln.clock.inMs(60_000) } });
    const booting = kiln.fleet.add(input.deploymentId, "canary", { state: "pending" }).instanceId;
    const lost = kiln.fleet.add(input.deploymentId, "canary", { state: "pending" }).instanceId;
    await watch(deps, { kind: "canary", taskToken: "token-1", state: canaryState(booting) });
    const watched = await watch(deps, { kind: "canary", taskToken: "token-2", state: canaryState(lost) });
    expect(watched).toEqual({ resource: `instance:${lost}`, status: "BOOTING", resumed: false });

    kiln.fleet.setState(booting, "running", { privateIp: "10.0.1.23" });
    kiln.fleet.setState(lost, "terminated");
    const woken = [
      await wake(deps, instanceEvent(booting, "running")),
      await wake(deps, instanceEvent(lost, "terminated")),
    ];

    expect(woken).toMatchObject([
      { resource: `instance:${booting}`, status: "BOOTED", resumed: true },
      { resource: `instance:${lost}`, status: "BOOTED", resumed: true },
    ]);
    expect(callbacks.answered.map((answer) => answer.taskToken)).toEqual(["token-1", "token-2"]);
    expect(kiln.probe.calls).toEqual([]);
  });

  it("ignores events about resources nobody waits on, and events of other kinds", async () => {
    expect(await wake(deps, instanceEvent("i-0123456789abcdef0", "stopped"))).toEqual({
      resource: "instance:i-0123456789abcdef0",
      watched: false,
    });
    expect(await wake(deps, { source: "aws.s3", "detail-type": "Object Created", detail: {} })).toMatchObject(
      {
        resource: undefined,
      },
    );
    expect(resourceOfEvent(instanceEvent("", "stopped"))).toBeUndefined();
    expect(callbacks.answered).toEqual([]);
  });

  it("names the resource a wait is on the way the events about it name it", () => {
    const state = aDeployState(input, {
      builder: { instanceId: "i-0abc", deadline: kiln.clock.inMs(1) },
      image: { imageId: "ami-0abc", cached: false },
      refresh: { refreshId: "r-1" },
    });
    expect(watchedResource("builder", state)).toBe(resourceOfEvent(instanceEvent("i-0abc", "stopped")));
    expect(
      watchedResource("canary", { ...state, canary: { instanceId: "i-0def", deadline: kiln.clock.inMs(1) } }),
    ).toBe(resourceOfEvent(instanceEvent("i-0def", "running")));
    expect(watchedResource("image", state)).toBe(resourceOfEvent(imageEvent("ami-0abc", "available")));
    expect(watchedResource("refresh", state)).toBe(resourceOfEvent(refreshEvent("r-1", "Succeeded")));
    expect(watchedResource("rollback", { ...state, rollback: { refreshId: "r-2", reason: "x" } })).toBe(
      resourceOfEvent(refreshEvent("r-2", "Rollback Succeeded")),
    );
  });

  it("fails loudly when the state lacks what the wait is on", async () => {
    await expect(
      watch(deps, { kind: "image", taskToken: "token-1", state: aDeployState(input) }),
    ).rejects.toThrow(/image missing/);
  });
});

describe("wake rules", () => {
  const matching = (event: unknown) =>
    Object.entries(wakeRules)
      .filter(([, rule]) => matchesPattern(rule.pattern, event))
      .map(([name]) => name);

  it("send the events that can end a wait to wake", () => {
    expect(matching(instanceEvent("i-1", "stopped"))).toEqual(["InstanceStopped"]);
    expect(matching(instanceEvent("i-1", "terminated"))).toEqual(["InstanceStopped"]);
    expect(matching(instanceEvent("i-1", "running"))).toEqual(["InstanceRunning"]);
    expect(matching(imageEvent("ami-1", "available"))).toEqual(["ImageSettled"]);
    expect(matching(imageEvent("ami-1", "failed"))).toEqual(["ImageSettled"]);
    expect(matching(refreshEvent("r-1", "Succeeded"))).toEqual(["RefreshEnded"]);
    expect(matching(refreshEvent("r-1", "Rollback Succeeded"))).toEqual(["RefreshEnded"]);
    for (const rule of Object.values(wakeRules)) expect(rule.target).toBe("wake");
  });

  it("leave out events that cannot", () => {
    expect(matching(instanceEvent("i-1", "pending"))).toEqual([]);
    expect(matching(instanceEvent("i-1", "shutting-down"))).toEqual([]);
    expect(matching(imageEvent("ami-1", "deregistered"))).toEqual([]);
    expect(matching(refreshEvent("r-1", "Started"))).toEqual([]);
    expect(matching({ ...instanceEvent("i-1", "stopped"), source: "custom.ec2" })).toEqual([]);
    expect(matching("not an event")).toEqual([]);
  });
});
