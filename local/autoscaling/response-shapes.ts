/**
 * The emulator's records in the XML shapes the SDK deserialises: member names and nesting
 * follow the Auto Scaling service model (a wrong name is silently dropped by the SDK).
 */
import { percentageComplete } from "./instance-refresh.ts";
import type { XmlValue } from "./query-protocol.ts";
import type { Group, GroupInstance, InstanceRefresh, LaunchTemplateRef, ScalingActivity } from "./state.ts";

type XmlRecord = { [key: string]: XmlValue };

export function launchTemplateShape(ref: LaunchTemplateRef): XmlRecord {
  return { LaunchTemplateId: ref.id, LaunchTemplateName: ref.name, Version: ref.version };
}

/** An entry of AutoScalingGroup.Instances. */
export function instanceShape(instance: GroupInstance): XmlRecord {
  return {
    InstanceId: instance.instanceId,
    InstanceType: instance.instanceType,
    AvailabilityZone: instance.availabilityZone,
    LifecycleState: instance.lifecycleState,
    HealthStatus: instance.healthStatus,
    LaunchTemplate: launchTemplateShape(instance.launchTemplate),
    ProtectedFromScaleIn: false,
  };
}

/** An entry of DescribeAutoScalingInstances, where AWS spells health in capitals. */
export function autoScalingInstanceShape(group: Group, instance: GroupInstance): XmlRecord {
  return {
    InstanceId: instance.instanceId,
    InstanceType: instance.instanceType,
    AutoScalingGroupName: group.name,
    AvailabilityZone: instance.availabilityZone,
    LifecycleState: instance.lifecycleState,
    HealthStatus: instance.healthStatus === "Healthy" ? "HEALTHY" : "UNHEALTHY",
    LaunchTemplate: launchTemplateShape(instance.launchTemplate),
    ProtectedFromScaleIn: false,
  };
}

export function groupShape(group: Group, includeInstances: boolean): XmlRecord {
  return {
    AutoScalingGroupName: group.name,
    AutoScalingGroupARN: group.arn,
    LaunchTemplate: launchTemplateShape(group.launchTemplate),
    MinSize: group.minSize,
    MaxSize: group.maxSize,
    DesiredCapacity: group.desiredCapacity,
    DefaultCooldown: group.defaultCooldown,
    AvailabilityZones: group.availabilityZones,
    LoadBalancerNames: [],
    TargetGroupARNs: [],
    HealthCheckType: group.healthCheckType,
    HealthCheckGracePeriod: group.healthCheckGracePeriod,
    Instances: includeInstances ? group.instances.map(instanceShape) : undefined,
    CreatedTime: group.createdTime,
    SuspendedProcesses: [],
    VPCZoneIdentifier: group.vpcZoneIdentifier,
    EnabledMetrics: [],
    Status: group.status,
    Tags: group.tags.map((tag) => ({
      ResourceId: group.name,
      ResourceType: "auto-scaling-group",
      Key: tag.key,
      Value: tag.value,
      PropagateAtLaunch: tag.propagateAtLaunch,
    })),
    TerminationPolicies: ["Default"],
    NewInstancesProtectedFromScaleIn: false,
    DefaultInstanceWarmup: group.defaultInstanceWarmup,
  };
}

function progress(percentage: number, toUpdate: number): XmlRecord {
  return { LivePoolProgress: { PercentageComplete: percentage, InstancesToUpdate: toUpdate } };
}

export function refreshShape(refresh: InstanceRefresh): XmlRecord {
  const rollback = refresh.rollback;
  // While and after rolling back, the refresh's progress is the rollback's, as on AWS.
  const percentage =
    rollback === undefined
      ? percentageComplete(refresh)
      : rollback.instancesToUpdate === 0
        ? 100
        : Math.floor((100 * rollback.replaced) / rollback.instancesToUpdate);
  const toUpdate =
    rollback === undefined
      ? Math.max(0, refresh.instancesToUpdate - refresh.replaced)
      : Math.max(0, rollback.instancesToUpdate - rollback.replaced);
  return {
    InstanceRefreshId: refresh.id,
    AutoScalingGroupName: refresh.groupName,
    Status: refresh.status,
    StatusReason: refresh.statusReason,
    StartTime: refresh.startTime,
    EndTime: refresh.endTime,
    PercentageComplete: percentage,
    InstancesToUpdate: toUpdate,
    ProgressDetails: progress(percentage, toUpdate),
    Preferences: {
      MinHealthyPercentage: refresh.preferences.minHealthyPercentage,
      InstanceWarmup: refresh.preferences.instanceWarmup,
      SkipMatching: refresh.preferences.skipMatching,
      AutoRollback: refresh.preferences.autoRollback,
      ScaleInProtectedInstances: "Ignore",
      StandbyInstances: "Ignore",
      MaxHealthyPercentage: refresh.preferences.maxHealthyPercentage,
    },
    DesiredConfiguration:
      refresh.desiredConfiguration === undefined
        ? undefined
        : { LaunchTemplate: launchTemplateShape(refresh.desiredConfiguration) },
    RollbackDetails:
      rollback === undefined
        ? undefined
        : {
            RollbackReason: rollback.reason,
            RollbackStartTime: rollback.startTime,
            PercentageCompleteOnRollback: rollback.percentageCompleteOnRollback,
            InstancesToUpdateOnRollback: rollback.instancesToUpdateOnRollback,
            ProgressDetailsOnRollback: progress(
              rollback.percentageCompleteOnRollback,
              rollback.instancesToUpdateOnRollback,
            ),
          },
    Strategy: refresh.strategy,
  };
}

export function activityShape(activity: ScalingActivity): XmlRecord {
  return {
    ActivityId: activity.activityId,
    AutoScalingGroupName: activity.groupName,
    AutoScalingGroupARN: activity.groupArn,
    Description: activity.description,
    Cause: activity.cause,
    StartTime: activity.startTime,
    EndTime: activity.endTime,
    StatusCode: activity.statusCode,
    StatusMessage: activity.statusMessage,
    Progress: activity.progress,
    Details: activity.details,
  };
}
