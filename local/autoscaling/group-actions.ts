/**
 * The Auto Scaling group actions: create, describe, update, resize, terminate an instance,
 * delete, and the scaling activities they leave behind.
 */
import { randomUUID } from "node:crypto";
import * as z from "zod";
import type { ActionHandler } from "./action-handler.ts";
import { activeRefreshOf, findGroup, requireGroup } from "./emulator-context.ts";
import { AutoScalingError, groupNotFound } from "./errors.ts";
import { causeAt, liveInstances, terminateGroupInstances } from "./group-fleet.ts";
import { paginate } from "./paging.ts";
import { parseParams, queryBool, queryInt, queryList } from "./query-protocol.ts";
import { enterRefreshStatus } from "./refresh-events.ts";
import { groupNameParam, launchTemplateParam, templateRequest } from "./request-params.ts";
import { activityShape, autoScalingInstanceShape, groupShape } from "./response-shapes.ts";
import type { Group, GroupTag } from "./state.ts";

const tagParam = z.object({
  Key: z.string().min(1).max(128),
  Value: z.string().max(256).optional(),
  PropagateAtLaunch: queryBool.optional(),
});

function checkSizes(min: number, max: number, desired: number): void {
  if (min > max) {
    throw new AutoScalingError(
      "ValidationError",
      `Max bound, ${max}, must be greater than or equal to min bound, ${min}`,
    );
  }
  if (desired < min || desired > max) {
    throw new AutoScalingError(
      "ValidationError",
      `Desired capacity:${desired} must be between the specified min size:${min} and max size:${max}`,
    );
  }
}

const createParams = z.object({
  AutoScalingGroupName: groupNameParam,
  LaunchTemplate: launchTemplateParam,
  MinSize: queryInt.min(0),
  MaxSize: queryInt.min(0),
  DesiredCapacity: queryInt.min(0).optional(),
  AvailabilityZones: queryList(z.string()).optional(),
  VPCZoneIdentifier: z.string().optional(),
  HealthCheckType: z.string().optional(),
  HealthCheckGracePeriod: queryInt.min(0).optional(),
  DefaultInstanceWarmup: queryInt.min(-1).optional(),
  DefaultCooldown: queryInt.min(0).optional(),
  Tags: queryList(tagParam).optional(),
});

const createAutoScalingGroup: ActionHandler = async ({ context }, raw) => {
  const params = parseParams(createParams, raw);
  const name = params.AutoScalingGroupName;
  if (findGroup(context, name) !== undefined) {
    throw new AutoScalingError(
      "AlreadyExists",
      `AutoScalingGroup by this name already exists - A group with the name ${name} already exists`,
    );
  }
  const desired = params.DesiredCapacity ?? params.MinSize;
  checkSizes(params.MinSize, params.MaxSize, desired);
  const template = await context.fleet.resolveLaunchTemplate(templateRequest(params.LaunchTemplate));
  // Resolving the template awaited EC2: a concurrent create of the same name may have won.
  if (findGroup(context, name) !== undefined) {
    throw new AutoScalingError(
      "AlreadyExists",
      `AutoScalingGroup by this name already exists - A group with the name ${name} already exists`,
    );
  }
  const tags: GroupTag[] = (params.Tags ?? []).map((tag) => ({
    key: tag.Key,
    value: tag.Value ?? "",
    propagateAtLaunch: tag.PropagateAtLaunch ?? false,
  }));
  context.store.state.groups.push({
    name,
    arn: `arn:aws:autoscaling:${context.region}:${context.accountId}:autoScalingGroup:${randomUUID()}:autoScalingGroupName/${name}`,
    createdTime: new Date().toISOString(),
    launchTemplate: template.ref,
    minSize: params.MinSize,
    maxSize: params.MaxSize,
    desiredCapacity: desired,
    availabilityZones:
      params.AvailabilityZones !== undefined && params.AvailabilityZones.length > 0
        ? params.AvailabilityZones
        : [`${context.region}a`],
    vpcZoneIdentifier: params.VPCZoneIdentifier,
    healthCheckType: params.HealthCheckType ?? "EC2",
    healthCheckGracePeriod: params.HealthCheckGracePeriod ?? 0,
    defaultInstanceWarmup: params.DefaultInstanceWarmup,
    defaultCooldown: params.DefaultCooldown ?? 300,
    tags,
    instances: [],
  });
  context.log(
    `autoscaling: created ${name} (${params.MinSize}/${desired}/${params.MaxSize}) on ${template.ref.name} ${template.ref.version}`,
  );
  await context.store.save();
  return undefined;
};

