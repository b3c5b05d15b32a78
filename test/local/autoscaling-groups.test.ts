/**
 * Auto Scaling groups on the local EC2, end to end: instances are real processes serving
 * HTTP on their own loopback address, baked into images the way Kiln bakes them (user data
 * installs a service unit, the builder shuts down, CreateImage snapshots it).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AutoScalingClient,
  type AutoScalingGroup,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  type InstanceRefresh,
  RollbackInstanceRefreshCommand,
  StartInstanceRefreshCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  CreateImageCommand,
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AutoScalingEmulator, startAutoScalingEmulator } from "../../local/autoscaling/server.ts";
import { startEc2Emulator } from "../../local/ec2/server.ts";
import { FaultInjector } from "../../local/faults.ts";
import { Timescale } from "../../local/timescale.ts";

const credentials = { accessKeyId: "test", secretAccessKey: "test" };
const groupName = "web";

let stateDir: string;
let ec2Emulator: Awaited<ReturnType<typeof startEc2Emulator>> | undefined;
let autoScaling: AutoScalingEmulator | undefined;
let ec2: EC2Client;
let client: AutoScalingClient;
let servicePort: number;
let launchTemplateId: string;
const logs: string[] = [];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls `check` until it stops throwing; its last error is the failure. */
async function eventually<T>(check: () => Promise<T>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
  }
  throw new Error("expected the call to fail, it succeeded");
}

/** The user data of a builder: installs a tiny HTTP service as an enabled unit, then powers off. */
function builderUserData(version: string, healthy: boolean): string {
  const server = `import { createServer } from "node:http";
createServer((request, response) => {
  if (request.url === "/health") {
    response.writeHead(${healthy ? 200 : 500});
    response.end(${healthy ? '"ok"' : '"broken"'});
  } else if (request.url === "/pid") {
    response.end(String(process.pid));
  } else {
    response.end(${JSON.stringify(version)});
  }
}).listen(${servicePort}, process.env.HOST);
`;
  const unit = `[Unit]
Description=Kiln test service ${version}

[Service]
ExecStart=${process.execPath} /opt/kiln-test/server.mjs
Restart=no

[Install]
WantedBy=multi-user.target
`;
  return `#!/bin/bash
set -euo pipefail
mkdir -p "$KILN_INSTANCE_ROOT/opt/kiln-test" "$KILN_INSTANCE_ROOT/etc/systemd/system"
cat > "$KILN_INSTANCE_ROOT/opt/kiln-test/server.mjs" <<'SERVER'
${server}SERVER
cat > "$KILN_INSTANCE_ROOT/etc/systemd/system/kiln-test.service" <<'UNIT'
${unit}UNIT
systemctl enable kiln-test.service
shutdown -h now
`;
}

/** Bakes an image the way Kiln does: a builder runs user data, powers off, and is imaged. */
async function bakeImage(baseImage: string, version: string, healthy: boolean): Promise<string> {
  const { Instances } = await ec2.send(
    new RunInstancesCommand({
      ImageId: baseImage,
      InstanceType: "t3.micro",
      MinCount: 1,
      MaxCount: 1,
      UserData: Buffer.from(builderUserData(version, healthy)).toString("base64"),
    }),
  );
  const builder = Instances?.[0]?.InstanceId ?? "";
  await eventually(async () => {
    const { Reservations } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [builder] }));
    expect(Reservations?.[0]?.Instances?.[0]?.State?.Name).toBe("stopped");
  });
  const { ImageId } = await ec2.send(
    new CreateImageCommand({ InstanceId: builder, Name: `kiln-test-${version}` }),
  );
  await eventually(async () => {
    const { Images } = await ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId ?? ""] }));
    expect(Images?.[0]?.State).toBe("available");
  });
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [builder] }));
  return ImageId ?? "";
}

async function describeGroup(): Promise<AutoScalingGroup> {
  const { AutoScalingGroups } = await client.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }),
  );
  const group = AutoScalingGroups?.[0];
  if (group === undefined) throw new Error("group not found");
  return group;
}

