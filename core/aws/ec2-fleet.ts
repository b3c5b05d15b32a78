/**
 * Fleet on EC2: builder and canary launches. Every launch requires IMDSv2, encrypts its volumes,
 * carries Kiln's tags and a client token derived from the deployment, so a retried task never
 * launches a second instance.
 */
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  type EC2Client,
  GetConsoleOutputCommand,
  type Instance,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  type Tag,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { kilnTag } from "../deploy/tags.ts";
import { ResourceNotFoundError } from "../errors.ts";
import type {
  Fleet,
  InstanceInfo,
  InstanceRole,
  InstanceState,
  LaunchBuilderRequest,
  LaunchCanaryRequest,
} from "../ports.ts";
import { callAws, isAwsError } from "./aws-errors.ts";
import { ec2Client } from "./clients.ts";

const instanceStates: readonly string[] = [
  "pending",
  "running",
  "stopping",
  "stopped",
  "shutting-down",
  "terminated",
];

function isInstanceState(name: string): name is InstanceState {
  return instanceStates.includes(name);
}

/** Tags as EC2 wants them. */
export function toTagList(tags: Record<string, string>): Tag[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

/** Client tokens are at most 64 ASCII characters. */
export function clientToken(deploymentId: string, purpose: string): string {
  return `${deploymentId}-${purpose}`.slice(0, 64);
}

function toInstanceInfo(instance: Instance): InstanceInfo {
  const name = instance.State?.Name ?? "pending";
  return {
    instanceId: instance.InstanceId ?? "",
    state: isInstanceState(name) ? name : "pending",
    privateIp: instance.PrivateIpAddress,
    launchedAt: instance.LaunchTime?.toISOString(),
    stateReason: instance.StateReason?.Message,
  };
}

const imdsV2Required = {
  HttpTokens: "required",
  HttpEndpoint: "enabled",
  HttpPutResponseHopLimit: 1,
} as const;

export class Ec2Fleet implements Fleet {
  constructor(
    private readonly instanceProfileName: string,
    private readonly ec2: EC2Client = ec2Client(),
  ) {}

  async launchBuilder(request: LaunchBuilderRequest): Promise<InstanceInfo> {
    const rootDevice = await this.rootDeviceOf(request.baseImageId);
    return this.run("builder", {
      ImageId: request.baseImageId,
      InstanceType: request.instanceType as RunInstancesCommandInput["InstanceType"],
      MinCount: 1,
      MaxCount: 1,
      SubnetId: request.subnetId,
      SecurityGroupIds: request.securityGroupIds.length > 0 ? request.securityGroupIds : undefined,
      UserData: Buffer.from(request.userData).toString("base64"),
      IamInstanceProfile: { Name: this.instanceProfileName },
      // The builder stops itself when the bake is done; the image is made from the stopped disk.
      InstanceInitiatedShutdownBehavior: "stop",
      MetadataOptions: imdsV2Required,
      // The mapping must name the image's own root device, or EC2 adds a second, sizeless volume.
      BlockDeviceMappings: [
        { DeviceName: rootDevice, Ebs: { Encrypted: true, VolumeType: "gp3", DeleteOnTermination: true } },
      ],
      TagSpecifications: [
        { ResourceType: "instance", Tags: toTagList(request.tags) },
        { ResourceType: "volume", Tags: toTagList(request.tags) },
      ],
      ClientToken: clientToken(request.deploymentId, "builder"),
    });
  }

  launchCanary(request: LaunchCanaryRequest): Promise<InstanceInfo> {
    return this.run("canary", {
      LaunchTemplate: { LaunchTemplateId: request.launchTemplateId, Version: request.launchTemplateVersion },
      ImageId: request.imageId,
      // In the group's own network, so the health probe reaches it as it reaches the group's instances.
      SubnetId: request.subnetId,
      MinCount: 1,
      MaxCount: 1,
      MetadataOptions: imdsV2Required,
      TagSpecifications: [
        { ResourceType: "instance", Tags: toTagList(request.tags) },
        { ResourceType: "volume", Tags: toTagList(request.tags) },
      ],
      ClientToken: clientToken(request.deploymentId, "canary"),
    });
  }

  async describe(instanceId: string): Promise<InstanceInfo | undefined> {
    try {
      const result = await callAws(`DescribeInstances ${instanceId}`, () =>
        this.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] })),
      );
      const instance = result.Reservations?.flatMap((reservation) => reservation.Instances ?? [])[0];
      return instance ? toInstanceInfo(instance) : undefined;
    } catch (error) {
      if (isAwsError(error, "InvalidInstanceID.NotFound")) return undefined;
      throw error;
    }
  }

  async consoleOutput(instanceId: string): Promise<string> {
    const result = await callAws(`GetConsoleOutput ${instanceId}`, () =>
      this.ec2.send(new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: true })),
    );
    return result.Output ? Buffer.from(result.Output, "base64").toString("utf8") : "";
  }

  async findForDeployment(deploymentId: string, role?: InstanceRole): Promise<InstanceInfo[]> {
    const filters = [
      { Name: `tag:${kilnTag.deploymentId}`, Values: [deploymentId] },
      { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
      ...(role ? [{ Name: `tag:${kilnTag.role}`, Values: [role] }] : []),
    ];
    const found: InstanceInfo[] = [];
    let nextToken: string | undefined;
    do {
      const page = await callAws(`DescribeInstances of ${deploymentId}`, () =>
        this.ec2.send(
          new DescribeInstancesCommand({ Filters: filters, NextToken: nextToken, MaxResults: 100 }),
        ),
      );
      for (const reservation of page.Reservations ?? [])
        found.push(...(reservation.Instances ?? []).map(toInstanceInfo));
      nextToken = page.NextToken;
    } while (nextToken);
    return found;
  }

  async terminate(instanceIds: string[]): Promise<void> {
    if (instanceIds.length === 0) return;
    try {
      await callAws(`TerminateInstances ${instanceIds.join(" ")}`, () =>
        this.ec2.send(new TerminateInstancesCommand({ InstanceIds: instanceIds })),
      );
    } catch (error) {
      // Already gone is what cleanup wants.
      if (!isAwsError(error, "InvalidInstanceID.NotFound")) throw error;
    }
  }

  private async rootDeviceOf(imageId: string): Promise<string> {
    const result = await callAws(
      `DescribeImages ${imageId}`,
      () => this.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] })),
      ["InvalidAMIID.NotFound", "InvalidAMIID.Malformed"],
    );
    const image = result.Images?.[0];
    if (!image) throw new ResourceNotFoundError(`base image ${imageId} does not exist`);
    return image.RootDeviceName ?? "/dev/xvda";
  }

  private async run(role: InstanceRole, input: RunInstancesCommandInput): Promise<InstanceInfo> {
    const result = await callAws(`RunInstances ${role}`, () => this.ec2.send(new RunInstancesCommand(input)));
    const instance = result.Instances?.[0];
    if (!instance?.InstanceId) throw new Error(`RunInstances ${role} returned no instance`);
    return toInstanceInfo(instance);
  }
}