const describeGroupsParams = z.object({
  AutoScalingGroupNames: queryList(z.string()).optional(),
  IncludeInstances: queryBool.optional(),
  Filters: queryList(z.object({ Name: z.string(), Values: queryList(z.string()).optional() })).optional(),
  MaxRecords: queryInt.min(1).max(100).optional(),
  NextToken: z.string().optional(),
});

/** Whether a group passes one DescribeAutoScalingGroups filter (values are alternatives). */
function matchesFilter(group: Group, filter: { Name: string; Values?: string[] | undefined }): boolean {
  const values = filter.Values ?? [];
  if (filter.Name.startsWith("tag:")) {
    const key = filter.Name.slice("tag:".length);
    return group.tags.some((tag) => tag.key === key && values.includes(tag.value));
  }
  if (filter.Name === "tag-key") return group.tags.some((tag) => values.includes(tag.key));
  if (filter.Name === "tag-value") return group.tags.some((tag) => values.includes(tag.value));
  throw new AutoScalingError("ValidationError", `Filter name ${filter.Name} is not valid.`);
}

const describeAutoScalingGroups: ActionHandler = async ({ context }, raw) => {
  const params = parseParams(describeGroupsParams, raw);
  const names = params.AutoScalingGroupNames ?? [];
  const groups = context.store.state.groups
    .filter((group) => names.length === 0 || names.includes(group.name))
    .filter((group) => (params.Filters ?? []).every((filter) => matchesFilter(group, filter)))
    .sort((a, b) => a.name.localeCompare(b.name));
  const page = paginate(groups, params.MaxRecords ?? 50, params.NextToken);
  return {
    AutoScalingGroups: page.items.map((group) => groupShape(group, params.IncludeInstances ?? true)),
    NextToken: page.nextToken,
  };
};

const updateParams = z.object({
  AutoScalingGroupName: groupNameParam,
  LaunchTemplate: launchTemplateParam.optional(),
  MinSize: queryInt.min(0).optional(),
  MaxSize: queryInt.min(0).optional(),
  DesiredCapacity: queryInt.min(0).optional(),
  HealthCheckType: z.string().optional(),
  HealthCheckGracePeriod: queryInt.min(0).optional(),
  DefaultInstanceWarmup: queryInt.min(-1).optional(),
  DefaultCooldown: queryInt.min(0).optional(),
  VPCZoneIdentifier: z.string().optional(),
});

const updateAutoScalingGroup: ActionHandler = async (runtime, raw) => {
  const { context } = runtime;
  const params = parseParams(updateParams, raw);
  const group = requireGroup(runtime.context, params.AutoScalingGroupName);
  const template =
    params.LaunchTemplate === undefined
      ? undefined
      : await context.fleet.resolveLaunchTemplate(templateRequest(params.LaunchTemplate));
  await context.locks.run(group.name, async () => {
    const min = params.MinSize ?? group.minSize;
    const max = params.MaxSize ?? group.maxSize;
    // As on AWS, moving a bound past the current desired capacity drags it along.
    const desired = params.DesiredCapacity ?? Math.min(Math.max(group.desiredCapacity, min), max);
    checkSizes(min, max, desired);
    group.minSize = min;
    group.maxSize = max;
    group.desiredCapacity = desired;
    if (template !== undefined) group.launchTemplate = template.ref;
    if (params.HealthCheckType !== undefined) group.healthCheckType = params.HealthCheckType;
    if (params.HealthCheckGracePeriod !== undefined)
      group.healthCheckGracePeriod = params.HealthCheckGracePeriod;
    if (params.DefaultInstanceWarmup !== undefined)
      group.defaultInstanceWarmup = params.DefaultInstanceWarmup;
    if (params.DefaultCooldown !== undefined) group.defaultCooldown = params.DefaultCooldown;
    if (params.VPCZoneIdentifier !== undefined) group.vpcZoneIdentifier = params.VPCZoneIdentifier;
    await context.store.save();
  });
  return undefined;
};