/** Private addresses of the given instances, from EC2. */
async function addressesOf(instanceIds: string[]): Promise<string[]> {
  const { Reservations } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: instanceIds }));
  return (Reservations ?? [])
    .flatMap((reservation) => reservation.Instances ?? [])
    .map((i) => i.PrivateIpAddress ?? "");
}

async function get(address: string, path: string): Promise<string> {
  const response = await fetch(`http://${address}:${servicePort}${path}`, {
    signal: AbortSignal.timeout(5000),
  });
  expect(response.status).toBe(200);
  return response.text();
}

/** Waits until the group has 3 instances in service and healthy on `version`, and returns it. */
async function serving(templateVersion: string): Promise<AutoScalingGroup> {
  return eventually(async () => {
    const group = await describeGroup();
    expect(group.Instances).toHaveLength(3);
    for (const instance of group.Instances ?? []) {
      expect(instance).toMatchObject({
        LifecycleState: "InService",
        HealthStatus: "Healthy",
        LaunchTemplate: { LaunchTemplateId: launchTemplateId, Version: templateVersion },
      });
    }
    return group;
  });
}

/** What each of the group's instances answers on `/`. */
async function answers(group: AutoScalingGroup): Promise<string[]> {
  const addresses = await addressesOf((group.Instances ?? []).map((instance) => instance.InstanceId ?? ""));
  return Promise.all(addresses.map((address) => get(address, "/")));
}

async function refreshEnded(id: string): Promise<InstanceRefresh> {
  return eventually(async () => {
    const { InstanceRefreshes } = await client.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: groupName, InstanceRefreshIds: [id] }),
    );
    const refresh = InstanceRefreshes?.[0];
    expect(["Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed"]).toContain(
      refresh?.Status,
    );
    return refresh ?? {};
  }, 90_000);
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "kiln-autoscaling-groups-"));
  const timescale = Timescale.instant();
  const faults = new FaultInjector();
  const log = (line: string) => logs.push(line);
  ec2Emulator = await startEc2Emulator({ stateDir, timescale, faults, log });
  autoScaling = await startAutoScalingEmulator({
    stateDir,
    ec2Endpoint: ec2Emulator.url,
    timescale,
    faults,
    log,
    startupAllowanceMs: 5000,
  });
  // Picked once the emulators listen, so the service's port is none of theirs.
  servicePort = await freePort();
  ec2 = new EC2Client({ endpoint: ec2Emulator.url, region: "us-east-1", credentials });
  client = new AutoScalingClient({
    endpoint: autoScaling.url,
    region: "us-east-1",
    credentials,
    maxAttempts: 1,
  });

  const baseImage = await ec2Emulator.ensureBaseImage();
  const [v1, v2, broken] = await Promise.all([
    bakeImage(baseImage, "v1", true),
    bakeImage(baseImage, "v2", true),
    bakeImage(baseImage, "v3-broken", false),
  ]);
  const { LaunchTemplate } = await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: "kiln-test-web",
      LaunchTemplateData: { ImageId: v1, InstanceType: "t3.micro" },
    }),
  );
  launchTemplateId = LaunchTemplate?.LaunchTemplateId ?? "";
  for (const image of [v2, broken]) {
    await ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: launchTemplateId,
        LaunchTemplateData: { ImageId: image },
      }),
    );
  }
  await client.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: groupName,
      LaunchTemplate: { LaunchTemplateId: launchTemplateId, Version: "1" },
      MinSize: 3,
      MaxSize: 6,
      DesiredCapacity: 3,
      HealthCheckType: "ELB",
      HealthCheckGracePeriod: 60,
      Tags: [
        { Key: "kiln:health-port", Value: String(servicePort), PropagateAtLaunch: false },
        { Key: "kiln:service", Value: "web", PropagateAtLaunch: true },
      ],
    }),
  );
}, 180_000);

