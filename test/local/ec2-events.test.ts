/**
 * The local EC2 emits the EventBridge events AWS's EC2 does: an `EC2 Instance State-change
 * Notification` for every state an instance enters and an `EC2 AMI State Change` when an image
 * becomes available, fails or is deregistered, in AWS's envelope. Each event is emitted in the
 * same tick as the state becomes visible to Describe calls: the durations of the lifecycle are
 * gated here, so the state cannot move on between an event and the Describe call checking it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateImageCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AmiStateChangeEvent, InstanceStateChangeEvent } from "../../local/ec2/events.ts";
import { type Ec2Emulator, startEc2Emulator } from "../../local/ec2/server.ts";
import { accountId, region } from "../../local/endpoints.ts";
import type { AwsEvent } from "../../local/event-bus.ts";
import { FaultInjector } from "../../local/faults.ts";
import { Timescale } from "../../local/timescale.ts";

const credentials = { accessKeyId: "AKIDLOCAL", secretAccessKey: "local-secret" };
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A timescale whose delays last until the test releases them, one release per delay. */
class GatedTimescale extends Timescale {
  private readonly permits = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();

  constructor() {
    super(0);
  }

  override async delay(operation: string, _awsSeconds: number, signal?: AbortSignal): Promise<void> {
    const permits = this.permits.get(operation) ?? 0;
    if (permits > 0) {
      this.permits.set(operation, permits - 1);
      return;
    }
    if (signal?.aborted) return;
    await new Promise<void>((resolve) => {
      const queue = this.waiting.get(operation) ?? [];
      queue.push(resolve);
      this.waiting.set(operation, queue);
      signal?.addEventListener("abort", () => resolve(), { once: true });
    });
  }

  /** Lets one delay of `operation` (waiting now or to come) end. */
  release(operation: string): void {
    const next = this.waiting.get(operation)?.shift();
    if (next !== undefined) next();
    else this.permits.set(operation, (this.permits.get(operation) ?? 0) + 1);
  }

  /** Ends every delay, now and later. */
  openAll(): void {
    for (const [operation, queue] of this.waiting) {
      for (const resolve of queue.splice(0)) resolve();
      this.permits.set(operation, Number.POSITIVE_INFINITY);
    }
    for (const operation of ["ec2:boot", "ec2:stop", "ec2:terminate", "ec2:snapshot"])
      this.permits.set(operation, Number.POSITIVE_INFINITY);
  }
}

let stateDir: string;
let emulator: Ec2Emulator;
let ec2: EC2Client;
let baseImage: string;
const timescale = new GatedTimescale();
const faults = new FaultInjector();
const events: AwsEvent[] = [];
/** What DescribeInstances / DescribeImages answered, asked from the sink as each event was emitted. */
const describedAtEmission = new Map<string, Promise<string | undefined>>();

async function instanceState(instanceId: string): Promise<string | undefined> {
  const result = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return result.Reservations?.[0]?.Instances?.[0]?.State?.Name;
}

async function imageState(imageId: string): Promise<string | undefined> {
  const result = await ec2.send(
    new DescribeImagesCommand({ Filters: [{ Name: "image-id", Values: [imageId] }] }),
  );
  return result.Images?.[0]?.State ?? "deregistered";
}

function isInstanceEvent(event: AwsEvent): event is InstanceStateChangeEvent {
  return event["detail-type"] === "EC2 Instance State-change Notification";
}

function isAmiEvent(event: AwsEvent): event is AmiStateChangeEvent {
  return event["detail-type"] === "EC2 AMI State Change";
}

function sink(event: AwsEvent): void {
  events.push(event);
  // Started in the emitting tick: the request is handled before any gated transition can follow.
  if (isInstanceEvent(event)) describedAtEmission.set(event.id, instanceState(event.detail["instance-id"]));
  else if (isAmiEvent(event)) describedAtEmission.set(event.id, imageState(event.detail.ImageId));
}

function instanceEvents(instanceId: string): InstanceStateChangeEvent[] {
  return events.filter(isInstanceEvent).filter((event) => event.detail["instance-id"] === instanceId);
}

function imageEvents(imageId: string): AmiStateChangeEvent[] {
  return events.filter(isAmiEvent).filter((event) => event.detail.ImageId === imageId);
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Waits until Describe shows `state`; the event for it must already have been emitted then. */
async function untilInstanceState(instanceId: string, state: string): Promise<void> {
  await until(async () => (await instanceState(instanceId)) === state, `${instanceId} to be ${state}`);
  expect(instanceEvents(instanceId).map((event) => event.detail.state)).toContain(state);
}

function expectEnvelope(event: AwsEvent, source: string, resource: string): void {
  expect(event).toMatchObject({ version: "0", source, account: accountId, region, resources: [resource] });
  expect(event.id).toMatch(uuid);
  // EventBridge times carry whole seconds.
  expect(event.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "kiln-ec2-events-"));
  emulator = await startEc2Emulator({ stateDir, timescale, faults, emitEvent: sink });
  ec2 = new EC2Client({ endpoint: emulator.url, region, credentials, maxAttempts: 1 });
  baseImage = await emulator.ensureBaseImage();
});

afterAll(async () => {
  timescale.openAll();
  ec2?.destroy();
  await emulator?.close();
  await rm(stateDir, { recursive: true, force: true });
});