const setDesiredParams = z.object({
  AutoScalingGroupName: groupNameParam,
  DesiredCapacity: queryInt.min(0),
  HonorCooldown: queryBool.optional(),
});

const setDesiredCapacity: ActionHandler = async (runtime, raw) => {
  const params = parseParams(setDesiredParams, raw);
  const group = requireGroup(runtime.context, params.AutoScalingGroupName);
  const desired = params.DesiredCapacity;
  if (desired > group.maxSize) {
    throw new AutoScalingError(
      "ValidationError",
      `New SetDesiredCapacity value ${desired} is above max value ${group.maxSize} for the AutoScalingGroup.`,
    );
  }
  if (desired < group.minSize) {
    throw new AutoScalingError(
      "ValidationError",
      `New SetDesiredCapacity value ${desired} is below min value ${group.minSize} for the AutoScalingGroup.`,
    );
  }
  group.desiredCapacity = desired;
  await runtime.context.store.save();
  return undefined;
};

const describeInstancesParams = z.object({
  InstanceIds: queryList(z.string()).optional(),
  MaxRecords: queryInt.min(1).max(50).optional(),
  NextToken: z.string().optional(),
});

const describeAutoScalingInstances: ActionHandler = async ({ context }, raw) => {
  const params = parseParams(describeInstancesParams, raw);
  const ids = params.InstanceIds ?? [];
  const entries = context.store.state.groups
    .flatMap((group) => group.instances.map((instance) => ({ group, instance })))
    .filter(({ instance }) => ids.length === 0 || ids.includes(instance.instanceId))
    .sort((a, b) => a.instance.instanceId.localeCompare(b.instance.instanceId));
  const page = paginate(entries, params.MaxRecords ?? 50, params.NextToken);
  return {
    AutoScalingInstances: page.items.map(({ group, instance }) => autoScalingInstanceShape(group, instance)),
    NextToken: page.nextToken,
  };
};

const terminateParams = z.object({
  InstanceId: z.string().min(1),
  ShouldDecrementDesiredCapacity: queryBool,
});

const terminateInstanceInAutoScalingGroup: ActionHandler = async ({ context }, raw) => {
  const params = parseParams(terminateParams, raw);
  const group = context.store.state.groups.find((candidate) =>
    liveInstances(candidate).some((instance) => instance.instanceId === params.InstanceId),
  );
  if (group === undefined) {
    throw new AutoScalingError(
      "ValidationError",
      `Instance Id not found - No managed instance found for instance ID: ${params.InstanceId}`,
    );
  }
  const activity = await context.locks.run(group.name, async () => {
    const instance = liveInstances(group).find((candidate) => candidate.instanceId === params.InstanceId);
    if (instance === undefined) {
      throw new AutoScalingError(
        "ValidationError",
        `Instance Id not found - No managed instance found for instance ID: ${params.InstanceId}`,
      );
    }
    const before = group.desiredCapacity;
    if (params.ShouldDecrementDesiredCapacity) {
      if (before - 1 < group.minSize) {
        throw new AutoScalingError(
          "ValidationError",
          `Currently, desiredSize equals minSize (${group.minSize}). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.`,
        );
      }
      group.desiredCapacity = before - 1;
    }
    const [recorded] = await terminateGroupInstances(
      context,
      group,
      [instance],
      causeAt(
        params.ShouldDecrementDesiredCapacity
          ? `instance ${instance.instanceId} was taken out of service in response to a user request, shrinking the capacity from ${before} to ${group.desiredCapacity}.`
          : `instance ${instance.instanceId} was taken out of service in response to a user request.`,
      ),
    );
    return recorded;
  });
  return { Activity: activity === undefined ? undefined : activityShape(activity) };
};

