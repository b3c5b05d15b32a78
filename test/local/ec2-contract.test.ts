/**
 * The local EC2 answers every action Kiln uses in the shapes the real SDK reads: each test reads
 * fields back through `EC2Client`, which silently drops anything shaped wrong.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateImageCommand,
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  CreateTagsCommand,
  DeleteLaunchTemplateCommand,
  DeleteSnapshotCommand,
  DeleteTagsCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeSnapshotsCommand,
  type DescribeSnapshotsCommandOutput,
  DescribeTagsCommand,
  DescribeVolumesCommand,
  EC2Client,
  GetConsoleOutputCommand,
  type Instance,
  ModifyLaunchTemplateCommand,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Ec2Emulator, startEc2Emulator } from "../../local/ec2/server.ts";
import { FaultInjector } from "../../local/faults.ts";
import { Timescale } from "../../local/timescale.ts";

const credentials = { accessKeyId: "AKIDLOCAL", secretAccessKey: "local-secret" };
/** Background work (boot, stop grace, snapshot) on a busy machine can take seconds. */
const eventually = { timeout: 30_000, interval: 25 };

let stateDir: string;
let emulator: Ec2Emulator;
let faults: FaultInjector;
let ec2: EC2Client;
let baseImage: string;

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "kiln-ec2-contract-"));
  faults = new FaultInjector();
  emulator = await startEc2Emulator({ stateDir, timescale: Timescale.instant(), faults });
  ec2 = new EC2Client({ endpoint: emulator.url, region: "us-east-1", credentials, maxAttempts: 1 });
  baseImage = await emulator.ensureBaseImage();
});

afterAll(async () => {
  await emulator?.close();
  await rm(stateDir, { recursive: true, force: true });
});

const ID = {
  instance: /^i-0[0-9a-f]{16}$/,
  image: /^ami-0[0-9a-f]{16}$/,
  snapshot: /^snap-0[0-9a-f]{16}$/,
  template: /^lt-0[0-9a-f]{16}$/,
  reservation: /^r-0[0-9a-f]{16}$/,
  volume: /^vol-0[0-9a-f]{16}$/,
};

