/** ScalingGroups on EC2 launch templates and EC2 Auto Scaling. */
import {
  type AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  RollbackInstanceRefreshCommand,
  StartInstanceRefreshCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplatesCommand,
  type EC2Client,
} from "@aws-sdk/client-ec2";
import { ResourceNotFoundError, ServiceConfigError } from "../errors.ts";
import type { GroupInfo, RefreshInfo, RefreshStatus, RolloutPreferences, ScalingGroups } from "../ports.ts";
import { callAws, isAwsError } from "./aws-errors.ts";
import { autoScalingClient, ec2Client } from "./clients.ts";

/** How Kiln reads each instance refresh status AWS reports. */
export const refreshStatusMap: Record<string, RefreshStatus> = {
  Pending: "RUNNING",
  InProgress: "RUNNING",
  Baking: "RUNNING",
  Successful: "SUCCEEDED",
  Cancelling: "ROLLING_BACK",
  RollbackInProgress: "ROLLING_BACK",
  RollbackSuccessful: "ROLLED_BACK",
  Failed: "FAILED",
  Cancelled: "FAILED",
  RollbackFailed: "FAILED",
};

export class AutoScalingGroups implements ScalingGroups {
  constructor(
    private readonly autoScaling: AutoScalingClient = autoScalingClient(),
    private readonly ec2: EC2Client = ec2Client(),
  ) {}

