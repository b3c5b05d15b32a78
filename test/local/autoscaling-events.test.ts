/**
 * The local Auto Scaling emits AWS's instance refresh events (Started, Succeeded, Failed,
 * Cancelled, Rollback Started/Succeeded/Failed) as a refresh changes status, in AWS's envelope,
 * each in the same tick as DescribeInstanceRefreshes shows the status. The group is empty, so
 * refreshes end at once; faults make them fail.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AutoScalingClient,
  CancelInstanceRefreshCommand,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  StartInstanceRefreshCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InstanceRefreshEvent } from "../../local/autoscaling/refresh-events.ts";
import { type AutoScalingEmulator, startAutoScalingEmulator } from "../../local/autoscaling/server.ts";
import { type Ec2Emulator, startEc2Emulator } from "../../local/ec2/server.ts";
import { accountId, region } from "../../local/endpoints.ts";
import type { AwsEvent } from "../../local/event-bus.ts";
import { FaultInjector } from "../../local/faults.ts";
import { Timescale } from "../../local/timescale.ts";

const credentials = { accessKeyId: "test", secretAccessKey: "test" };
const groupName = "kiln-events-web";
const prefix = "EC2 Auto Scaling Instance Refresh";

/** The status DescribeInstanceRefreshes shows once each event's change has happened. */
const statusOf: Record<string, string> = {
  [`${prefix} Started`]: "InProgress",
  [`${prefix} Succeeded`]: "Successful",
  [`${prefix} Failed`]: "Failed",
  [`${prefix} Cancelled`]: "Cancelled",
  [`${prefix} Rollback Started`]: "RollbackInProgress",
  [`${prefix} Rollback Succeeded`]: "RollbackSuccessful",
  [`${prefix} Rollback Failed`]: "RollbackFailed",
};
const endStatuses = ["Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed"];
/** Statuses a refresh may show after each, in the order a refresh goes through them. */
const laterStatuses: Record<string, string[]> = {
  InProgress: ["InProgress", "Cancelling", "RollbackInProgress", ...endStatuses],
  RollbackInProgress: ["RollbackInProgress", "RollbackSuccessful", "RollbackFailed"],
};

let stateDir: string;
let ec2Emulator: Ec2Emulator | undefined;
let autoScaling: AutoScalingEmulator | undefined;
let ec2: EC2Client;
let client: AutoScalingClient;
let launchTemplateId: string;
let groupArn: string;
const faults = new FaultInjector();
const events: AwsEvent[] = [];
const describedAtEmission = new Map<string, Promise<string | undefined>>();

async function refreshStatus(id: string): Promise<string | undefined> {
  const { InstanceRefreshes } = await client.send(
    new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: groupName, InstanceRefreshIds: [id] }),
  );
  return InstanceRefreshes?.[0]?.Status;
}

function isRefreshEvent(event: AwsEvent): event is InstanceRefreshEvent {
  return event.source === "aws.autoscaling" && event["detail-type"].startsWith(prefix);
}

function sink(event: AwsEvent): void {
  events.push(event);
  if (isRefreshEvent(event)) describedAtEmission.set(event.id, refreshStatus(event.detail.InstanceRefreshId));
}

function refreshEvents(id: string): InstanceRefreshEvent[] {
  return events.filter(isRefreshEvent).filter((event) => event.detail.InstanceRefreshId === id);
}