/** Waits for background work (boot, stop, snapshot) to reach a state; hooks cannot use expect.poll. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`gave up waiting for ${what} (last seen: ${JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function untilState(instanceId: string, state: string): Promise<void> {
  await until(
    () => stateOf(instanceId),
    (current) => current === state,
    `${instanceId} to be ${state}`,
  );
}

function base64(text: string): string {
  return Buffer.from(text).toString("base64");
}

async function launch(input: Partial<RunInstancesCommandInput> = {}): Promise<Instance[]> {
  const reservation = await ec2.send(
    new RunInstancesCommand({
      ImageId: baseImage,
      InstanceType: "t3.micro",
      MinCount: 1,
      MaxCount: 1,
      ...input,
    }),
  );
  return reservation.Instances ?? [];
}

async function launchOne(input: Partial<RunInstancesCommandInput> = {}): Promise<string> {
  const [instance] = await launch(input);
  if (instance?.InstanceId === undefined) throw new Error("RunInstances returned no instance");
  return instance.InstanceId;
}

async function describeInstance(instanceId: string): Promise<Instance> {
  const result = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const instance = result.Reservations?.[0]?.Instances?.[0];
  if (instance === undefined) throw new Error(`${instanceId} is not described`);
  return instance;
}

async function stateOf(instanceId: string): Promise<string | undefined> {
  return (await describeInstance(instanceId)).State?.Name;
}

async function imageState(imageId: string): Promise<string | undefined> {
  const result = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
  return result.Images?.[0]?.State;
}

async function runningInstance(input: Partial<RunInstancesCommandInput> = {}): Promise<string> {
  const instanceId = await launchOne(input);
  await untilState(instanceId, "running");
  return instanceId;
}

async function availableImage(
  instanceId: string,
  name: string,
  tags: Array<{ Key: string; Value: string }> = [],
): Promise<string> {
  const { ImageId } = await ec2.send(
    new CreateImageCommand({
      InstanceId: instanceId,
      Name: name,
      NoReboot: true,
      TagSpecifications: tags.length === 0 ? undefined : [{ ResourceType: "image", Tags: tags }],
    }),
  );
  if (ImageId === undefined) throw new Error("CreateImage returned no image id");
  await until(
    () => imageState(ImageId),
    (state) => state === "available",
    `${name} to be available`,
  );
  return ImageId;
}

describe("RunInstances", () => {
  it("launches pending instances with the requested type, tags, metadata options, profile, groups and volumes", async () => {
    const reservation = await ec2.send(
      new RunInstancesCommand({
        ImageId: baseImage,
        InstanceType: "t3.small",
        MinCount: 2,
        MaxCount: 2,
        SubnetId: "subnet-0123456789abcdef0",
        SecurityGroupIds: ["sg-0123456789abcdef0"],
        IamInstanceProfile: { Name: "kiln-service" },
        MetadataOptions: { HttpTokens: "required", HttpEndpoint: "enabled", HttpPutResponseHopLimit: 2 },
        BlockDeviceMappings: [
          { DeviceName: "/dev/xvda", Ebs: { Encrypted: true, VolumeSize: 16, KmsKeyId: "alias/kiln" } },
        ],
        TagSpecifications: [
          {
            ResourceType: "instance",
            Tags: [
              { Key: "aws:autoscaling:groupName", Value: "web-asg" },
              { Key: "Name", Value: "web" },
            ],
          },
          { ResourceType: "volume", Tags: [{ Key: "kiln:volume", Value: "root" }] },
        ],
      }),
    );

    expect(reservation.ReservationId).toMatch(ID.reservation);
    expect(reservation.OwnerId).toBe("000000000000");
    const instances = reservation.Instances ?? [];
    expect(instances).toHaveLength(2);
    const addresses = instances.map((instance) => instance.PrivateIpAddress);
    expect(new Set(addresses).size).toBe(2);
    for (const [index, instance] of instances.entries()) {
      expect(instance.InstanceId).toMatch(ID.instance);
      expect(instance.State).toEqual({ Code: 0, Name: "pending" });
      expect(instance.ImageId).toBe(baseImage);
      expect(instance.InstanceType).toBe("t3.small");
      expect(instance.AmiLaunchIndex).toBe(index);
      expect(instance.PrivateIpAddress).toMatch(/^127\.\d+\.\d+\.\d+$/);
      expect(instance.PrivateIpAddress).not.toBe("127.0.0.1");
      expect(instance.LaunchTime).toBeInstanceOf(Date);
      expect(instance.SubnetId).toBe("subnet-0123456789abcdef0");
      expect(instance.SecurityGroups?.[0]?.GroupId).toBe("sg-0123456789abcdef0");
      expect(instance.IamInstanceProfile?.Arn).toBe(
        "arn:aws:iam::000000000000:instance-profile/kiln-service",
      );
      expect(instance.MetadataOptions).toMatchObject({
        HttpTokens: "required",
        HttpEndpoint: "enabled",
        HttpPutResponseHopLimit: 2,
      });
      expect(instance.Tags).toEqual(
        expect.arrayContaining([
          { Key: "aws:autoscaling:groupName", Value: "web-asg" },
          { Key: "Name", Value: "web" },
        ]),
      );
      expect(instance.BlockDeviceMappings?.[0]?.DeviceName).toBe("/dev/xvda");
      expect(instance.BlockDeviceMappings?.[0]?.Ebs?.VolumeId).toMatch(ID.volume);
    }

    const volumeId = instances[0]?.BlockDeviceMappings?.[0]?.Ebs?.VolumeId;
    const volumes = await ec2.send(
      new DescribeVolumesCommand({ VolumeIds: volumeId === undefined ? [] : [volumeId] }),
    );
    expect(volumes.Volumes?.[0]).toMatchObject({
      VolumeId: volumeId,
      Size: 16,
      Encrypted: true,
      KmsKeyId: "alias/kiln",
      State: "in-use",
      Tags: [{ Key: "kiln:volume", Value: "root" }],
    });
    expect(volumes.Volumes?.[0]?.Attachments?.[0]?.InstanceId).toBe(instances[0]?.InstanceId);
  });

  it("returns the same reservation for a repeated client token", async () => {
    const input = {
      ClientToken: "deploy-42-builder",
      TagSpecifications: [{ ResourceType: "instance" as const, Tags: [{ Key: "role", Value: "builder" }] }],
    };
    const first = await ec2.send(
      new RunInstancesCommand({
        ImageId: baseImage,
        InstanceType: "t3.micro",
        MinCount: 1,
        MaxCount: 1,
        ...input,
      }),
    );
    const second = await ec2.send(
      new RunInstancesCommand({
        ImageId: baseImage,
        InstanceType: "t3.micro",
        MinCount: 1,
        MaxCount: 1,
        ...input,
      }),
    );

    expect(second.ReservationId).toBe(first.ReservationId);
    expect(second.Instances?.map((instance) => instance.InstanceId)).toEqual(
      first.Instances?.map((instance) => instance.InstanceId),
    );
    expect(second.Instances?.[0]?.ClientToken).toBe("deploy-42-builder");
  });

  it("rejects a repeated client token with other parameters", async () => {
    await launch({ ClientToken: "deploy-43-builder" });

    await expect(
      launch({ ClientToken: "deploy-43-builder", InstanceType: "t3.large" }),
    ).rejects.toMatchObject({
      name: "IdempotentParameterMismatch",
    });
  });

  it("takes its launch parameters from a launch template version, explicit parameters overriding", async () => {
    const { LaunchTemplate } = await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: "run-from-template",
        LaunchTemplateData: {
          ImageId: baseImage,
          InstanceType: "t3.nano",
          IamInstanceProfile: { Arn: "arn:aws:iam::000000000000:instance-profile/from-template" },
          SecurityGroupIds: ["sg-0aaaaaaaaaaaaaaaa"],
          MetadataOptions: { HttpTokens: "required", HttpPutResponseHopLimit: 3 },
          InstanceInitiatedShutdownBehavior: "terminate",
          TagSpecifications: [
            {
              ResourceType: "instance",
              Tags: [
                { Key: "service", Value: "api" },
                { Key: "tier", Value: "template" },
              ],
            },
          ],
        },
      }),
    );

    const [instance] = await launch({
      ImageId: undefined,
      InstanceType: "t3.medium",
      LaunchTemplate: { LaunchTemplateName: "run-from-template", Version: "$Latest" },
      TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "tier", Value: "request" }] }],
    });

    expect(instance?.ImageId).toBe(baseImage);
    expect(instance?.InstanceType).toBe("t3.medium");
    expect(instance?.IamInstanceProfile?.Arn).toBe(
      "arn:aws:iam::000000000000:instance-profile/from-template",
    );
    expect(instance?.SecurityGroups?.map((group) => group.GroupId)).toEqual(["sg-0aaaaaaaaaaaaaaaa"]);
    expect(instance?.MetadataOptions).toMatchObject({ HttpTokens: "required", HttpPutResponseHopLimit: 3 });
    expect(instance?.Tags).toEqual(
      expect.arrayContaining([
        { Key: "service", Value: "api" },
        { Key: "tier", Value: "request" },
        { Key: "aws:ec2launchtemplate:id", Value: LaunchTemplate?.LaunchTemplateId },
        { Key: "aws:ec2launchtemplate:version", Value: "1" },
      ]),
    );
  });

  it("launches the default version when the template version is omitted", async () => {
    const { LaunchTemplate } = await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: "run-default-version",
        LaunchTemplateData: { ImageId: baseImage, InstanceType: "t3.nano" },
      }),
    );
    await ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: LaunchTemplate?.LaunchTemplateId,
        SourceVersion: "1",
        LaunchTemplateData: { InstanceType: "t3.large" },
      }),
    );

    const [instance] = await launch({
      ImageId: undefined,
      InstanceType: undefined,
      LaunchTemplate: { LaunchTemplateId: LaunchTemplate?.LaunchTemplateId },
    });

    expect(instance?.InstanceType).toBe("t3.nano");
  });

  it.each<[string, Partial<RunInstancesCommandInput>, string]>([
    ["an unknown image", { ImageId: "ami-0123456789abcdef0" }, "InvalidAMIID.NotFound"],
    ["a malformed image id", { ImageId: "ami-nope" }, "InvalidAMIID.Malformed"],
    ["no image at all", { ImageId: undefined }, "MissingParameter"],
    [
      "an instance type the emulator does not offer",
      { InstanceType: "p4d.24xlarge" },
      "InvalidParameterValue",
    ],
    ["user data that is not base64", { UserData: "not base64!" }, "InvalidParameterValue"],
    ["the DryRun flag", { DryRun: true }, "DryRunOperation"],
  ])("fails for %s", async (_case, input, code) => {
    await expect(launch(input)).rejects.toMatchObject({ name: code });
  });

  it("explains a dry run as AWS does", async () => {
    await expect(launch({ DryRun: true })).rejects.toThrow(
      "Request would have succeeded, but DryRun flag is set.",
    );
  });
});

describe("DescribeInstances", () => {
  let blue: Instance;
  let green: Instance;

  beforeAll(async () => {
    const [first] = await launch({
      TagSpecifications: [
        {
          ResourceType: "instance",
          Tags: [
            { Key: "colour", Value: "blue" },
            { Key: "only-blue", Value: "x" },
          ],
        },
      ],
    });
    const [second] = await launch({
      TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "colour", Value: "green" }] }],
    });
    if (first === undefined || second === undefined) throw new Error("launch failed");
    blue = first;
    green = second;
    await untilState(blue.InstanceId ?? "", "running");
    await untilState(green.InstanceId ?? "", "running");
    await ec2.send(new StopInstancesCommand({ InstanceIds: [green.InstanceId ?? ""] }));
    await untilState(green.InstanceId ?? "", "stopped");
  });

  async function idsMatching(filters: Array<{ Name: string; Values: string[] }>): Promise<string[]> {
    const result = await ec2.send(new DescribeInstancesCommand({ Filters: filters }));
    const ids =
      result.Reservations?.flatMap(
        (reservation) => reservation.Instances?.map((instance) => instance.InstanceId ?? "") ?? [],
      ) ?? [];
    return ids.filter((id) => id === blue.InstanceId || id === green.InstanceId);
  }

  it.each([
    ["tag:<key>", () => [{ Name: "tag:colour", Values: ["blue"] }], () => [blue.InstanceId]],
    ["tag:<key> with a wildcard", () => [{ Name: "tag:colour", Values: ["gr*"] }], () => [green.InstanceId]],
    ["tag-key", () => [{ Name: "tag-key", Values: ["only-blue"] }], () => [blue.InstanceId]],
    ["tag-value", () => [{ Name: "tag-value", Values: ["green"] }], () => [green.InstanceId]],
    [
      "instance-id",
      () => [{ Name: "instance-id", Values: [green.InstanceId ?? ""] }],
      () => [green.InstanceId],
    ],
    [
      "private-ip-address",
      () => [{ Name: "private-ip-address", Values: [blue.PrivateIpAddress ?? ""] }],
      () => [blue.InstanceId],
    ],
    [
      "instance-state-name and image-id together",
      () => [
        { Name: "instance-state-name", Values: ["running"] },
        { Name: "image-id", Values: [baseImage] },
        { Name: "tag:colour", Values: ["blue", "green"] },
      ],
      () => [blue.InstanceId],
    ],
  ])("filters by %s", async (_name, filters, expected) => {
    expect(await idsMatching(filters())).toEqual(expected());
  });

  it("describes each field Kiln reads", async () => {
    const instance = await describeInstance(blue.InstanceId ?? "");

    expect(instance).toMatchObject({
      InstanceId: blue.InstanceId,
      ImageId: baseImage,
      InstanceType: "t3.micro",
      State: { Code: 16, Name: "running" },
      PrivateIpAddress: blue.PrivateIpAddress,
      MetadataOptions: { HttpTokens: "optional", HttpEndpoint: "enabled", HttpPutResponseHopLimit: 1 },
    });
    expect(instance.LaunchTime).toEqual(blue.LaunchTime);
    expect(instance.Tags).toContainEqual({ Key: "colour", Value: "blue" });
    expect(instance.BlockDeviceMappings?.[0]?.Ebs?.VolumeId).toMatch(ID.volume);
  });

  it("pages with MaxResults and NextToken, returning every instance exactly once", async () => {
    const launched = await launch({
      MinCount: 7,
      MaxCount: 7,
      TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "batch", Value: "paging" }] }],
    });
    const seen: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await ec2.send(
        new DescribeInstancesCommand({
          Filters: [{ Name: "tag:batch", Values: ["paging"] }],
          MaxResults: 5,
          NextToken: nextToken,
        }),
      );
      seen.push(
        ...(page.Reservations?.flatMap(
          (reservation) => reservation.Instances?.map((instance) => instance.InstanceId ?? "") ?? [],
        ) ?? []),
      );
      nextToken = page.NextToken;
      pages += 1;
    } while (nextToken !== undefined);

    expect(pages).toBe(2);
    expect(seen.sort()).toEqual(launched.map((instance) => instance.InstanceId).sort());
  });

  it("fails with InvalidInstanceID.NotFound for an unknown id", async () => {
    await expect(
      ec2.send(new DescribeInstancesCommand({ InstanceIds: ["i-0123456789abcdef0"] })),
    ).rejects.toMatchObject({
      name: "InvalidInstanceID.NotFound",
    });
  });
});

describe("StopInstances, StartInstances and TerminateInstances", () => {
  it("stops a running instance through stopping to stopped, with the user-initiated reason", async () => {
    const instanceId = await runningInstance();

    const { StoppingInstances } = await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));

    expect(StoppingInstances?.[0]).toEqual({
      InstanceId: instanceId,
      PreviousState: { Code: 16, Name: "running" },
      CurrentState: { Code: 64, Name: "stopping" },
    });
    await expect.poll(() => stateOf(instanceId), eventually).toBe("stopped");
    const stopped = await describeInstance(instanceId);
    expect(stopped.StateReason).toEqual({
      Code: "Client.UserInitiatedShutdown",
      Message: "Client.UserInitiatedShutdown: User initiated shutdown",
    });
    expect(stopped.StateTransitionReason).toMatch(/^User initiated \(/);
  });

  it("starts a stopped instance again", async () => {
    const instanceId = await runningInstance();
    await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    await expect.poll(() => stateOf(instanceId), eventually).toBe("stopped");

    const { StartingInstances } = await ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] }));

    expect(StartingInstances?.[0]?.PreviousState?.Name).toBe("stopped");
    expect(StartingInstances?.[0]?.CurrentState?.Name).toBe("pending");
    await expect.poll(() => stateOf(instanceId), eventually).toBe("running");
  });

  it("terminates through shutting-down to terminated, and the instance stays describable", async () => {
    const instanceId = await runningInstance();

    const { TerminatingInstances } = await ec2.send(
      new TerminateInstancesCommand({ InstanceIds: [instanceId] }),
    );

    expect(TerminatingInstances?.[0]?.CurrentState).toEqual({ Code: 32, Name: "shutting-down" });
    await expect.poll(() => stateOf(instanceId), eventually).toBe("terminated");
    const terminated = await describeInstance(instanceId);
    expect(terminated.State).toEqual({ Code: 48, Name: "terminated" });
    expect(terminated.PrivateIpAddress).toBeUndefined();
  });

  it("refuses to start a terminated instance", async () => {
    const instanceId = await runningInstance();
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    await expect.poll(() => stateOf(instanceId), eventually).toBe("terminated");

    await expect(ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] }))).rejects.toMatchObject({
      name: "IncorrectInstanceState",
    });
  });
});

describe("DescribeInstanceStatus", () => {
  it("reports a running instance ok and, with IncludeAllInstances, a stopped one not-applicable", async () => {
    const running = await runningInstance();
    const stopped = await runningInstance();
    await ec2.send(new StopInstancesCommand({ InstanceIds: [stopped] }));
    await expect.poll(() => stateOf(stopped), eventually).toBe("stopped");

    const statusOf = async (instanceId: string, includeAll: boolean) => {
      const result = await ec2.send(
        new DescribeInstanceStatusCommand({ InstanceIds: [instanceId], IncludeAllInstances: includeAll }),
      );
      return result.InstanceStatuses?.[0];
    };

    await expect
      .poll(async () => (await statusOf(running, false))?.InstanceStatus?.Status, eventually)
      .toBe("ok");
    const status = await statusOf(running, false);
    expect(status).toMatchObject({
      InstanceId: running,
      InstanceState: { Code: 16, Name: "running" },
      SystemStatus: { Status: "ok" },
    });
    expect(status?.InstanceStatus?.Details?.[0]).toMatchObject({ Name: "reachability", Status: "passed" });
    expect(await statusOf(stopped, false)).toBeUndefined();
    expect((await statusOf(stopped, true))?.InstanceStatus?.Status).toBe("not-applicable");
  });
});

describe("GetConsoleOutput", () => {
  it("returns the console log, base64-encoded, with its timestamp", async () => {
    const instanceId = await launchOne({ UserData: base64("#!/bin/bash\necho console-marker-7731\n") });

    await expect
      .poll(async () => {
        const { Output } = await ec2.send(new GetConsoleOutputCommand({ InstanceId: instanceId }));
        return Buffer.from(Output ?? "", "base64").toString();
      }, eventually)
      .toContain("console-marker-7731");
    const output = await ec2.send(new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: true }));
    expect(output.InstanceId).toBe(instanceId);
    expect(output.Timestamp).toBeInstanceOf(Date);
  });
});

describe("CreateTags, DeleteTags and DescribeTags", () => {
  it("tags an instance and an image, describes the tags by filter and deletes them", async () => {
    const instanceId = await launchOne();
    await ec2.send(
      new CreateTagsCommand({
        Resources: [instanceId, baseImage],
        Tags: [
          { Key: "kiln:owner", Value: "contract" },
          { Key: "kiln:keep", Value: "yes" },
        ],
      }),
    );

    const described = await ec2.send(
      new DescribeTagsCommand({
        Filters: [
          { Name: "resource-id", Values: [instanceId] },
          { Name: "key", Values: ["kiln:*"] },
        ],
      }),
    );
    expect(described.Tags).toEqual(
      expect.arrayContaining([
        { ResourceId: instanceId, ResourceType: "instance", Key: "kiln:owner", Value: "contract" },
        { ResourceId: instanceId, ResourceType: "instance", Key: "kiln:keep", Value: "yes" },
      ]),
    );
    const images = await ec2.send(
      new DescribeTagsCommand({
        Filters: [
          { Name: "resource-type", Values: ["image"] },
          { Name: "key", Values: ["kiln:owner"] },
        ],
      }),
    );
    expect(images.Tags?.map((tag) => tag.ResourceId)).toEqual([baseImage]);

    await ec2.send(
      new DeleteTagsCommand({
        Resources: [instanceId],
        Tags: [{ Key: "kiln:owner" }, { Key: "kiln:keep", Value: "no" }],
      }),
    );

    const remaining = (await describeInstance(instanceId)).Tags?.map((tag) => tag.Key);
    expect(remaining).toContain("kiln:keep");
    expect(remaining).not.toContain("kiln:owner");
    await ec2.send(
      new DeleteTagsCommand({ Resources: [baseImage], Tags: [{ Key: "kiln:owner" }, { Key: "kiln:keep" }] }),
    );
  });

  it("fails for a resource that does not exist", async () => {
    await expect(
      ec2.send(
        new CreateTagsCommand({ Resources: ["i-0fedcba9876543210"], Tags: [{ Key: "a", Value: "b" }] }),
      ),
    ).rejects.toMatchObject({
      name: "InvalidInstanceID.NotFound",
    });
  });
});

describe("CreateImage and DescribeImages", () => {
  let builder: string;

  beforeAll(async () => {
    builder = await runningInstance({
      BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { Encrypted: true, VolumeSize: 12 } }],
    });
  });

  it("registers an image with its description, tags, and a snapshot per volume", async () => {
    const { ImageId } = await ec2.send(
      new CreateImageCommand({
        InstanceId: builder,
        Name: "svc-api-1.2.3-contract",
        Description: "api 1.2.3",
        NoReboot: true,
        TagSpecifications: [
          { ResourceType: "image", Tags: [{ Key: "kiln:service", Value: "api" }] },
          { ResourceType: "snapshot", Tags: [{ Key: "kiln:service", Value: "api-snapshot" }] },
        ],
      }),
    );

    expect(ImageId).toMatch(ID.image);
    await expect.poll(() => imageState(ImageId ?? ""), eventually).toBe("available");
    const { Images } = await ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId ?? ""] }));
    const image = Images?.[0];
    expect(image).toMatchObject({
      ImageId,
      Name: "svc-api-1.2.3-contract",
      Description: "api 1.2.3",
      State: "available",
      OwnerId: "000000000000",
      RootDeviceName: "/dev/xvda",
      Tags: [{ Key: "kiln:service", Value: "api" }],
    });
    expect(Date.parse(image?.CreationDate ?? "")).not.toBeNaN();
    const device = image?.BlockDeviceMappings?.[0];
    expect(device?.DeviceName).toBe("/dev/xvda");
    expect(device?.Ebs).toMatchObject({ Encrypted: true, VolumeSize: 12 });
    expect(device?.Ebs?.SnapshotId).toMatch(ID.snapshot);

    const { Snapshots } = await ec2.send(
      new DescribeSnapshotsCommand({ SnapshotIds: [device?.Ebs?.SnapshotId ?? ""] }),
    );
    expect(Snapshots?.[0]).toMatchObject({
      SnapshotId: device?.Ebs?.SnapshotId,
      State: "completed",
      Progress: "100%",
      Encrypted: true,
      VolumeSize: 12,
      OwnerId: "000000000000",
      Tags: [{ Key: "kiln:service", Value: "api-snapshot" }],
    });
    expect(Snapshots?.[0]?.Description).toContain(ImageId);
  });

  it("rejects a name already in use", async () => {
    await availableImage(builder, "svc-duplicate-name");

    await expect(
      ec2.send(new CreateImageCommand({ InstanceId: builder, Name: "svc-duplicate-name" })),
    ).rejects.toMatchObject({
      name: "InvalidAMIName.Duplicate",
    });
  });

  it("ends failed, with a state reason, when an ec2:image fault is taken for its name", async () => {
    faults.add({
      operation: "ec2:image",
      kind: "fail",
      match: "doomed",
      message: "Server.InternalError: snapshot failed",
      times: 1,
    });

    const { ImageId } = await ec2.send(
      new CreateImageCommand({ InstanceId: builder, Name: "svc-doomed-image", NoReboot: true }),
    );

    await expect.poll(() => imageState(ImageId ?? ""), eventually).toBe("failed");
    const { Images } = await ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId ?? ""] }));
    expect(Images?.[0]?.StateReason).toEqual({
      Code: "Server.InternalError",
      Message: "Server.InternalError: snapshot failed",
    });
  });

  describe("filters", () => {
    beforeAll(async () => {
      await availableImage(builder, "svc-filter-a", [{ Key: "flavour", Value: "sweet" }]);
      await availableImage(builder, "svc-filter-b", [{ Key: "flavour", Value: "sour" }]);
    });

    it.each([
      [
        "name with a wildcard",
        [{ Name: "name", Values: ["svc-filter-*"] }],
        ["svc-filter-a", "svc-filter-b"],
      ],
      ["tag:<key>", [{ Name: "tag:flavour", Values: ["sour"] }], ["svc-filter-b"]],
      ["tag-key", [{ Name: "tag-key", Values: ["flavour"] }], ["svc-filter-a", "svc-filter-b"]],
      [
        "state",
        [
          { Name: "state", Values: ["available"] },
          { Name: "name", Values: ["svc-filter-?"] },
        ],
        ["svc-filter-a", "svc-filter-b"],
      ],
    ])("by %s", async (_name, filters, expected) => {
      const { Images } = await ec2.send(new DescribeImagesCommand({ Owners: ["self"], Filters: filters }));

      expect(Images?.map((image) => image.Name).sort()).toEqual(expected);
    });
  });

  it("filters by image-id and returns nothing for another owner", async () => {
    const byId = await ec2.send(
      new DescribeImagesCommand({ Filters: [{ Name: "image-id", Values: [baseImage] }] }),
    );
    const amazon = await ec2.send(new DescribeImagesCommand({ Owners: ["amazon"] }));

    expect(byId.Images?.map((image) => image.Name)).toEqual(["kiln-local-base"]);
    expect(amazon.Images).toEqual([]);
  });

  it("pages with MaxResults and NextToken, returning every image and snapshot exactly once", async () => {
    const made: string[] = [];
    for (let index = 0; index < 6; index += 1)
      made.push(
        await availableImage(builder, `svc-paging-${index}`, [{ Key: "batch", Value: "image-paging" }]),
      );

    const seen: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await ec2.send(
        new DescribeImagesCommand({
          Owners: ["self"],
          Filters: [{ Name: "tag:batch", Values: ["image-paging"] }],
          MaxResults: 5,
          NextToken: nextToken,
        }),
      );
      seen.push(...(page.Images?.map((image) => image.ImageId ?? "") ?? []));
      nextToken = page.NextToken;
    } while (nextToken !== undefined);
    expect(seen.sort()).toEqual(made.sort());

    const snapshots: string[] = [];
    nextToken = undefined;
    do {
      const page: DescribeSnapshotsCommandOutput = await ec2.send(
        new DescribeSnapshotsCommand({ OwnerIds: ["self"], MaxResults: 5, NextToken: nextToken }),
      );
      snapshots.push(...(page.Snapshots?.map((snapshot) => snapshot.SnapshotId ?? "") ?? []));
      nextToken = page.NextToken;
    } while (nextToken !== undefined);
    expect(new Set(snapshots).size).toBe(snapshots.length);
    expect(snapshots.length).toBeGreaterThanOrEqual(7);
  });

  it("fails with InvalidAMIID.NotFound for an unknown image", async () => {
    await expect(
      ec2.send(new DescribeImagesCommand({ ImageIds: ["ami-0123456789abcdef0"] })),
    ).rejects.toMatchObject({
      name: "InvalidAMIID.NotFound",
    });
  });

  describe("DeregisterImage, DescribeSnapshots and DeleteSnapshot", () => {
    it("refuses to delete a snapshot a registered image uses", async () => {
      const imageId = await availableImage(builder, "svc-snapshot-in-use");
      const { Images } = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
      const snapshotId = Images?.[0]?.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId;

      await expect(ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }))).rejects.toMatchObject({
        name: "InvalidSnapshot.InUse",
      });
    });

    it("deregisters an image and, on request, deletes its snapshots", async () => {
      const imageId = await availableImage(builder, "svc-deregister-with-snapshots");
      const { Images } = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
      const snapshotId = Images?.[0]?.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId ?? "";

      const result = await ec2.send(
        new DeregisterImageCommand({ ImageId: imageId, DeleteAssociatedSnapshots: true }),
      );

      expect(result.Return).toBe(true);
      expect(result.DeleteSnapshotResults).toEqual([{ SnapshotId: snapshotId, ReturnCode: "success" }]);
      await expect(ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).rejects.toMatchObject({
        name: "InvalidAMIID.NotFound",
      });
      await expect(
        ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] })),
      ).rejects.toMatchObject({ name: "InvalidSnapshot.NotFound" });
    });

    it("deletes a snapshot once its image is deregistered, and finds it by tag before", async () => {
      const { ImageId } = await ec2.send(
        new CreateImageCommand({
          InstanceId: builder,
          Name: "svc-snapshot-left-behind",
          NoReboot: true,
          TagSpecifications: [{ ResourceType: "snapshot", Tags: [{ Key: "left", Value: "behind" }] }],
        }),
      );
      await expect.poll(() => imageState(ImageId ?? ""), eventually).toBe("available");
      const tagged = await ec2.send(
        new DescribeSnapshotsCommand({ Filters: [{ Name: "tag:left", Values: ["behind"] }] }),
      );
      const snapshotId = tagged.Snapshots?.[0]?.SnapshotId ?? "";
      expect(tagged.Snapshots).toHaveLength(1);

      await ec2.send(new DeregisterImageCommand({ ImageId }));
      await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));

      await expect(
        ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] })),
      ).rejects.toMatchObject({ name: "InvalidSnapshot.NotFound" });
    });
  });
});

describe("launch templates", () => {
  const userData = base64("#!/bin/bash\necho from-template\n");
  let templateId: string;

  beforeAll(async () => {
    const { LaunchTemplate } = await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: "svc-web",
        VersionDescription: "first",
        TagSpecifications: [
          { ResourceType: "launch-template", Tags: [{ Key: "kiln:service", Value: "web" }] },
        ],
        LaunchTemplateData: {
          ImageId: baseImage,
          InstanceType: "t3.micro",
          UserData: userData,
          IamInstanceProfile: { Arn: "arn:aws:iam::000000000000:instance-profile/web" },
          SecurityGroupIds: ["sg-0bbbbbbbbbbbbbbbb"],
          InstanceInitiatedShutdownBehavior: "terminate",
          MetadataOptions: { HttpTokens: "required", HttpEndpoint: "enabled", HttpPutResponseHopLimit: 2 },
          BlockDeviceMappings: [
            { DeviceName: "/dev/xvda", Ebs: { Encrypted: true, VolumeSize: 20, KmsKeyId: "alias/web" } },
          ],
          TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "kiln:service", Value: "web" }] }],
        },
      }),
    );
    templateId = LaunchTemplate?.LaunchTemplateId ?? "";
  });

  it("creates a template with version 1 as default and latest", async () => {
    const { LaunchTemplates } = await ec2.send(
      new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: ["svc-web"] }),
    );

    expect(LaunchTemplates?.[0]).toMatchObject({
      LaunchTemplateId: templateId,
      LaunchTemplateName: "svc-web",
      DefaultVersionNumber: 1,
      LatestVersionNumber: 1,
      CreatedBy: "arn:aws:iam::000000000000:root",
      Tags: [{ Key: "kiln:service", Value: "web" }],
    });
    expect(templateId).toMatch(ID.template);
    expect(LaunchTemplates?.[0]?.CreateTime).toBeInstanceOf(Date);
  });

  it("echoes the whole launch template data", async () => {
    const { LaunchTemplateVersions } = await ec2.send(
      new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: templateId, Versions: ["1"] }),
    );

    const version = LaunchTemplateVersions?.[0];
    expect(version).toMatchObject({
      LaunchTemplateId: templateId,
      VersionNumber: 1,
      VersionDescription: "first",
      DefaultVersion: true,
    });
    expect(version?.LaunchTemplateData).toMatchObject({
      ImageId: baseImage,
      InstanceType: "t3.micro",
      UserData: userData,
      IamInstanceProfile: { Arn: "arn:aws:iam::000000000000:instance-profile/web" },
      SecurityGroupIds: ["sg-0bbbbbbbbbbbbbbbb"],
      InstanceInitiatedShutdownBehavior: "terminate",
      MetadataOptions: { HttpTokens: "required", HttpEndpoint: "enabled", HttpPutResponseHopLimit: 2 },
      BlockDeviceMappings: [
        { DeviceName: "/dev/xvda", Ebs: { Encrypted: true, VolumeSize: 20, KmsKeyId: "alias/web" } },
      ],
      TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "kiln:service", Value: "web" }] }],
    });
  });

  it("creates a version from a source version, overlaying only what the request sets", async () => {
    const { LaunchTemplateVersion } = await ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateName: "svc-web",
        SourceVersion: "1",
        VersionDescription: "pinned to a new image",
        LaunchTemplateData: { ImageId: "ami-0ffffffffffffffff" },
      }),
    );

    expect(LaunchTemplateVersion).toMatchObject({
      VersionNumber: 2,
      DefaultVersion: false,
      VersionDescription: "pinned to a new image",
    });
    expect(LaunchTemplateVersion?.LaunchTemplateData).toMatchObject({
      ImageId: "ami-0ffffffffffffffff",
      InstanceType: "t3.micro",
      UserData: userData,
      MetadataOptions: { HttpTokens: "required" },
      TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "kiln:service", Value: "web" }] }],
    });
  });

  it("resolves $Latest and $Default, and sets the default version", async () => {
    const versionsOf = async (versions: string[]) => {
      const result = await ec2.send(
        new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: templateId, Versions: versions }),
      );
      return result.LaunchTemplateVersions?.map((version) => version.VersionNumber);
    };
    expect(await versionsOf(["$Latest"])).toEqual([2]);
    expect(await versionsOf(["$Default"])).toEqual([1]);

    const { LaunchTemplate } = await ec2.send(
      new ModifyLaunchTemplateCommand({ LaunchTemplateId: templateId, DefaultVersion: "2" }),
    );

    expect(LaunchTemplate?.DefaultVersionNumber).toBe(2);
    expect(await versionsOf(["$Default"])).toEqual([2]);
    await ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: templateId, DefaultVersion: "1" }));
  });

  it("pages versions and honours MinVersion and MaxVersion, each version once", async () => {
    await ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: templateId,
        SourceVersion: "$Latest",
        LaunchTemplateData: { InstanceType: "t3.small" },
      }),
    );
    const seen: number[] = [];
    let nextToken: string | undefined;
    do {
      const page = await ec2.send(
        new DescribeLaunchTemplateVersionsCommand({
          LaunchTemplateId: templateId,
          MaxResults: 1,
          NextToken: nextToken,
        }),
      );
      seen.push(...(page.LaunchTemplateVersions?.map((version) => version.VersionNumber ?? 0) ?? []));
      nextToken = page.NextToken;
    } while (nextToken !== undefined);
    const ranged = await ec2.send(
      new DescribeLaunchTemplateVersionsCommand({
        LaunchTemplateId: templateId,
        MinVersion: "2",
        MaxVersion: "3",
      }),
    );

    expect(seen.sort()).toEqual([1, 2, 3]);
    expect(ranged.LaunchTemplateVersions?.map((version) => version.VersionNumber).sort()).toEqual([2, 3]);
  });

  it("returns the same template for a repeated client token, and rejects it with other parameters", async () => {
    const create = (instanceType: "t3.micro" | "t3.large") =>
      ec2.send(
        new CreateLaunchTemplateCommand({
          LaunchTemplateName: "svc-token",
          ClientToken: "token-svc-token",
          LaunchTemplateData: { ImageId: baseImage, InstanceType: instanceType },
        }),
      );
    const first = await create("t3.micro");
    const second = await create("t3.micro");

    expect(second.LaunchTemplate?.LaunchTemplateId).toBe(first.LaunchTemplate?.LaunchTemplateId);
    await expect(create("t3.large")).rejects.toMatchObject({ name: "IdempotentParameterMismatch" });
  });

  it("deletes a template", async () => {
    await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: "svc-short-lived",
        LaunchTemplateData: { ImageId: baseImage },
      }),
    );

    await ec2.send(new DeleteLaunchTemplateCommand({ LaunchTemplateName: "svc-short-lived" }));

    await expect(
      ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: ["svc-short-lived"] })),
    ).rejects.toMatchObject({
      name: "InvalidLaunchTemplateName.NotFoundException",
    });
  });

  it.each([
    [
      "a name already in use",
      () =>
        ec2.send(
          new CreateLaunchTemplateCommand({
            LaunchTemplateName: "svc-web",
            LaunchTemplateData: { ImageId: baseImage },
          }),
        ),
      "InvalidLaunchTemplateName.AlreadyExistsException",
    ],
    [
      "an unknown name",
      () => ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: ["svc-nobody"] })),
      "InvalidLaunchTemplateName.NotFoundException",
    ],
    [
      "an unknown id",
      () => ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: "lt-0123456789abcdef0" })),
      "InvalidLaunchTemplateId.NotFound",
    ],
    [
      "an unknown version",
      () =>
        ec2.send(
          new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: templateId, Versions: ["99"] }),
        ),
      "InvalidLaunchTemplateId.VersionNotFound",
    ],
    [
      "launching an unknown version",
      () => launch({ LaunchTemplate: { LaunchTemplateId: templateId, Version: "42" } }),
      "InvalidLaunchTemplateId.VersionNotFound",
    ],
  ])("fails for %s", async (_case, act, code) => {
    await expect(act()).rejects.toMatchObject({ name: code });
  });
});

describe("injected faults", () => {
  it("answers an injected throttle with RequestLimitExceeded (HTTP 503)", async () => {
    faults.add({ operation: "ec2:DescribeImages", kind: "throttle", times: 1 });

    await expect(ec2.send(new DescribeImagesCommand({ Owners: ["self"] }))).rejects.toMatchObject({
      name: "RequestLimitExceeded",
      $metadata: { httpStatusCode: 503 },
    });
  });

  it("answers an injected failure with its code, only for requests that match", async () => {
    faults.add({
      operation: "ec2:RunInstances",
      kind: "fail",
      code: "InsufficientInstanceCapacity",
      match: "canary-77",
      times: 1,
    });
    const other = await launch({
      TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "deployment", Value: "canary-78" }] }],
    });

    await expect(
      launch({
        TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "deployment", Value: "canary-77" }] }],
      }),
    ).rejects.toMatchObject({
      name: "InsufficientInstanceCapacity",
      $metadata: { httpStatusCode: 500 },
    });
    expect(other).toHaveLength(1);
  });

  it("is retried through by the SDK's default retry policy when the throttle passes", async () => {
    const retrying = new EC2Client({
      endpoint: emulator.url,
      region: "us-east-1",
      credentials,
      maxAttempts: 3,
      retryMode: "standard",
    });
    faults.add({ operation: "ec2:DescribeInstances", kind: "throttle", times: 1 });

    const result = await retrying.send(new DescribeInstancesCommand({ InstanceIds: [await launchOne()] }));

    expect(result.Reservations).toHaveLength(1);
    expect(faults.list().filter((rule) => rule.operation === "ec2:DescribeInstances")).toEqual([]);
  });
});

describe("the query protocol", () => {
  it("answers an unknown action with InvalidAction in EC2's error document", async () => {
    const response = await fetch(emulator.url, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "Action=LaunchRocket&Version=2016-11-15",
    });

    expect(response.status).toBe(400);
    const text = await response.text();
    expect(text).toContain("<Response><Errors><Error><Code>InvalidAction</Code>");
    expect(text).toMatch(/<RequestID>[0-9a-f-]{36}<\/RequestID>/);
  });
});

describe("with AWS-like durations", () => {
  let slowDir: string;
  let slow: Ec2Emulator;
  let slowEc2: EC2Client;
  const timescale = new Timescale(0.02);

  beforeAll(async () => {
    slowDir = await mkdtemp(join(tmpdir(), "kiln-ec2-durations-"));
    slow = await startEc2Emulator({ stateDir: slowDir, timescale, faults: new FaultInjector() });
    slowEc2 = new EC2Client({ endpoint: slow.url, region: "us-east-1", credentials, maxAttempts: 1 });
  });

  afterAll(async () => {
    await slow?.close();
    await rm(slowDir, { recursive: true, force: true });
  });

  it("shows an instance pending, then running, and an image pending, then available, recording the time spent", async () => {
    const imageId = await slow.ensureBaseImage();
    const { Instances } = await slowEc2.send(
      new RunInstancesCommand({ ImageId: imageId, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }),
    );
    const instanceId = Instances?.[0]?.InstanceId ?? "";
    const slowState = async () => {
      const result = await slowEc2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
      return result.Reservations?.[0]?.Instances?.[0]?.State?.Name;
    };
    expect(await slowState()).toBe("pending");
    await expect.poll(slowState, eventually).toBe("running");

    const { ImageId } = await slowEc2.send(
      new CreateImageCommand({ InstanceId: instanceId, Name: "svc-slow-image", NoReboot: true }),
    );
    const slowImageState = async () =>
      (await slowEc2.send(new DescribeImagesCommand({ ImageIds: [ImageId ?? ""] }))).Images?.[0]?.State;

    expect(await slowImageState()).toBe("pending");
    await expect.poll(slowImageState, eventually).toBe("available");
    const operations = timescale.report().map((timing) => timing.operation);
    expect(operations).toEqual(expect.arrayContaining(["ec2:boot", "ec2:snapshot"]));
  });
});
