/**
 * Launching and terminating a group's instances through EC2, each recorded as a scaling
 * activity the way `DescribeScalingActivities` shows them on AWS.
 */
import { randomUUID } from "node:crypto";
import type { LaunchedInstance } from "./ec2-fleet.ts";
import type { EmulatorContext } from "./emulator-context.ts";
import type { Group, GroupInstance, LaunchTemplateRef, ScalingActivity } from "./state.ts";

/** The tag AWS puts on every instance a group launches. */
export const groupNameTag = "aws:autoscaling:groupName";

/** Records a finished scaling activity, newest first as AWS lists them. */
export function recordActivity(
  context: EmulatorContext,
  group: Group,
  activity: Pick<ScalingActivity, "description" | "cause" | "statusCode"> & { statusMessage?: string },
): ScalingActivity {
  const now = new Date().toISOString();
  const recorded: ScalingActivity = {
    activityId: randomUUID(),
    groupName: group.name,
    groupArn: group.arn,
    startTime: now,
    endTime: now,
    progress: 100,
    details: JSON.stringify({ "Availability Zone": group.availabilityZones[0] ?? "" }),
    ...activity,
  };
  context.store.state.activities.unshift(recorded);
  return recorded;
}

/** `At <time> ` as AWS starts every activity cause. */
export function causeAt(text: string): string {
  return `At ${new Date().toISOString().replace(/\.\d+Z$/, "Z")} ${text}`;
}

/**
 * Launches `count` instances of the group from an exact template version. Failures are
 * recorded as a Failed activity and rethrown.
 */
export async function launchGroupInstances(
  context: EmulatorContext,
  group: Group,
  template: LaunchTemplateRef,
  count: number,
  cause: string,
): Promise<GroupInstance[]> {
  const tags = [
    { key: groupNameTag, value: group.name },
    ...group.tags.filter((tag) => tag.propagateAtLaunch && tag.key !== groupNameTag),
  ];
  let launched: LaunchedInstance[];
  try {
    launched = await context.fleet.launch(template, tags, count, randomUUID());
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    recordActivity(context, group, {
      description: `Launching a new EC2 instance.  Status Reason: ${message}. Launching EC2 instance failed.`,
      cause,
      statusCode: "Failed",
      statusMessage: message,
    });
    context.log(`autoscaling: ${group.name}: launch failed: ${message}`);
    void context.store.save();
    throw error;
  }
  const instances = launched.map(
    (instance): GroupInstance => ({
      instanceId: instance.instanceId,
      lifecycleState: "Pending",
      healthStatus: "Healthy",
      launchTemplate: template,
      availabilityZone: instance.availabilityZone || group.availabilityZones[0] || `${context.region}a`,
      instanceType: instance.instanceType,
      privateIpAddress: instance.privateIpAddress,
      launchedAt: Date.now(),
    }),
  );
  for (const instance of instances) {
    group.instances.push(instance);
    recordActivity(context, group, {
      description: `Launching a new EC2 instance: ${instance.instanceId}`,
      cause,
      statusCode: "Successful",
    });
    context.log(
      `autoscaling: ${group.name}: launched ${instance.instanceId} from version ${template.version}`,
    );
  }
  await context.store.save();
  return instances;
}

/** Terminates some of the group's instances; they show as Terminating until EC2 has ended them. */
export async function terminateGroupInstances(
  context: EmulatorContext,
  group: Group,
  instances: GroupInstance[],
  cause: string,
): Promise<ScalingActivity[]> {
  if (instances.length === 0) return [];
  await context.fleet.terminate(instances.map((instance) => instance.instanceId));
  const activities = instances.map((instance) => {
    instance.lifecycleState = "Terminating";
    context.log(`autoscaling: ${group.name}: terminating ${instance.instanceId}`);
    return recordActivity(context, group, {
      description: `Terminating EC2 instance: ${instance.instanceId}`,
      cause,
      statusCode: "Successful",
    });
  });
  await context.store.save();
  return activities;
}

/** The group's instances that count toward its capacity (not on their way out). */
export function liveInstances(group: Group): GroupInstance[] {
  return group.instances.filter((instance) => instance.lifecycleState !== "Terminating");
}

/** An instance that is in service and passing its health check. */
export function isServing(instance: GroupInstance): boolean {
  return instance.lifecycleState === "InService" && instance.healthStatus === "Healthy";
}