async function refreshEnded(id: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = (await refreshStatus(id)) ?? "";
    if (endStatuses.includes(status)) return status;
    if (Date.now() > deadline) throw new Error(`refresh ${id} did not end (last status ${status})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function startRefresh(version: string, autoRollback: boolean): Promise<string> {
  const { InstanceRefreshId } = await client.send(
    new StartInstanceRefreshCommand({
      AutoScalingGroupName: groupName,
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: launchTemplateId, Version: version } },
      Preferences: { MinHealthyPercentage: 100, AutoRollback: autoRollback },
    }),
  );
  const id = InstanceRefreshId ?? "";
  // StartInstanceRefresh answers once the refresh is in progress, its Started event out.
  expect(refreshEvents(id).map((event) => event["detail-type"])).toEqual([`${prefix} Started`]);
  return id;
}

/** Every event of the refresh: AWS's envelope, and the status Describe showed as it was emitted. */
async function expectWellFormed(id: string): Promise<void> {
  for (const event of refreshEvents(id)) {
    expect(event).toMatchObject({
      version: "0",
      source: "aws.autoscaling",
      account: accountId,
      region,
      resources: [groupArn],
      detail: { InstanceRefreshId: id, AutoScalingGroupName: groupName },
    });
    expect(Object.keys(event.detail).sort()).toEqual(["AutoScalingGroupName", "InstanceRefreshId"]);
    expect(event.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const status = statusOf[event["detail-type"]] ?? "";
    const described = (await describedAtEmission.get(event.id)) ?? "";
    expect(laterStatuses[status] ?? [status]).toContain(described);
  }
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "kiln-autoscaling-events-"));
  const timescale = Timescale.instant();
  ec2Emulator = await startEc2Emulator({ stateDir, timescale, faults });
  autoScaling = await startAutoScalingEmulator({
    stateDir,
    ec2Endpoint: ec2Emulator.url,
    timescale,
    faults,
    emitEvent: sink,
    reconcileIntervalMs: 100,
  });
  ec2 = new EC2Client({ endpoint: ec2Emulator.url, region, credentials });
  client = new AutoScalingClient({ endpoint: autoScaling.url, region, credentials, maxAttempts: 1 });

  const baseImage = await ec2Emulator.ensureBaseImage();
  const { LaunchTemplate } = await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: "kiln-events-web",
      LaunchTemplateData: { ImageId: baseImage, InstanceType: "t3.micro" },
    }),
  );
  launchTemplateId = LaunchTemplate?.LaunchTemplateId ?? "";
  await ec2.send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: launchTemplateId,
      LaunchTemplateData: { ImageId: baseImage, InstanceType: "t3.small" },
    }),
  );
  await client.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: groupName,
      LaunchTemplate: { LaunchTemplateId: launchTemplateId, Version: "1" },
      MinSize: 0,
      MaxSize: 1,
      DesiredCapacity: 0,
    }),
  );
  const { AutoScalingGroups } = await client.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
  );
  groupArn = AutoScalingGroups?.[0]?.AutoScalingGroupARN ?? "";
});

afterAll(async () => {
  client?.destroy();
  ec2?.destroy();
  await autoScaling?.close();
  await ec2Emulator?.close();
  await rm(stateDir, { recursive: true, force: true });
});

describe("the local Auto Scaling's instance refresh events", () => {
  it("emits Started, then Succeeded", async () => {
    const id = await startRefresh("2", true);

    expect(await refreshEnded(id)).toBe("Successful");
    expect(refreshEvents(id).map((event) => event["detail-type"])).toEqual([
      `${prefix} Started`,
      `${prefix} Succeeded`,
    ]);
    await expectWellFormed(id);
  });

  it("emits Failed when a refresh without auto rollback fails", async () => {
    faults.add({ operation: "autoscaling:refresh", kind: "fail", match: groupName, times: 1 });
    const id = await startRefresh("1", false);

    expect(await refreshEnded(id)).toBe("Failed");
    expect(refreshEvents(id).map((event) => event["detail-type"])).toEqual([
      `${prefix} Started`,
      `${prefix} Failed`,
    ]);
    await expectWellFormed(id);
  });

  it("emits Rollback Started, then Rollback Succeeded (and no Failed) when a refresh with auto rollback fails", async () => {
    faults.add({ operation: "autoscaling:refresh", kind: "fail", match: groupName, times: 1 });
    const id = await startRefresh("2", true);

    // As on AWS, the refresh goes from InProgress to RollbackInProgress: it never shows Failed.
    expect(await refreshEnded(id)).toBe("RollbackSuccessful");
    expect(refreshEvents(id).map((event) => event["detail-type"])).toEqual([
      `${prefix} Started`,
      `${prefix} Rollback Started`,
      `${prefix} Rollback Succeeded`,
    ]);
    await expectWellFormed(id);
  });

  it("emits Rollback Failed when the rollback fails too", async () => {
    faults.add({ operation: "autoscaling:refresh", kind: "fail", match: groupName, times: 2 });
    const id = await startRefresh("2", true);

    expect(await refreshEnded(id)).toBe("RollbackFailed");
    expect(refreshEvents(id).map((event) => event["detail-type"])).toEqual([
      `${prefix} Started`,
      `${prefix} Rollback Started`,
      `${prefix} Rollback Failed`,
    ]);
    await expectWellFormed(id);
  });

  it("emits Cancelled (and nothing for Cancelling) when a refresh is cancelled", async () => {
    // Holds the refresh before its first batch long enough for the cancel to arrive.
    faults.add({
      operation: "autoscaling:refresh",
      kind: "delay",
      delayMs: 3000,
      match: groupName,
      times: 1,
    });
    const id = await startRefresh("2", false);
    await client.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: groupName }));

    expect(await refreshEnded(id)).toBe("Cancelled");
    // The cancel may have arrived before the refresh reached its first batch (and the fault).
    faults.clear();
    expect(refreshEvents(id).map((event) => event["detail-type"])).toEqual([
      `${prefix} Started`,
      `${prefix} Cancelled`,
    ]);
    await expectWellFormed(id);
  });
});
