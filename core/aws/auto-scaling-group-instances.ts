/** GroupInstances on Auto Scaling and EC2: a group's instances with the image each runs. */
import { type AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand, type EC2Client, type Instance } from "@aws-sdk/client-ec2";
import { ResourceNotFoundError } from "../errors.ts";
import type { GroupInstances, GroupSnapshot, InstanceState } from "../ports.ts";
import { callAws } from "./aws-errors.ts";
import { autoScalingClient, ec2Client } from "./clients.ts";

const instanceStates: readonly string[] = [
  "pending",
  "running",
  "stopping",
  "stopped",
  "shutting-down",
  "terminated",
];

function toInstanceState(name: string | undefined): InstanceState | undefined {
  return instanceStates.find((state): state is InstanceState => state === name);
}

export class AutoScalingGroupInstances implements GroupInstances {
  constructor(
    private readonly autoScaling: AutoScalingClient = autoScalingClient(),
    private readonly ec2: EC2Client = ec2Client(),
  ) {}

  async snapshot(groupName: string): Promise<GroupSnapshot> {
    const result = await callAws(`DescribeAutoScalingGroups ${groupName}`, () =>
      this.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] })),
    );
    const group = result.AutoScalingGroups?.[0];
    if (!group) throw new ResourceNotFoundError(`auto-scaling group "${groupName}" does not exist`);
    const members = group.Instances ?? [];
    const described = await this.describeInstances(
      members.flatMap((member) => (member.InstanceId ? [member.InstanceId] : [])),
    );
    return {
      name: groupName,
      desiredCapacity: group.DesiredCapacity ?? 0,
      launchTemplateVersion: group.LaunchTemplate?.Version,
      instances: members
        .map((member) => {
          const instance = described.get(member.InstanceId ?? "");
          return {
            instanceId: member.InstanceId ?? "",
            lifecycleState: member.LifecycleState ?? "Unknown",
            healthStatus: member.HealthStatus ?? "Unknown",
            launchTemplateVersion: member.LaunchTemplate?.Version,
            imageId: instance?.ImageId,
            state: toInstanceState(instance?.State?.Name),
            privateIp: instance?.PrivateIpAddress,
            launchedAt: instance?.LaunchTime?.toISOString(),
          };
        })
        .sort((a, b) => a.instanceId.localeCompare(b.instanceId)),
    };
  }

  private async describeInstances(ids: string[]): Promise<Map<string, Instance>> {
    const found = new Map<string, Instance>();
    // DescribeInstances with an id it no longer knows fails the whole call; filtering by id does not.
    for (let start = 0; start < ids.length; start += 200) {
      let nextToken: string | undefined;
      do {
        const page = await callAws("DescribeInstances of a group", () =>
          this.ec2.send(
            new DescribeInstancesCommand({
              Filters: [{ Name: "instance-id", Values: ids.slice(start, start + 200) }],
              NextToken: nextToken,
            }),
          ),
        );
        for (const instance of (page.Reservations ?? []).flatMap(
          (reservation) => reservation.Instances ?? [],
        )) {
          if (instance.InstanceId) found.set(instance.InstanceId, instance);
        }
        nextToken = page.NextToken || undefined;
      } while (nextToken);
    }
    return found;
  }
}
