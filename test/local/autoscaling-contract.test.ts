/**
 * Contract of the local Auto Scaling emulator: every action through the real SDK (and the
 * AWS CLI), reading each field back, since the SDK silently drops what it does not expect.
 *
 * EC2 here is a small stand-in speaking the EC2 query protocol: an "instance" is an HTTP
 * server on its own loopback address answering the group's health check (500 for template
 * versions the test marks bad), so health, refreshes and rollbacks run for real without
 * the EC2 emulator.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  AutoScalingClient,
  type AutoScalingClient as AutoScalingClientType,
  CancelInstanceRefreshCommand,
  CreateAutoScalingGroupCommand,
  type CreateAutoScalingGroupCommandInput,
  DeleteAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeInstanceRefreshesCommand,
  DescribeScalingActivitiesCommand,
  type InstanceRefresh,
  RollbackInstanceRefreshCommand,
  SetDesiredCapacityCommand,
  StartInstanceRefreshCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AutoScalingEmulator, startAutoScalingEmulator } from "../../local/autoscaling/server.ts";
import { FaultInjector } from "../../local/faults.ts";
import { Timescale } from "../../local/timescale.ts";

const run = promisify(execFile);

// ---------------------------------------------------------------------------------------------
// A stand-in EC2: launch templates, and instances that are HTTP servers on 127.0.1.N.

interface FakeInstance {
  id: string;
  ip: string;
  state: string;
  templateId: string;
  version: string;
  tags: Record<string, string>;
  server: Server | undefined;
}

class FakeEc2 {
  readonly templates = new Map([
    ["lt-0web", { name: "web", latest: 3, default: 1 }],
    ["lt-0api", { name: "api", latest: 1, default: 1 }],
  ]);
  readonly instances = new Map<string, FakeInstance>();
  readonly runRequests: URLSearchParams[] = [];
  /** Template versions whose instances answer their health check with 500. */
  readonly badVersions = new Set<string>();
  /** While set, terminated instances stay shutting-down (as a slow EC2 would). */
  holdTerminations = false;
  private server: Server | undefined;
  private next = 1;

  constructor(readonly healthPort: number) {}

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const params = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
        void this.answer(params).then(({ status, body }) => {
          response.writeHead(status, { "content-type": "text/xml" });
          response.end(body);
        });
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async close(): Promise<void> {
    await Promise.all([...this.instances.values()].map((instance) => this.stopServer(instance)));
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /** Ends instances held in shutting-down. */
  releaseTerminations(): void {
    this.holdTerminations = false;
    for (const instance of this.instances.values()) {
      if (instance.state === "shutting-down") instance.state = "terminated";
    }
  }

  /** Kills an instance's service as if its process died: EC2 still says running. */
  async killService(id: string): Promise<void> {
    const instance = this.instances.get(id);
    if (instance !== undefined) await this.stopServer(instance);
  }

  private stopServer(instance: FakeInstance): Promise<void> {
    const server = instance.server;
    instance.server = undefined;
    if (server === undefined) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  private list(params: URLSearchParams, prefix: string): string[] {
    return [...params.entries()]
      .filter(([key]) => new RegExp(`^${prefix}\\.\\d+$`).test(key))
      .map(([, v]) => v);
  }

  private instanceXml(instance: FakeInstance): string {
    const code = { pending: 0, running: 16, "shutting-down": 32, terminated: 48 }[instance.state] ?? 16;
    return (
      `<item><instanceId>${instance.id}</instanceId><instanceType>t3.micro</instanceType>` +
      `<placement><availabilityZone>us-east-1b</availabilityZone></placement>` +
      `<privateIpAddress>${instance.ip}</privateIpAddress>` +
      `<instanceState><code>${code}</code><name>${instance.state}</name></instanceState></item>`
    );
  }

  private error(code: string): { status: number; body: string } {
    return {
      status: 400,
      body: `<Response><Errors><Error><Code>${code}</Code><Message>${code}</Message></Error></Errors><RequestID>r</RequestID></Response>`,
    };
  }

  private async answer(params: URLSearchParams): Promise<{ status: number; body: string }> {
    const action = params.get("Action");
    const ok = (inner: string) => ({ status: 200, body: `<${action}Response>${inner}</${action}Response>` });
    switch (action) {
      case "DescribeLaunchTemplates": {
        const ids = this.list(params, "LaunchTemplateId");
        const names = this.list(params, "LaunchTemplateName");
        const found = [...this.templates].filter(([id, t]) => ids.includes(id) || names.includes(t.name));
        if (found.length === 0) return this.error("InvalidLaunchTemplateId.NotFound");
        return ok(
          `<launchTemplates>${found
            .map(
              ([id, t]) =>
                `<item><launchTemplateId>${id}</launchTemplateId><launchTemplateName>${t.name}</launchTemplateName>` +
                `<defaultVersionNumber>${t.default}</defaultVersionNumber><latestVersionNumber>${t.latest}</latestVersionNumber></item>`,
            )
            .join("")}</launchTemplates>`,
        );
      }
      case "RunInstances": {
        this.runRequests.push(params);
        const count = Number(params.get("MinCount") ?? "1");
        const tags: Record<string, string> = {};
        for (let n = 1; params.has(`TagSpecification.1.Tag.${n}.Key`); n += 1) {
          tags[params.get(`TagSpecification.1.Tag.${n}.Key`) ?? ""] =
            params.get(`TagSpecification.1.Tag.${n}.Value`) ?? "";
        }
        const launched: FakeInstance[] = [];
        for (let index = 0; index < count; index += 1) {
          const n = this.next++;
          const instance: FakeInstance = {
            id: `i-${n.toString(16).padStart(17, "0")}`,
            ip: `127.0.1.${n}`,
            state: "running",
            templateId: params.get("LaunchTemplate.LaunchTemplateId") ?? "",
            version: params.get("LaunchTemplate.Version") ?? "",
            tags,
            server: undefined,
          };
          const bad = this.badVersions.has(instance.version);
          const server = createServer((_request, response) => {
            response.writeHead(bad ? 500 : 200);
            response.end(bad ? "broken" : `version ${instance.version}`);
          });
          await new Promise<void>((resolve) => server.listen(this.healthPort, instance.ip, resolve));
          instance.server = server;
          this.instances.set(instance.id, instance);
          launched.push(instance);
        }
        return ok(
          `<reservationId>r-1</reservationId><instancesSet>${launched.map((i) => this.instanceXml(i)).join("")}</instancesSet>`,
        );
      }
      case "DescribeInstances": {
        const ids = this.list(params, "InstanceId");
        const found = ids.map((id) => this.instances.get(id));
        if (found.some((instance) => instance === undefined)) return this.error("InvalidInstanceID.NotFound");
        return ok(
          `<reservationSet><item><reservationId>r-1</reservationId><instancesSet>${found
            .map((instance) => (instance === undefined ? "" : this.instanceXml(instance)))
            .join("")}</instancesSet></item></reservationSet>`,
        );
      }
      case "DescribeInstanceStatus": {
        const ids = this.list(params, "InstanceId");
        return ok(
          `<instanceStatusSet>${ids
            .map((id) => this.instances.get(id))
            .map((instance) =>
              instance === undefined
                ? ""
                : `<item><instanceId>${instance.id}</instanceId><instanceState><name>${instance.state}</name></instanceState>` +
                  `<instanceStatus><status>${instance.server === undefined ? "impaired" : "ok"}</status></instanceStatus>` +
                  `<systemStatus><status>ok</status></systemStatus></item>`,
            )
            .join("")}</instanceStatusSet>`,
        );
      }
      case "TerminateInstances": {
        const ids = this.list(params, "InstanceId");
        for (const id of ids) {
          const instance = this.instances.get(id);
          if (instance === undefined) continue;
          await this.stopServer(instance);
          instance.state = this.holdTerminations ? "shutting-down" : "terminated";
        }
        return ok(
          `<instancesSet>${ids.map((id) => `<item><instanceId>${id}</instanceId></item>`).join("")}</instancesSet>`,
        );
      }
      default:
        return this.error("InvalidAction");
    }
  }
}

// ---------------------------------------------------------------------------------------------

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls `check` until it stops throwing; its last error is the failure. */
async function eventually<T>(check: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function rejection(
  promise: Promise<unknown>,
): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-error: ${String(error)}`);
  }
  throw new Error("expected the call to fail, it succeeded");
}

let stateDir: string;
let ec2: FakeEc2;
let ec2Url: string;
let faults: FaultInjector;
let emulator: AutoScalingEmulator;
let client: AutoScalingClientType;
const logs: string[] = [];

async function startEmulator(): Promise<void> {
  emulator = await startAutoScalingEmulator({
    stateDir,
    ec2Endpoint: ec2Url,
    timescale: Timescale.instant(),
    faults,
    log: (line) => logs.push(line),
    reconcileIntervalMs: 100,
    startupAllowanceMs: 1500,
  });
  client = new AutoScalingClient({
    endpoint: emulator.url,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
  });
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "kiln-autoscaling-contract-"));
  ec2 = new FakeEc2(await freePort());
  ec2Url = await ec2.start();
  faults = new FaultInjector();
  await startEmulator();
});

afterAll(async () => {
  if (process.env.KILN_TEST_LOG) await writeFile(process.env.KILN_TEST_LOG, logs.join("\n"));
  client?.destroy();
  await emulator?.close();
  await ec2?.close();
  await rm(stateDir, { recursive: true, force: true });
});

function groupInput(
  name: string,
  overrides: Partial<CreateAutoScalingGroupCommandInput> = {},
): CreateAutoScalingGroupCommandInput {
  return {
    AutoScalingGroupName: name,
    LaunchTemplate: { LaunchTemplateId: "lt-0web", Version: "1" },
    MinSize: 0,
    MaxSize: 4,
    DesiredCapacity: 0,
    Tags: [{ Key: "kiln:health-port", Value: String(ec2.healthPort), PropagateAtLaunch: false }],
    ...overrides,
  };
}

async function describeGroup(name: string) {
  const { AutoScalingGroups } = await client.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  const group = AutoScalingGroups?.[0];
  if (group === undefined) throw new Error(`group ${name} not found`);
  return group;
}

async function describeRefresh(group: string, id: string): Promise<InstanceRefresh> {
  const { InstanceRefreshes } = await client.send(
    new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: group, InstanceRefreshIds: [id] }),
  );
  const refresh = InstanceRefreshes?.[0];
  if (refresh === undefined) throw new Error(`refresh ${id} not found`);
  return refresh;
}

async function refreshEnded(group: string, id: string): Promise<InstanceRefresh> {
  return eventually(async () => {
    const refresh = await describeRefresh(group, id);
    expect(["Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed"]).toContain(
      refresh.Status,
    );
    return refresh;
  }, 40_000);
}

/** Waits until the group has `count` instances, all InService and Healthy, and returns it. */
async function groupServing(name: string, count: number) {
  return eventually(async () => {
    const group = await describeGroup(name);
    expect(group.Instances).toHaveLength(count);
    for (const instance of group.Instances ?? []) {
      expect(instance).toMatchObject({ LifecycleState: "InService", HealthStatus: "Healthy" });
    }
    return group;
  });
}

describe("CreateAutoScalingGroup and DescribeAutoScalingGroups", () => {
  it("reads back every field of a created group", async () => {
    await client.send(
      new CreateAutoScalingGroupCommand(
        groupInput("fields", {
          LaunchTemplate: { LaunchTemplateName: "web", Version: "2" },
          MinSize: 0,
          MaxSize: 3,
          DesiredCapacity: 0,
          VPCZoneIdentifier: "subnet-1,subnet-2",
          HealthCheckType: "ELB",
          HealthCheckGracePeriod: 45,
          DefaultInstanceWarmup: 30,
          Tags: [
            { Key: "kiln:service", Value: "web", PropagateAtLaunch: true },
            { Key: "team", Value: "core", PropagateAtLaunch: false },
          ],
        }),
      ),
    );

    const group = await describeGroup("fields");

    expect(group).toMatchObject({
      AutoScalingGroupName: "fields",
      LaunchTemplate: { LaunchTemplateId: "lt-0web", LaunchTemplateName: "web", Version: "2" },
      MinSize: 0,
      MaxSize: 3,
      DesiredCapacity: 0,
      VPCZoneIdentifier: "subnet-1,subnet-2",
      HealthCheckType: "ELB",
      HealthCheckGracePeriod: 45,
      DefaultInstanceWarmup: 30,
      Instances: [],
      AvailabilityZones: ["us-east-1a"],
    });
    expect(group.AutoScalingGroupARN).toMatch(
      /^arn:aws:autoscaling:us-east-1:\d{12}:autoScalingGroup:.+:autoScalingGroupName\/fields$/,
    );
    expect(group.CreatedTime).toBeInstanceOf(Date);
    expect(group.Tags).toEqual([
      {
        ResourceId: "fields",
        ResourceType: "auto-scaling-group",
        Key: "kiln:service",
        Value: "web",
        PropagateAtLaunch: true,
      },
      {
        ResourceId: "fields",
        ResourceType: "auto-scaling-group",
        Key: "team",
        Value: "core",
        PropagateAtLaunch: false,
      },
    ]);
  });

  it("rejects a second group of the same name with AlreadyExistsFault", async () => {
    await client.send(new CreateAutoScalingGroupCommand(groupInput("duplicate")));

    const error = await rejection(client.send(new CreateAutoScalingGroupCommand(groupInput("duplicate"))));

    expect(error.name).toBe("AlreadyExistsFault");
  });

  it("rejects an unknown launch template and sizes out of order with ValidationError", async () => {
    const unknown = await rejection(
      client.send(
        new CreateAutoScalingGroupCommand(
          groupInput("bad-template", { LaunchTemplate: { LaunchTemplateId: "lt-0none" } }),
        ),
      ),
    );
    const sizes = await rejection(
      client.send(new CreateAutoScalingGroupCommand(groupInput("bad-sizes", { MinSize: 2, MaxSize: 1 }))),
    );

    expect(unknown.name).toBe("ValidationError");
    expect(sizes.name).toBe("ValidationError");
    expect(sizes.$metadata?.httpStatusCode).toBe(400);
  });

  it("pages with MaxRecords and NextToken and filters by tag", async () => {
    for (const [name, team] of [
      ["page-a", "red"],
      ["page-b", "blue"],
      ["page-c", "red"],
    ]) {
      await client.send(
        new CreateAutoScalingGroupCommand(
          groupInput(name ?? "", { Tags: [{ Key: "paging-team", Value: team, PropagateAtLaunch: false }] }),
        ),
      );
    }
    const filters = [{ Name: "tag-key", Values: ["paging-team"] }];

    const first = await client.send(
      new DescribeAutoScalingGroupsCommand({ Filters: filters, MaxRecords: 2 }),
    );
    const second = await client.send(
      new DescribeAutoScalingGroupsCommand({ Filters: filters, MaxRecords: 2, NextToken: first.NextToken }),
    );
    const red = await client.send(
      new DescribeAutoScalingGroupsCommand({ Filters: [{ Name: "tag:paging-team", Values: ["red"] }] }),
    );
    const badToken = await rejection(
      client.send(new DescribeAutoScalingGroupsCommand({ NextToken: "nonsense" })),
    );

    expect(first.AutoScalingGroups?.map((g) => g.AutoScalingGroupName)).toEqual(["page-a", "page-b"]);
    expect(first.NextToken).toEqual(expect.any(String));
    expect(second.AutoScalingGroups?.map((g) => g.AutoScalingGroupName)).toEqual(["page-c"]);
    expect(second.NextToken).toBeUndefined();
    expect(red.AutoScalingGroups?.map((g) => g.AutoScalingGroupName)).toEqual(["page-a", "page-c"]);
    expect(badToken.name).toBe("InvalidNextToken");
  });
});

describe("capacity and health", () => {
  beforeAll(async () => {
    await client.send(
      new CreateAutoScalingGroupCommand(
        groupInput("fleet", {
          LaunchTemplate: { LaunchTemplateId: "lt-0web", Version: "$Latest" },
          MinSize: 1,
          DesiredCapacity: 2,
          Tags: [
            { Key: "kiln:health-port", Value: String(ec2.healthPort), PropagateAtLaunch: false },
            { Key: "kiln:service", Value: "web", PropagateAtLaunch: true },
          ],
        }),
      ),
    );
  });

  it("launches DesiredCapacity instances from the resolved template version, tagged as the group's", async () => {
    const group = await groupServing("fleet", 2);

    for (const instance of group.Instances ?? []) {
      expect(instance).toMatchObject({
        InstanceId: expect.stringMatching(/^i-/),
        AvailabilityZone: "us-east-1b",
        InstanceType: "t3.micro",
        LaunchTemplate: { LaunchTemplateId: "lt-0web", LaunchTemplateName: "web", Version: "3" },
      });
    }
    expect(group.LaunchTemplate?.Version).toBe("$Latest");
    const launch = ec2.runRequests.find(
      (request) => request.get("TagSpecification.1.Tag.1.Value") === "fleet",
    );
    expect(launch?.get("LaunchTemplate.LaunchTemplateId")).toBe("lt-0web");
    expect(launch?.get("LaunchTemplate.Version")).toBe("3");
    const instance = ec2.instances.get(group.Instances?.[0]?.InstanceId ?? "");
    expect(instance?.tags).toEqual({ "aws:autoscaling:groupName": "fleet", "kiln:service": "web" });
  });

  it("describes the group's instances with DescribeAutoScalingInstances, page by page", async () => {
    const group = await groupServing("fleet", 2);
    const ids = (group.Instances ?? []).map((instance) => instance.InstanceId ?? "");

    const first = await client.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: ids, MaxRecords: 1 }),
    );
    const second = await client.send(
      new DescribeAutoScalingInstancesCommand({
        InstanceIds: ids,
        MaxRecords: 1,
        NextToken: first.NextToken,
      }),
    );

    const seen = [...(first.AutoScalingInstances ?? []), ...(second.AutoScalingInstances ?? [])];
    expect(seen.map((instance) => instance.InstanceId).sort()).toEqual([...ids].sort());
    expect(seen[0]).toMatchObject({
      AutoScalingGroupName: "fleet",
      LifecycleState: "InService",
      HealthStatus: "HEALTHY",
      AvailabilityZone: "us-east-1b",
      InstanceType: "t3.micro",
      LaunchTemplate: { LaunchTemplateId: "lt-0web", Version: "3" },
    });
  });

  it("records each launch as a scaling activity", async () => {
    await groupServing("fleet", 2);

    const { Activities } = await client.send(
      new DescribeScalingActivitiesCommand({ AutoScalingGroupName: "fleet" }),
    );

    const launches = (Activities ?? []).filter((activity) =>
      activity.Description?.startsWith("Launching a new EC2 instance: i-"),
    );
    expect(launches).toHaveLength(2);
    expect(launches[0]).toMatchObject({
      ActivityId: expect.any(String),
      AutoScalingGroupName: "fleet",
      StatusCode: "Successful",
      Progress: 100,
      Cause: expect.stringContaining("increasing the capacity from 0 to 2"),
    });
    expect(launches[0]?.StartTime).toBeInstanceOf(Date);
  });

  it("replaces an instance whose service died", async () => {
    const before = await groupServing("fleet", 2);
    const victim = before.Instances?.[0]?.InstanceId ?? "";

    await ec2.killService(victim);

    const after = await eventually(async () => {
      const group = await groupServing("fleet", 2);
      expect(group.Instances?.map((instance) => instance.InstanceId)).not.toContain(victim);
      return group;
    });
    expect(after.Instances).toHaveLength(2);
    expect(ec2.instances.get(victim)?.state).toBe("terminated");
  });

  it("terminates an instance on request, decrementing the desired capacity, and answers with the activity", async () => {
    const group = await groupServing("fleet", 2);
    const victim = group.Instances?.[0]?.InstanceId ?? "";

    const { Activity } = await client.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: victim,
        ShouldDecrementDesiredCapacity: true,
      }),
    );
    const belowMin = await rejection(
      client.send(
        new TerminateInstanceInAutoScalingGroupCommand({
          InstanceId: group.Instances?.[1]?.InstanceId,
          ShouldDecrementDesiredCapacity: true,
        }),
      ),
    );

    expect(Activity).toMatchObject({
      Description: `Terminating EC2 instance: ${victim}`,
      StatusCode: "Successful",
    });
    expect(belowMin.name).toBe("ValidationError");
    const after = await groupServing("fleet", 1);
    expect(after.DesiredCapacity).toBe(1);
  });

  it("follows SetDesiredCapacity and UpdateAutoScalingGroup, refusing values outside the bounds", async () => {
    const aboveMax = await rejection(
      client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: "fleet", DesiredCapacity: 9 })),
    );

    await client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: "fleet", DesiredCapacity: 3 }));
    await groupServing("fleet", 3);
    await client.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: "fleet",
        MinSize: 0,
        MaxSize: 1,
        LaunchTemplate: { LaunchTemplateId: "lt-0web", Version: "2" },
      }),
    );

    expect(aboveMax.name).toBe("ValidationError");
    const group = await groupServing("fleet", 1);
    expect(group).toMatchObject({
      MinSize: 0,
      MaxSize: 1,
      DesiredCapacity: 1,
      LaunchTemplate: { LaunchTemplateId: "lt-0web", Version: "2" },
    });
    const { Activities } = await client.send(
      new DescribeScalingActivitiesCommand({ AutoScalingGroupName: "fleet", MaxRecords: 2 }),
    );
    expect(Activities?.[0]?.Cause).toContain("shrinking the capacity from 3 to 1");
  });
});

describe("instance refresh", () => {
  it("replaces every instance with the desired version and leaves the group on that exact version", async () => {
    await client.send(new CreateAutoScalingGroupCommand(groupInput("roll", { DesiredCapacity: 3 })));
    await groupServing("roll", 3);

    const { InstanceRefreshId } = await client.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "roll",
        Strategy: "Rolling",
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: "lt-0web", Version: "2" } },
        Preferences: { MinHealthyPercentage: 66, InstanceWarmup: 5, SkipMatching: true, AutoRollback: true },
      }),
    );
    const refresh = await refreshEnded("roll", InstanceRefreshId ?? "");

    expect(refresh).toMatchObject({
      InstanceRefreshId,
      AutoScalingGroupName: "roll",
      Status: "Successful",
      PercentageComplete: 100,
      InstancesToUpdate: 0,
      ProgressDetails: { LivePoolProgress: { PercentageComplete: 100, InstancesToUpdate: 0 } },
      Strategy: "Rolling",
      Preferences: {
        MinHealthyPercentage: 66,
        MaxHealthyPercentage: 100,
        InstanceWarmup: 5,
        SkipMatching: true,
        AutoRollback: true,
      },
      DesiredConfiguration: {
        LaunchTemplate: { LaunchTemplateId: "lt-0web", LaunchTemplateName: "web", Version: "2" },
      },
    });
    expect(refresh.StartTime).toBeInstanceOf(Date);
    expect(refresh.EndTime).toBeInstanceOf(Date);
    const group = await groupServing("roll", 3);
    expect(group.LaunchTemplate).toEqual({
      LaunchTemplateId: "lt-0web",
      LaunchTemplateName: "web",
      Version: "2",
    });
    expect(group.Instances?.map((instance) => instance.LaunchTemplate?.Version)).toEqual(["2", "2", "2"]);
  });

  it("answers InstanceRefreshInProgressFault while a refresh runs, and ActiveInstanceRefreshNotFoundFault when none does", async () => {
    await client.send(new CreateAutoScalingGroupCommand(groupInput("busy", { DesiredCapacity: 1 })));
    await groupServing("busy", 1);
    ec2.badVersions.add("3");
    const { InstanceRefreshId } = await client.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "busy",
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: "lt-0web", Version: "3" } },
      }),
    );

    const second = await rejection(
      client.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: "busy" })),
    );
    const cancelled = await client.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: "busy" }));
    const ended = await refreshEnded("busy", InstanceRefreshId ?? "");
    const cancelAgain = await rejection(
      client.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: "busy" })),
    );
    const rollbackNone = await rejection(
      client.send(new RollbackInstanceRefreshCommand({ AutoScalingGroupName: "busy" })),
    );

    expect(second.name).toBe("InstanceRefreshInProgressFault");
    expect(cancelled.InstanceRefreshId).toBe(InstanceRefreshId);
    expect(ended.Status).toBe("Cancelled");
    expect(cancelAgain.name).toBe("ActiveInstanceRefreshNotFoundFault");
    expect(rollbackNone.name).toBe("ActiveInstanceRefreshNotFoundFault");
  });

  it("fails a refresh whose replacements never pass their health check, naming the instance", async () => {
    await client.send(new CreateAutoScalingGroupCommand(groupInput("no-rollback", { DesiredCapacity: 2 })));
    await groupServing("no-rollback", 2);
    ec2.badVersions.add("3");

    const { InstanceRefreshId } = await client.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "no-rollback",
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: "lt-0web", Version: "3" } },
        Preferences: { MinHealthyPercentage: 50 },
      }),
    );
    const refresh = await refreshEnded("no-rollback", InstanceRefreshId ?? "");

    expect(refresh.Status).toBe("Failed");
    expect(refresh.StatusReason).toMatch(
      /Instance i-[0-9a-f]+ (failed its health check|did not become healthy).*HTTP 500/,
    );
    expect(refresh.RollbackDetails).toBeUndefined();
    const group = await describeGroup("no-rollback");
    expect(group.LaunchTemplate?.Version).toBe("1");
  });

  it("rolls a failed refresh back to the previous version when AutoRollback is set", async () => {
    await client.send(new CreateAutoScalingGroupCommand(groupInput("auto-rollback", { DesiredCapacity: 2 })));
    await groupServing("auto-rollback", 2);
    ec2.badVersions.add("3");

    const { InstanceRefreshId } = await client.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "auto-rollback",
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: "lt-0web", Version: "3" } },
        Preferences: { MinHealthyPercentage: 50, AutoRollback: true, SkipMatching: true },
      }),
    );
    const refresh = await refreshEnded("auto-rollback", InstanceRefreshId ?? "");

    expect(refresh.Status).toBe("RollbackSuccessful");
    expect(refresh.RollbackDetails).toMatchObject({
      RollbackReason: expect.stringMatching(/Instance i-[0-9a-f]+/),
      PercentageCompleteOnRollback: 0,
      InstancesToUpdateOnRollback: 2,
    });
    expect(refresh.RollbackDetails?.RollbackStartTime).toBeInstanceOf(Date);
    const group = await groupServing("auto-rollback", 2);
    expect(group.LaunchTemplate?.Version).toBe("1");
    expect(group.Instances?.map((instance) => instance.LaunchTemplate?.Version)).toEqual(["1", "1"]);
  });

  it("rolls back on request with RollbackInstanceRefresh", async () => {
    await client.send(
      new CreateAutoScalingGroupCommand(groupInput("manual-rollback", { DesiredCapacity: 1 })),
    );
    await groupServing("manual-rollback", 1);
    ec2.badVersions.add("3");
    const { InstanceRefreshId } = await client.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "manual-rollback",
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: "lt-0web", Version: "3" } },
      }),
    );
    // Once the refresh has launched its replacement, rolling back must replace that one too.
    await eventually(async () => {
      const group = await describeGroup("manual-rollback");
      expect(group.Instances?.some((instance) => instance.LaunchTemplate?.Version === "3")).toBe(true);
    });

    const rolledBack = await client.send(
      new RollbackInstanceRefreshCommand({ AutoScalingGroupName: "manual-rollback" }),
    );
    const refresh = await refreshEnded("manual-rollback", InstanceRefreshId ?? "");

    expect(rolledBack.InstanceRefreshId).toBe(InstanceRefreshId);
    expect(refresh.Status).toBe("RollbackSuccessful");
    expect(refresh.RollbackDetails?.RollbackReason).toContain("RollbackInstanceRefresh");
    expect(refresh.RollbackDetails?.InstancesToUpdateOnRollback).toBe(1);
    const group = await groupServing("manual-rollback", 1);
    expect(group.Instances?.[0]?.LaunchTemplate?.Version).toBe("1");
    const updated = [...ec2.instances.values()].filter(
      (instance) =>
        instance.tags["aws:autoscaling:groupName"] === "manual-rollback" && instance.version === "3",
    );
    expect(updated.length).toBeGreaterThan(0);
    expect(updated.map((instance) => instance.state)).toEqual(updated.map(() => "terminated"));
  });

  it("rejects rollback without a desired configuration or from $Latest, as AWS does", async () => {
    await client.send(
      new CreateAutoScalingGroupCommand(
        groupInput("latest", { LaunchTemplate: { LaunchTemplateId: "lt-0web", Version: "$Latest" } }),
      ),
    );

    const autoWithoutDesired = await rejection(
      client.send(
        new StartInstanceRefreshCommand({
          AutoScalingGroupName: "latest",
          Preferences: { AutoRollback: true },
        }),
      ),
    );
    const autoFromLatest = await rejection(
      client.send(
        new StartInstanceRefreshCommand({
          AutoScalingGroupName: "latest",
          DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: "lt-0web", Version: "2" } },
          Preferences: { AutoRollback: true },
        }),
      ),
    );
    await client.send(new CreateAutoScalingGroupCommand(groupInput("irreversible", { DesiredCapacity: 1 })));
    await groupServing("irreversible", 1);
    // A refresh without a desired configuration replaces every instance (SkipMatching off).
    ec2.badVersions.add("1");
    await client.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: "irreversible" }));
    const rollback = await rejection(
      client.send(new RollbackInstanceRefreshCommand({ AutoScalingGroupName: "irreversible" })),
    );
    ec2.badVersions.delete("1");
    await client.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: "irreversible" }));

    expect(autoWithoutDesired.name).toBe("ValidationError");
    expect(autoFromLatest.name).toBe("ValidationError");
    expect(autoFromLatest.message).toContain("$Latest");
    expect(rollback.name).toBe("IrreversibleInstanceRefreshFault");
  });

  it("fails the refresh when a fault is injected for autoscaling:refresh", async () => {
    await client.send(new CreateAutoScalingGroupCommand(groupInput("faulty", { DesiredCapacity: 1 })));
    await groupServing("faulty", 1);
    faults.add({
      operation: "autoscaling:refresh",
      kind: "fail",
      match: "faulty",
      message: "refresh broke on purpose",
      times: 1,
    });

    const { InstanceRefreshId } = await client.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "faulty",
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: "lt-0web", Version: "2" } },
      }),
    );
    const refresh = await refreshEnded("faulty", InstanceRefreshId ?? "");

    expect(refresh).toMatchObject({ Status: "Failed", StatusReason: "refresh broke on purpose" });
  });

  it("lists a group's refreshes newest first, page by page", async () => {
    await client.send(new CreateAutoScalingGroupCommand(groupInput("history")));
    const ids: string[] = [];
    for (const version of ["2", "3"]) {
      const { InstanceRefreshId } = await client.send(
        new StartInstanceRefreshCommand({
          AutoScalingGroupName: "history",
          DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: "lt-0web", Version: version } },
        }),
      );
      await refreshEnded("history", InstanceRefreshId ?? "");
      ids.push(InstanceRefreshId ?? "");
    }

    const first = await client.send(
      new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: "history", MaxRecords: 1 }),
    );
    const second = await client.send(
      new DescribeInstanceRefreshesCommand({
        AutoScalingGroupName: "history",
        MaxRecords: 1,
        NextToken: first.NextToken,
      }),
    );

    expect(first.InstanceRefreshes?.map((refresh) => refresh.InstanceRefreshId)).toEqual([ids[1]]);
    expect(second.InstanceRefreshes?.map((refresh) => refresh.InstanceRefreshId)).toEqual([ids[0]]);
    expect(second.NextToken).toBeUndefined();
    expect((await describeGroup("history")).LaunchTemplate?.Version).toBe("3");
  });
});

describe("faults and deletion", () => {
  it("renders an injected throttle as Throttling and an injected failure as its code", async () => {
    faults.add({ operation: "autoscaling:DescribeAutoScalingGroups", kind: "throttle", times: 1 });
    faults.add({
      operation: "autoscaling:SetDesiredCapacity",
      kind: "fail",
      code: "ResourceContention",
      match: "fields",
      times: 1,
    });

    const throttled = await rejection(client.send(new DescribeAutoScalingGroupsCommand({})));
    const failed = await rejection(
      client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: "fields", DesiredCapacity: 0 })),
    );

    expect(throttled.name).toBe("Throttling");
    expect(throttled.$metadata?.httpStatusCode).toBe(400);
    expect(failed.name).toBe("ResourceContentionFault");
  });

  it("refuses to delete a group with instances unless forced, then shows it deleting until EC2 has ended them", async () => {
    await client.send(new CreateAutoScalingGroupCommand(groupInput("doomed", { DesiredCapacity: 1 })));
    await groupServing("doomed", 1);

    const refused = await rejection(
      client.send(new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: "doomed" })),
    );
    ec2.holdTerminations = true;
    await client.send(
      new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: "doomed", ForceDelete: true }),
    );
    const deleting = await describeGroup("doomed");
    ec2.releaseTerminations();
    const gone = await eventually(async () => {
      const { AutoScalingGroups } = await client.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["doomed"] }),
      );
      expect(AutoScalingGroups).toEqual([]);
      return AutoScalingGroups;
    });
    const missing = await rejection(
      client.send(new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: "doomed" })),
    );

    expect(refused.name).toBe("ResourceInUseFault");
    expect(deleting.Status).toBe("Delete in progress");
    expect(deleting.Instances?.[0]?.LifecycleState).toBe("Terminating");
    expect(gone).toEqual([]);
    expect(missing.name).toBe("ValidationError");
  });
});

describe("persistence", () => {
  it("keeps groups across a restart and resumes a refresh that was in progress", async () => {
    await client.send(new CreateAutoScalingGroupCommand(groupInput("durable", { DesiredCapacity: 3 })));
    await groupServing("durable", 3);
    const { InstanceRefreshId } = await client.send(
      new StartInstanceRefreshCommand({
        AutoScalingGroupName: "durable",
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: "lt-0web", Version: "2" } },
        Preferences: { MinHealthyPercentage: 100, SkipMatching: true },
      }),
    );

    await emulator.close();
    client.destroy();
    const saved = JSON.parse(await readFile(join(stateDir, "autoscaling", "state.json"), "utf8"));
    await startEmulator();
    const refresh = await refreshEnded("durable", InstanceRefreshId ?? "");

    expect(saved.refreshes.find((r: { id: string }) => r.id === InstanceRefreshId)?.status).toBe(
      "InProgress",
    );
    expect(refresh.Status).toBe("Successful");
    const group = await groupServing("durable", 3);
    expect(group.LaunchTemplate?.Version).toBe("2");
    expect(group.Instances?.map((instance) => instance.LaunchTemplate?.Version)).toEqual(["2", "2", "2"]);
  });
});

describe("the AWS CLI", () => {
  it("lists groups with describe-auto-scaling-groups", async () => {
    const { stdout } = await run(
      "aws",
      [
        "autoscaling",
        "describe-auto-scaling-groups",
        "--auto-scaling-group-names",
        "fields",
        "--endpoint-url",
        emulator.url,
        "--output",
        "json",
      ],
      {
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: "test",
          AWS_SECRET_ACCESS_KEY: "test",
          AWS_DEFAULT_REGION: "us-east-1",
          AWS_CONFIG_FILE: "/dev/null",
          AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
        },
      },
    );

    const parsed: unknown = JSON.parse(stdout);
    expect(parsed).toMatchObject({
      AutoScalingGroups: [
        {
          AutoScalingGroupName: "fields",
          LaunchTemplate: { LaunchTemplateId: "lt-0web", LaunchTemplateName: "web", Version: "2" },
          MaxSize: 3,
          Tags: expect.arrayContaining([expect.objectContaining({ Key: "kiln:service", Value: "web" })]),
        },
      ],
    });
  });
});