describe("the local EC2's events", () => {
  it("announces the registered base image as available", () => {
    const [available] = imageEvents(baseImage);
    expect(available?.detail).toMatchObject({ ImageId: baseImage, State: "available", ErrorMessage: "" });
  });

  let instanceId = "";

  it("emits each state of a launch, stop and terminate once, in order, as Describe shows it", async () => {
    const launched = await ec2.send(
      new RunInstancesCommand({ ImageId: baseImage, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }),
    );
    instanceId = launched.Instances?.[0]?.InstanceId ?? "";
    // RunInstances answers once its pending event is out.
    expect(instanceEvents(instanceId).map((event) => event.detail.state)).toEqual(["pending"]);

    timescale.release("ec2:boot");
    await untilInstanceState(instanceId, "running");

    const stopped = await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    expect(stopped.StoppingInstances?.[0]?.CurrentState?.Name).toBe("stopping");
    expect(instanceEvents(instanceId).at(-1)?.detail.state).toBe("stopping");
    timescale.release("ec2:stop");
    await untilInstanceState(instanceId, "stopped");

    // Asked again while stopped: no state changes, so no event.
    await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));

    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    expect(instanceEvents(instanceId).at(-1)?.detail.state).toBe("shutting-down");
    timescale.release("ec2:terminate");
    await untilInstanceState(instanceId, "terminated");

    const emitted = instanceEvents(instanceId);
    expect(emitted.map((event) => event.detail.state)).toEqual([
      "pending",
      "running",
      "stopping",
      "stopped",
      "shutting-down",
      "terminated",
    ]);
    for (const event of emitted) {
      expectEnvelope(event, "aws.ec2", `arn:aws:ec2:${region}:${accountId}:instance/${instanceId}`);
      expect(Object.keys(event.detail).sort()).toEqual(["instance-id", "state"]);
      expect(await describedAtEmission.get(event.id)).toBe(event.detail.state);
    }
    expect(new Set(emitted.map((event) => event.id)).size).toBe(emitted.length);
  });

  it("emits available when an image is done, and deregistered when it is deregistered", async () => {
    const launched = await ec2.send(
      new RunInstancesCommand({ ImageId: baseImage, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }),
    );
    const builder = launched.Instances?.[0]?.InstanceId ?? "";
    timescale.release("ec2:boot");
    await untilInstanceState(builder, "running");

    const created = await ec2.send(new CreateImageCommand({ InstanceId: builder, Name: "kiln-events-ok" }));
    const imageId = created.ImageId ?? "";
    expect(created.$metadata.requestId).toMatch(uuid);
    expect(imageEvents(imageId)).toEqual([]);
    timescale.release("ec2:snapshot");
    await until(async () => (await imageState(imageId)) === "available", `${imageId} to be available`);
    expect(imageEvents(imageId).map((event) => event.detail.State)).toEqual(["available"]);

    const deregistered = await ec2.send(new DeregisterImageCommand({ ImageId: imageId }));
    const emitted = imageEvents(imageId);
    expect(emitted.map((event) => event.detail.State)).toEqual(["available", "deregistered"]);
    const [available, gone] = emitted;
    expect(available?.detail).toEqual({
      RequestId: created.$metadata.requestId,
      ImageId: imageId,
      State: "available",
      ErrorMessage: "",
    });
    expect(gone?.detail).toEqual({
      RequestId: deregistered.$metadata.requestId,
      ImageId: imageId,
      State: "deregistered",
      ErrorMessage: "",
    });
    for (const event of emitted) {
      expectEnvelope(event, "aws.ec2", `arn:aws:ec2:${region}::image/${imageId}`);
      expect(await describedAtEmission.get(event.id)).toBe(event.detail.State);
    }

    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [builder] }));
    timescale.release("ec2:terminate");
    await untilInstanceState(builder, "terminated");
  });

  it("emits failed, with the reason, when an image fault makes the image fail", async () => {
    faults.add({
      operation: "ec2:image",
      kind: "fail",
      match: "kiln-events-broken",
      code: "Client.InvalidSnapshot",
      message: "Client.InvalidSnapshot: the snapshot could not be read",
      times: 1,
    });
    const launched = await ec2.send(
      new RunInstancesCommand({ ImageId: baseImage, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }),
    );
    const builder = launched.Instances?.[0]?.InstanceId ?? "";
    timescale.release("ec2:boot");
    await untilInstanceState(builder, "running");

    const created = await ec2.send(
      new CreateImageCommand({ InstanceId: builder, Name: "kiln-events-broken" }),
    );
    const imageId = created.ImageId ?? "";
    timescale.release("ec2:snapshot");
    await until(async () => (await imageState(imageId)) === "failed", `${imageId} to fail`);

    const emitted = imageEvents(imageId);
    expect(emitted).toHaveLength(1);
    expect(emitted[0]?.detail).toMatchObject({
      ImageId: imageId,
      State: "failed",
      ErrorMessage: "Client.InvalidSnapshot: the snapshot could not be read",
    });
    expect(await describedAtEmission.get(emitted[0]?.id ?? "")).toBe("failed");

    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [builder] }));
    timescale.release("ec2:terminate");
    await untilInstanceState(builder, "terminated");
  });
});

describe("the local EC2 without an event sink", () => {
  it("runs instances as before", async () => {
    const quietDir = await mkdtemp(join(tmpdir(), "kiln-ec2-quiet-"));
    const quiet = await startEc2Emulator({ stateDir: quietDir, timescale: Timescale.instant(), faults });
    const client = new EC2Client({ endpoint: quiet.url, region, credentials, maxAttempts: 1 });
    try {
      const image = await quiet.ensureBaseImage();
      const launched = await client.send(
        new RunInstancesCommand({ ImageId: image, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }),
      );
      expect(launched.Instances?.[0]?.State?.Name).toBe("pending");
    } finally {
      client.destroy();
      await quiet.close();
      await rm(quietDir, { recursive: true, force: true });
    }
  });
});