  async describeGroup(name: string): Promise<GroupInfo> {
    const result = await callAws(`DescribeAutoScalingGroups ${name}`, () =>
      this.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] })),
    );
    const group = result.AutoScalingGroups?.[0];
    if (!group) throw new ResourceNotFoundError(`auto-scaling group "${name}" does not exist`);
    const template = group.LaunchTemplate;
    if (!template?.LaunchTemplateId) {
      throw new ServiceConfigError(
        `auto-scaling group "${name}" does not use a launch template (mixed instances policies are not supported)`,
      );
    }
    return {
      name,
      launchTemplateId: template.LaunchTemplateId,
      launchTemplateVersion: template.Version ?? "$Default",
      desiredCapacity: group.DesiredCapacity ?? 0,
      subnetIds: (group.VPCZoneIdentifier ?? "")
        .split(",")
        .map((subnet) => subnet.trim())
        .filter(Boolean),
    };
  }

  async resolveTemplateVersion(launchTemplateId: string, version: string): Promise<string> {
    if (/^\d+$/.test(version)) return version;
    const result = await callAws(
      `DescribeLaunchTemplates ${launchTemplateId}`,
      () => this.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [launchTemplateId] })),
      ["InvalidLaunchTemplateId.NotFound", "InvalidLaunchTemplateId.Malformed"],
    );
    const template = result.LaunchTemplates?.[0];
    const number = version === "$Latest" ? template?.LatestVersionNumber : template?.DefaultVersionNumber;
    if (number === undefined)
      throw new ResourceNotFoundError(`launch template ${launchTemplateId} has no ${version} version`);
    return String(number);
  }

  async createTemplateVersion(request: {
    launchTemplateId: string;
    sourceVersion: string;
    imageId: string;
    description: string;
    clientToken: string;
  }): Promise<string> {
    const result = await callAws(`CreateLaunchTemplateVersion ${request.launchTemplateId}`, () =>
      this.ec2.send(
        new CreateLaunchTemplateVersionCommand({
          LaunchTemplateId: request.launchTemplateId,
          SourceVersion: request.sourceVersion,
          VersionDescription: request.description.slice(0, 255),
          ClientToken: request.clientToken.slice(0, 64),
          LaunchTemplateData: {
            ImageId: request.imageId,
            MetadataOptions: { HttpTokens: "required", HttpEndpoint: "enabled", HttpPutResponseHopLimit: 1 },
          },
        }),
      ),
    );
    const number = result.LaunchTemplateVersion?.VersionNumber;
    if (number === undefined)
      throw new Error(`CreateLaunchTemplateVersion ${request.launchTemplateId} returned no version`);
    return String(number);
  }

  async setGroupTemplateVersion(groupName: string, launchTemplateId: string, version: string): Promise<void> {
    await callAws(`UpdateAutoScalingGroup ${groupName}`, () =>
      this.autoScaling.send(
        new UpdateAutoScalingGroupCommand({
          AutoScalingGroupName: groupName,
          LaunchTemplate: { LaunchTemplateId: launchTemplateId, Version: version },
        }),
      ),
    );
  }

  async startRefresh(request: {
    groupName: string;
    launchTemplateId: string;
    version: string;
    preferences: RolloutPreferences;
  }): Promise<string> {
    const { preferences } = request;
    try {
      const result = await callAws(`StartInstanceRefresh ${request.groupName}`, () =>
        this.autoScaling.send(
          new StartInstanceRefreshCommand({
            AutoScalingGroupName: request.groupName,
            Strategy: "Rolling",
            // The desired configuration names the exact version: it is what makes rollback possible.
            DesiredConfiguration: {
              LaunchTemplate: { LaunchTemplateId: request.launchTemplateId, Version: request.version },
            },
            Preferences: {
              MinHealthyPercentage: preferences.minHealthyPercentage,
              InstanceWarmup: preferences.instanceWarmupSeconds,
              SkipMatching: preferences.skipMatching,
              AutoRollback: preferences.autoRollback,
            },
          }),
        ),
      );
      if (!result.InstanceRefreshId)
        throw new Error(`StartInstanceRefresh ${request.groupName} returned no id`);
      return result.InstanceRefreshId;
    } catch (error) {
      if (!isAwsError(error, "InstanceRefreshInProgressFault")) throw error;
      // A retried start finds its own refresh running: adopt it. Anyone else's is a conflict.
      const active = await this.activeRefresh(request.groupName);
      if (
        active &&
        active.version === request.version &&
        active.launchTemplateId === request.launchTemplateId
      )
        return active.refreshId;
      throw new ServiceConfigError(
        `group "${request.groupName}" is already being refreshed by someone else`,
        { cause: error },
      );
    }
  }

  async describeRefresh(groupName: string, refreshId: string): Promise<RefreshInfo> {
    const result = await callAws(`DescribeInstanceRefreshes ${groupName}`, () =>
      this.autoScaling.send(
        new DescribeInstanceRefreshesCommand({
          AutoScalingGroupName: groupName,
          InstanceRefreshIds: [refreshId],
        }),
      ),
    );
    const refresh = result.InstanceRefreshes?.[0];
    if (!refresh)
      throw new ResourceNotFoundError(`instance refresh ${refreshId} of "${groupName}" does not exist`);
    const status = refreshStatusMap[refresh.Status ?? ""] ?? "RUNNING";
    const rollback = refresh.RollbackDetails?.RollbackReason;
    return {
      refreshId,
      status,
      percentComplete: refresh.PercentageComplete ?? 0,
      reason: [refresh.StatusReason, rollback].filter(Boolean).join(" — ") || undefined,
    };
  }

  async rollbackRefresh(groupName: string): Promise<boolean> {
    try {
      await callAws(`RollbackInstanceRefresh ${groupName}`, () =>
        this.autoScaling.send(new RollbackInstanceRefreshCommand({ AutoScalingGroupName: groupName })),
      );
      return true;
    } catch (error) {
      if (isAwsError(error, "ActiveInstanceRefreshNotFoundFault", "IrreversibleInstanceRefreshFault"))
        return false;
      throw error;
    }
  }

  private async activeRefresh(groupName: string) {
    const result = await callAws(`DescribeInstanceRefreshes ${groupName}`, () =>
      this.autoScaling.send(
        new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: groupName, MaxRecords: 5 }),
      ),
    );
    const active = result.InstanceRefreshes?.find((refresh) =>
      ["Pending", "InProgress"].includes(refresh.Status ?? ""),
    );
    const template = active?.DesiredConfiguration?.LaunchTemplate;
    if (!active?.InstanceRefreshId || !template) return undefined;
    return {
      refreshId: active.InstanceRefreshId,
      launchTemplateId: template.LaunchTemplateId,
      version: template.Version,
    };
  }
}