afterAll(async () => {
  client?.destroy();
  ec2?.destroy();
  await autoScaling?.close();
  await ec2Emulator?.close();
  if (process.env.KILN_TEST_LOG) {
    const { writeFile } = await import("node:fs/promises");
    await writeFile(process.env.KILN_TEST_LOG, logs.join("\n"));
  }
  await rm(stateDir, { recursive: true, force: true });
});

describe("an Auto Scaling group on the local EC2", () => {
  it("keeps 3 instances in service and healthy, each answering HTTP on its own address", async () => {
    const group = await serving("1");

    const versions = await answers(group);

    expect(versions).toEqual(["v1", "v1", "v1"]);
    const addresses = await addressesOf((group.Instances ?? []).map((instance) => instance.InstanceId ?? ""));
    expect(new Set(addresses).size).toBe(3);
  });

  it("replaces an instance whose service process was killed", async () => {
    const before = await serving("1");
    const victim = before.Instances?.[0]?.InstanceId ?? "";
    const [address] = await addressesOf([victim]);

    process.kill(Number(await get(address ?? "", "/pid")), "SIGKILL");

    const after = await eventually(async () => {
      const group = await serving("1");
      expect(group.Instances?.map((instance) => instance.InstanceId)).not.toContain(victim);
      return group;
    });
    expect(await answers(after)).toEqual(["v1", "v1", "v1"]);
  });

  it("refreshes every instance onto a new image and leaves the group on that exact version", async () => {
    await serving("1");

    const { InstanceRefreshId } = await client.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: groupName,
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: launchTemplateId, Version: "2" } },
        Preferences: { MinHealthyPercentage: 66, InstanceWarmup: 10, SkipMatching: true, AutoRollback: true },
      }),
    );
    const refresh = await refreshEnded(InstanceRefreshId ?? "");

    expect(refresh).toMatchObject({ Status: "Successful", PercentageComplete: 100 });
    const group = await serving("2");
    expect(group.LaunchTemplate).toMatchObject({ LaunchTemplateId: launchTemplateId, Version: "2" });
    expect(await answers(group)).toEqual(["v2", "v2", "v2"]);
  });

  it("fails a refresh to an image whose service fails its health check and rolls back to the old version", async () => {
    await serving("2");

    const { InstanceRefreshId } = await client.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: groupName,
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: launchTemplateId, Version: "3" } },
        Preferences: { MinHealthyPercentage: 66, SkipMatching: true, AutoRollback: true },
      }),
    );
    const refresh = await refreshEnded(InstanceRefreshId ?? "");

    expect(refresh.Status).toBe("RollbackSuccessful");
    expect(refresh.RollbackDetails?.RollbackReason).toMatch(/Instance i-[0-9a-f]+/);
    const group = await serving("2");
    expect(group.LaunchTemplate?.Version).toBe("2");
    expect(await answers(group)).toEqual(["v2", "v2", "v2"]);
  });

  it("refuses a second refresh while one runs, and rolls back on request, replacing what it had updated", async () => {
    await serving("2");
    const { InstanceRefreshId } = await client.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: groupName,
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: launchTemplateId, Version: "1" } },
        Preferences: { MinHealthyPercentage: 100, SkipMatching: true },
      }),
    );

    const second = await rejection(
      client.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: groupName })),
    );
    // Roll back once the first batch has launched its replacement (one instance at a time).
    await eventually(async () => {
      const group = await describeGroup();
      expect(group.Instances?.some((instance) => instance.LaunchTemplate?.Version === "1")).toBe(true);
    });
    await client.send(new RollbackInstanceRefreshCommand({ AutoScalingGroupName: groupName }));
    const refresh = await refreshEnded(InstanceRefreshId ?? "");

    expect(second.name).toBe("InstanceRefreshInProgressFault");
    expect(refresh.Status).toBe("RollbackSuccessful");
    expect(refresh.RollbackDetails?.RollbackReason).toContain("RollbackInstanceRefresh");
    const group = await serving("2");
    expect(group.LaunchTemplate?.Version).toBe("2");
    expect(await answers(group)).toEqual(["v2", "v2", "v2"]);
  });
});