const deleteParams = z.object({
  AutoScalingGroupName: groupNameParam,
  ForceDelete: queryBool.optional(),
});

const deleteAutoScalingGroup: ActionHandler = async (runtime, raw) => {
  const { context } = runtime;
  const params = parseParams(deleteParams, raw);
  const group = findGroup(context, params.AutoScalingGroupName);
  if (group === undefined) throw groupNotFound(params.AutoScalingGroupName);
  await context.locks.run(group.name, async () => {
    const force = params.ForceDelete ?? false;
    const refresh = activeRefreshOf(context, group.name);
    if (!force && (group.instances.length > 0 || refresh !== undefined)) {
      throw new AutoScalingError(
        "ResourceInUse",
        "You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group.",
      );
    }
    if (refresh !== undefined) {
      refresh.statusReason = "The Auto Scaling group was deleted.";
      refresh.endTime = new Date().toISOString();
      refresh.awaiting = [];
      enterRefreshStatus(context, refresh, "Cancelled");
    }
    group.minSize = 0;
    group.desiredCapacity = 0;
    group.status = "Delete in progress";
    const live = liveInstances(group);
    if (live.length > 0) {
      await terminateGroupInstances(
        context,
        group,
        live,
        causeAt("an instance was taken out of service in response to a user request to delete the group."),
      );
    }
    if (group.instances.length === 0) {
      // Nothing left to wait for: the group goes at once (with instances, the reconciler
      // removes it once EC2 has terminated them, showing "Delete in progress" until then).
      const state = context.store.state;
      state.groups = state.groups.filter((candidate) => candidate !== group);
      state.refreshes = state.refreshes.filter((candidate) => candidate.groupName !== group.name);
    }
    context.log(`autoscaling: deleting ${group.name}`);
    await context.store.save();
  });
  return undefined;
};

const activitiesParams = z.object({
  ActivityIds: queryList(z.string()).optional(),
  AutoScalingGroupName: z.string().optional(),
  IncludeDeletedGroups: queryBool.optional(),
  MaxRecords: queryInt.min(1).max(100).optional(),
  NextToken: z.string().optional(),
});

const describeScalingActivities: ActionHandler = async ({ context }, raw) => {
  const params = parseParams(activitiesParams, raw);
  const ids = params.ActivityIds ?? [];
  const existing = new Set(context.store.state.groups.map((group) => group.name));
  const activities = context.store.state.activities
    .filter((activity) => ids.length === 0 || ids.includes(activity.activityId))
    .filter(
      (activity) =>
        params.AutoScalingGroupName === undefined || activity.groupName === params.AutoScalingGroupName,
    )
    .filter((activity) => params.IncludeDeletedGroups === true || existing.has(activity.groupName));
  const page = paginate(activities, params.MaxRecords ?? 100, params.NextToken);
  return { Activities: page.items.map(activityShape), NextToken: page.nextToken };
};

export const groupActions: Record<string, ActionHandler> = {
  CreateAutoScalingGroup: createAutoScalingGroup,
  DescribeAutoScalingGroups: describeAutoScalingGroups,
  UpdateAutoScalingGroup: updateAutoScalingGroup,
  SetDesiredCapacity: setDesiredCapacity,
  DescribeAutoScalingInstances: describeAutoScalingInstances,
  TerminateInstanceInAutoScalingGroup: terminateInstanceInAutoScalingGroup,
  DeleteAutoScalingGroup: deleteAutoScalingGroup,
  DescribeScalingActivities: describeScalingActivities,
};
