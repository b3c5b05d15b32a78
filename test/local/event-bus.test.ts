/**
 * The local default event bus: an event goes to the target of every rule whose pattern matches
 * it, and only there; delivery happens after publish returns and is retried when it fails, as
 * EventBridge delivers to Lambda. The local cloud puts the emulators' events on it through the
 * stack's wake rules, so `wake` gets a builder's stop as it would on AWS.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  EC2Client,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalCloud, startLocalCloud } from "../../local/cloud.ts";
import { amiStateChangeEvent, instanceStateChangeEvent } from "../../local/ec2/events.ts";
import type { Instance } from "../../local/ec2/state.ts";
import { region } from "../../local/endpoints.ts";
import { type AwsEvent, awsEvent, type BusRule, EventBus } from "../../local/event-bus.ts";
import { Timescale } from "../../local/timescale.ts";
import { refreshEndedDetailTypes, wakeRules } from "../../workflows/event-rules.ts";

const refreshPrefix = "EC2 Auto Scaling Instance Refresh";

function instanceIn(state: Instance["state"], instanceId = "i-0123456789abcdef0"): AwsEvent {
  return instanceStateChangeEvent({ instanceId, state } as Instance);
}

function refreshEvent(what: string): AwsEvent {
  return awsEvent("aws.autoscaling", `${refreshPrefix} ${what}`, ["arn:aws:autoscaling:group"], {
    InstanceRefreshId: "0b5c1f7e-1a2b-4c3d-8e9f-0123456789ab",
    AutoScalingGroupName: "kiln-web",
  });
}

interface Delivered {
  target: string;
  event: AwsEvent;
}

function busWith(
  rules: Record<string, BusRule>,
  invoke: (target: string, event: AwsEvent) => Promise<unknown> = async () => undefined,
) {
  const delivered: Delivered[] = [];
  const logs: string[] = [];
  const bus = new EventBus({
    rules,
    log: (line) => logs.push(line),
    retryDelayMs: 1,
    invoke: async (target, event) => {
      delivered.push({ target, event });
      return invoke(target, event);
    },
  });
  return { bus, delivered, logs };
}

describe("the local event bus", () => {
  const rules: Record<string, BusRule> = {
    Stopped: {
      pattern: {
        source: ["aws.ec2"],
        "detail-type": ["EC2 Instance State-change Notification"],
        detail: { state: ["stopped"] },
      },
      target: "alpha",
    },
    AnyEc2: { pattern: { source: ["aws.ec2"] }, target: "beta" },
    Refreshes: { pattern: { source: ["aws.autoscaling"] }, target: "gamma" },
  };

  it("delivers an event, after publish returns, to the target of each rule it matches and no other", async () => {
    const { bus, delivered } = busWith(rules);
    const stopped = instanceIn("stopped");
    const running = instanceIn("running");

    bus.publish(stopped);
    bus.publish(running);
    expect(delivered).toEqual([]);
    await bus.settled();

    expect(delivered.map(({ target, event }) => [target, event.id])).toEqual(
      expect.arrayContaining([
        ["alpha", stopped.id],
        ["beta", stopped.id],
        ["beta", running.id],
      ]),
    );
    expect(delivered).toHaveLength(3);
    expect(delivered.find(({ event }) => event === stopped)?.event).toEqual(stopped);
  });

  it("delivers nothing for an event no rule matches", async () => {
    const { bus, delivered } = busWith({ Stopped: rules.Stopped as BusRule });
    bus.publish(instanceIn("pending"));
    bus.publish(refreshEvent("Started"));
    bus.publish(amiStateChangeEvent("ami-0123456789abcdef0", "available", "request"));
    await bus.settled();
    expect(delivered).toEqual([]);
  });

  it("retries a delivery that fails, and delivers the same event", async () => {
    let failures = 1;
    const { bus, delivered, logs } = busWith(rules, async (target) => {
      if (target === "gamma" && failures > 0) {
        failures -= 1;
        throw new Error("the function is busy");
      }
    });
    const event = refreshEvent("Succeeded");

    bus.publish(event);
    await bus.settled();

    expect(delivered.map(({ target }) => target)).toEqual(["gamma", "gamma"]);
    expect(delivered.every((delivery) => delivery.event === event)).toBe(true);
    expect(logs.join("\n")).toContain("failed (attempt 1/3): Error: the function is busy");
  });

  it("gives up after three attempts, logging the event it dropped", async () => {
    const { bus, delivered, logs } = busWith(rules, async () => {
      throw new Error("the function is broken");
    });
    bus.publish(refreshEvent("Failed"));
    await bus.settled();

    expect(delivered.map(({ target }) => target)).toEqual(["gamma", "gamma", "gamma"]);
    expect(logs.at(-1)).toMatch(/failed \(attempt 3\/3\).* — dropped$/);
  });

  it("drops events published once it is closed", async () => {
    const { bus, delivered, logs } = busWith(rules);
    await bus.close();
    bus.publish(instanceIn("stopped"));
    await bus.settled();
    expect(delivered).toEqual([]);
    expect(logs.join("\n")).toContain("delivery is closed");
  });

  it("routes through Kiln's wake rules the events that end a wait, and not those of work under way", async () => {
    const { bus, delivered } = busWith(wakeRules);
    const waking = [
      instanceIn("running"),
      instanceIn("stopped"),
      instanceIn("terminated"),
      amiStateChangeEvent("ami-0123456789abcdef0", "available", "request"),
      amiStateChangeEvent("ami-0123456789abcdef0", "failed", "request", "Server.InternalError"),
      ...refreshEndedDetailTypes.map((detailType) =>
        refreshEvent(detailType.slice(refreshPrefix.length + 1)),
      ),
    ];
    const ignored = [
      instanceIn("pending"),
      instanceIn("stopping"),
      amiStateChangeEvent("ami-0123456789abcdef0", "deregistered", "request"),
      refreshEvent("Started"),
    ];
    for (const event of [...waking, ...ignored]) bus.publish(event);
    await bus.settled();

    expect(delivered.map(({ event }) => event.id).sort()).toEqual(waking.map((event) => event.id).sort());
    expect(new Set(delivered.map(({ target }) => target))).toEqual(new Set(["wake"]));
  });
});

describe("the local cloud's event bus", () => {
  let stateDir: string;
  let cloud: LocalCloud;
  const woken: AwsEvent[] = [];

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "kiln-cloud-events-"));
    cloud = await startLocalCloud({
      stateDir,
      ports: "ephemeral",
      timescale: Timescale.instant(),
      reconcileIntervalMs: 100,
      handlers: {
        wake: async (event) => {
          woken.push(event as AwsEvent);
          return {};
        },
      },
    });
  });

  afterAll(async () => {
    await cloud?.stop();
    if (stateDir !== undefined) await rm(stateDir, { recursive: true, force: true });
  });

  it("sends a builder's stop and termination to wake, not its launch", async () => {
    const ec2 = new EC2Client({
      endpoint: cloud.endpoints.ec2,
      region,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    try {
      const launched = await ec2.send(
        new RunInstancesCommand({ ImageId: cloud.baseImageId, MinCount: 1, MaxCount: 1 }),
      );
      const instanceId = launched.Instances?.[0]?.InstanceId ?? "";
      const statesWoken = () =>
        woken
          .filter((event) => (event.detail as { "instance-id"?: string })["instance-id"] === instanceId)
          .map((event) => (event.detail as { state: string }).state);
      await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
      await waitFor(async () => {
        await cloud.settled();
        return statesWoken().includes("stopped");
      });
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
      await waitFor(async () => {
        await cloud.settled();
        return statesWoken().includes("terminated");
      });

      // Under the stack's rules: the stop and the end, never the launch.
      expect(statesWoken()).toEqual(expect.arrayContaining(["stopped", "terminated"]));
      expect(statesWoken()).not.toContain("pending");
      expect(statesWoken()).not.toContain("running");
      expect(statesWoken().filter((state) => state === "stopped")).toHaveLength(1);
    } finally {
      ec2.destroy();
    }
  });
});

async function waitFor(done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error("gave up waiting");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
