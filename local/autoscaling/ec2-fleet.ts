/**
 * The EC2 side of Auto Scaling: the emulator drives instances as a client of the EC2 API,
 * as the real service does, so the same instances are visible to `DescribeInstances`.
 */
import {
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  type DescribeLaunchTemplatesCommandOutput,
  type EC2Client,
  type Instance,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { AutoScalingError } from "./errors.ts";
import type { LaunchTemplateRef } from "./state.ts";

/** A launch template as a request names it: by id or by name, with an optional version. */
export interface LaunchTemplateRequest {
  id?: string | undefined;
  name?: string | undefined;
  version?: string | undefined;
}

/** A resolved launch template: `ref` keeps the version as asked, `resolvedVersion` is its number. */
export interface ResolvedLaunchTemplate {
  ref: LaunchTemplateRef;
  resolvedVersion: string;
}

export interface LaunchedInstance {
  instanceId: string;
  availabilityZone: string;
  instanceType: string;
  privateIpAddress?: string | undefined;
}

/** What EC2 says about an instance the group holds. */
export interface ObservedInstance {
  instanceId: string;
  /** The EC2 state name (pending, running, stopping, stopped, shutting-down, terminated). */
  state: string;
  privateIpAddress?: string | undefined;
  availabilityZone?: string | undefined;
  instanceType?: string | undefined;
  /** Set when DescribeInstanceStatus reports the instance or its system impaired. */
  impaired: boolean;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : "";
}

export class Ec2Fleet {
  constructor(private readonly ec2: EC2Client) {}

  /** Looks a launch template up (by id when both are given) and resolves `$Latest`, `$Default` or a number to a version number. */
  async resolveLaunchTemplate(request: LaunchTemplateRequest): Promise<ResolvedLaunchTemplate> {
    if (request.id === undefined && request.name === undefined) {
      throw new AutoScalingError(
        "ValidationError",
        "Valid requests must contain either LaunchTemplateId or LaunchTemplateName",
      );
    }
    const version = request.version ?? "$Default";
    let found: DescribeLaunchTemplatesCommandOutput;
    try {
      found = await this.ec2.send(
        new DescribeLaunchTemplatesCommand(
          request.id !== undefined
            ? { LaunchTemplateIds: [request.id] }
            : { LaunchTemplateNames: [request.name ?? ""] },
        ),
      );
    } catch (error) {
      if (/NotFound|InvalidLaunchTemplate/.test(errorName(error))) {
        throw new AutoScalingError(
          "ValidationError",
          `You must use a valid fully-formed launch template. The specified launch template ${request.id ?? request.name} does not exist.`,
        );
      }
      throw error;
    }
    const template = found.LaunchTemplates?.[0];
    if (template?.LaunchTemplateId === undefined || template.LaunchTemplateName === undefined) {
      throw new AutoScalingError(
        "ValidationError",
        `You must use a valid fully-formed launch template. The specified launch template ${request.id ?? request.name} does not exist.`,
      );
    }
    const latest = template.LatestVersionNumber ?? 1;
    let resolvedVersion: number;
    if (version === "$Latest") resolvedVersion = latest;
    else if (version === "$Default") resolvedVersion = template.DefaultVersionNumber ?? 1;
    else if (/^\d+$/.test(version) && Number(version) >= 1 && Number(version) <= latest) {
      resolvedVersion = Number(version);
    } else {
      throw new AutoScalingError(
        "ValidationError",
        `You must use a valid fully-formed launch template. The specified launch template version ${version} of ${template.LaunchTemplateName} does not exist.`,
      );
    }
    return {
      ref: { id: template.LaunchTemplateId, name: template.LaunchTemplateName, version },
      resolvedVersion: String(resolvedVersion),
    };
  }

  /** Launches `count` instances from an exact template version, tagged as the group's. */
  async launch(
    template: LaunchTemplateRef,
    tags: { key: string; value: string }[],
    count: number,
    clientToken: string,
  ): Promise<LaunchedInstance[]> {
    const response = await this.ec2.send(
      new RunInstancesCommand({
        LaunchTemplate: { LaunchTemplateId: template.id, Version: template.version },
        MinCount: count,
        MaxCount: count,
        ClientToken: clientToken,
        TagSpecifications: [
          { ResourceType: "instance", Tags: tags.map((tag) => ({ Key: tag.key, Value: tag.value })) },
        ],
      }),
    );
    return (response.Instances ?? []).flatMap((instance) =>
      instance.InstanceId === undefined
        ? []
        : [
            {
              instanceId: instance.InstanceId,
              availabilityZone: instance.Placement?.AvailabilityZone ?? "",
              instanceType: instance.InstanceType ?? "",
              privateIpAddress: instance.PrivateIpAddress,
            },
          ],
    );
  }

  /** Describes the given instances; those EC2 no longer knows are absent from the map. */
  async observe(instanceIds: string[]): Promise<Map<string, ObservedInstance>> {
    const observed = new Map<string, ObservedInstance>();
    if (instanceIds.length === 0) return observed;
    for (const instance of await this.describe(instanceIds)) {
      if (instance.InstanceId === undefined) continue;
      observed.set(instance.InstanceId, {
        instanceId: instance.InstanceId,
        state: instance.State?.Name ?? "pending",
        privateIpAddress: instance.PrivateIpAddress,
        availabilityZone: instance.Placement?.AvailabilityZone,
        instanceType: instance.InstanceType,
        impaired: false,
      });
    }
    const running = [...observed.values()].filter((instance) => instance.state === "running");
    if (running.length > 0) {
      const statuses = await this.ec2.send(
        new DescribeInstanceStatusCommand({
          InstanceIds: running.map((instance) => instance.instanceId),
          IncludeAllInstances: true,
        }),
      );
      for (const status of statuses.InstanceStatuses ?? []) {
        const instance = status.InstanceId === undefined ? undefined : observed.get(status.InstanceId);
        if (instance === undefined) continue;
        instance.impaired =
          status.InstanceStatus?.Status === "impaired" || status.SystemStatus?.Status === "impaired";
      }
    }
    return observed;
  }

  private async describe(instanceIds: string[]): Promise<Instance[]> {
    try {
      const response = await this.ec2.send(new DescribeInstancesCommand({ InstanceIds: instanceIds }));
      return (response.Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []);
    } catch (error) {
      if (errorName(error) !== "InvalidInstanceID.NotFound") throw error;
      if (instanceIds.length === 1) return [];
      // EC2 fails the whole call when one id is unknown: ask one by one to learn which vanished.
      const found = await Promise.all(instanceIds.map((id) => this.describe([id])));
      return found.flat();
    }
  }

  /** Terminates instances; one EC2 no longer knows is already gone, which is what was asked. */
  async terminate(instanceIds: string[]): Promise<void> {
    if (instanceIds.length === 0) return;
    try {
      await this.ec2.send(new TerminateInstancesCommand({ InstanceIds: instanceIds }));
    } catch (error) {
      if (errorName(error) !== "InvalidInstanceID.NotFound") throw error;
      if (instanceIds.length > 1) await Promise.all(instanceIds.map((id) => this.terminate([id])));
    }
  }
}
