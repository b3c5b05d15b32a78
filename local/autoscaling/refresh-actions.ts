/**
 * The instance refresh actions: start, describe, cancel and roll back, with the validation
 * AWS applies (one refresh at a time; rollback only to a pinned launch template version).
 */
import { randomUUID } from "node:crypto";
import * as z from "zod";
import type { ActionHandler } from "./action-handler.ts";
import { activeRefreshOf, requireGroup } from "./emulator-context.ts";
import { AutoScalingError } from "./errors.ts";
import { liveInstances } from "./group-fleet.ts";
import { isPinnedVersion } from "./instance-refresh.ts";
import { paginate } from "./paging.ts";
import { parseParams, queryBool, queryInt, queryList } from "./query-protocol.ts";
import { enterRefreshStatus } from "./refresh-events.ts";
import { groupNameParam, launchTemplateParam, templateRequest } from "./request-params.ts";
import { refreshShape } from "./response-shapes.ts";
import type { InstanceRefresh } from "./state.ts";

function unsupported(what: string): AutoScalingError {
  return new AutoScalingError(
    "ValidationError",
    `${what} is not supported by the local Auto Scaling emulator.`,
  );
}

function noActiveRefresh(name: string): AutoScalingError {
  return new AutoScalingError(
    "ActiveInstanceRefreshNotFound",
    `No in progress or pending Instance Refresh found for Auto Scaling group ${name}`,
  );
}

const startParams = z.object({
  AutoScalingGroupName: groupNameParam,
  Strategy: z.string().optional(),
  DesiredConfiguration: z
    .object({ LaunchTemplate: launchTemplateParam.optional(), MixedInstancesPolicy: z.unknown().optional() })
    .optional(),
  Preferences: z
    .object({
      MinHealthyPercentage: queryInt.min(0).max(100).optional(),
      MaxHealthyPercentage: queryInt.min(100).max(200).optional(),
      InstanceWarmup: queryInt.min(0).optional(),
      SkipMatching: queryBool.optional(),
      AutoRollback: queryBool.optional(),
      CheckpointPercentages: z.unknown().optional(),
      CheckpointDelay: z.unknown().optional(),
      AlarmSpecification: z.unknown().optional(),
      BakeTime: z.unknown().optional(),
      ScaleInProtectedInstances: z.enum(["Refresh", "Ignore", "Wait"]).optional(),
      StandbyInstances: z.enum(["Terminate", "Ignore", "Wait"]).optional(),
    })
    .optional(),
});

const startInstanceRefresh: ActionHandler = async ({ context, refreshes }, raw) => {
  const params = parseParams(startParams, raw);
  const group = requireGroup(context, params.AutoScalingGroupName);
  if (activeRefreshOf(context, group.name) !== undefined) {
    throw new AutoScalingError(
      "InstanceRefreshInProgress",
      "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.",
    );
  }
  if (params.Strategy !== undefined && params.Strategy !== "Rolling")
    throw unsupported(`Strategy ${params.Strategy}`);
  if (params.DesiredConfiguration?.MixedInstancesPolicy !== undefined)
    throw unsupported("MixedInstancesPolicy");
  const preferences = params.Preferences ?? {};
  if (preferences.CheckpointPercentages !== undefined || preferences.CheckpointDelay !== undefined) {
    throw unsupported("Checkpoints");
  }
  if (preferences.AlarmSpecification !== undefined) throw unsupported("AlarmSpecification");
  if (preferences.BakeTime !== undefined) throw unsupported("BakeTime");
  const minHealthy = preferences.MinHealthyPercentage ?? 90;
  const maxHealthy = preferences.MaxHealthyPercentage ?? 100;
  if (maxHealthy - minHealthy > 100) {
    throw new AutoScalingError(
      "ValidationError",
      "The difference between MaxHealthyPercentage and MinHealthyPercentage must not exceed 100.",
    );
  }
  const desiredTemplate = params.DesiredConfiguration?.LaunchTemplate;
  const autoRollback = preferences.AutoRollback ?? false;
  if (autoRollback) {
    if (desiredTemplate === undefined) {
      throw new AutoScalingError(
        "ValidationError",
        "AutoRollback requires a DesiredConfiguration: an instance refresh without one cannot be rolled back.",
      );
    }
    const unpinned = [group.launchTemplate.version, desiredTemplate.Version ?? "$Default"].find(
      (version) => !isPinnedVersion(version),
    );
    if (unpinned !== undefined) {
      throw new AutoScalingError(
        "ValidationError",
        `AutoRollback is not supported with launch template version ${unpinned}: use a specific version number.`,
      );
    }
  }
  const resolvedDesired =
    desiredTemplate === undefined
      ? undefined
      : await context.fleet.resolveLaunchTemplate(templateRequest(desiredTemplate));
  const resolvedCurrent = await context.fleet.resolveLaunchTemplate(group.launchTemplate);
  const target = resolvedDesired ?? resolvedCurrent;
  // Resolving templates awaited EC2: another refresh may have started meanwhile.
  if (activeRefreshOf(context, group.name) !== undefined) {
    throw new AutoScalingError(
      "InstanceRefreshInProgress",
      "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.",
    );
  }
  const skipMatching = preferences.SkipMatching ?? false;
  const targetRef = { ...target.ref, version: target.resolvedVersion };
  const toUpdate = liveInstances(group).filter(
    (instance) =>
      !skipMatching ||
      instance.launchTemplate.id !== targetRef.id ||
      instance.launchTemplate.version !== targetRef.version,
  ).length;
  const refresh: InstanceRefresh = {
    id: randomUUID(),
    groupName: group.name,
    status: "Pending",
    startTime: new Date().toISOString(),
    strategy: "Rolling",
    preferences: {
      minHealthyPercentage: minHealthy,
      maxHealthyPercentage: maxHealthy,
      instanceWarmup:
        preferences.InstanceWarmup ?? group.defaultInstanceWarmup ?? group.healthCheckGracePeriod,
      skipMatching,
      autoRollback,
    },
    desiredConfiguration: resolvedDesired?.ref,
    target: targetRef,
    previous: isPinnedVersion(group.launchTemplate.version)
      ? group.launchTemplate
      : { ...resolvedCurrent.ref, version: group.launchTemplate.version },
    instancesToUpdate: toUpdate,
    replaced: 0,
    launched: [],
    awaiting: [],
    batchReplacing: 0,
  };
  context.store.state.refreshes.unshift(refresh);
  context.log(
    `autoscaling: ${group.name}: refresh ${refresh.id} to ${targetRef.name} version ${targetRef.version} (${toUpdate} to update)`,
  );
  await context.store.save();
  refreshes.start(refresh);
  return { InstanceRefreshId: refresh.id };
};

const describeParams = z.object({
  AutoScalingGroupName: groupNameParam,
  InstanceRefreshIds: queryList(z.string()).optional(),
  MaxRecords: queryInt.min(1).max(100).optional(),
  NextToken: z.string().optional(),
});

const describeInstanceRefreshes: ActionHandler = async ({ context }, raw) => {
  const params = parseParams(describeParams, raw);
  const ids = params.InstanceRefreshIds ?? [];
  const matching = context.store.state.refreshes
    .filter((refresh) => refresh.groupName === params.AutoScalingGroupName)
    .filter((refresh) => ids.length === 0 || ids.includes(refresh.id));
  const page = paginate(matching, params.MaxRecords ?? 50, params.NextToken);
  return { InstanceRefreshes: page.items.map(refreshShape), NextToken: page.nextToken };
};

const cancelParams = z.object({
  AutoScalingGroupName: groupNameParam,
  WaitForTransitioningInstances: queryBool.optional(),
});

const cancelInstanceRefresh: ActionHandler = async ({ context }, raw) => {
  const params = parseParams(cancelParams, raw);
  const group = requireGroup(context, params.AutoScalingGroupName);
  const refresh = activeRefreshOf(context, group.name);
  if (refresh === undefined || refresh.status === "Cancelling") throw noActiveRefresh(group.name);
  // The runner stops at its next step and marks the refresh Cancelled; instances already
  // replaced stay as they are, as on AWS.
  enterRefreshStatus(context, refresh, "Cancelling");
  await context.store.save();
  return { InstanceRefreshId: refresh.id };
};

const rollbackParams = z.object({ AutoScalingGroupName: groupNameParam });

const rollbackInstanceRefresh: ActionHandler = async ({ context, refreshes }, raw) => {
  const params = parseParams(rollbackParams, raw);
  const group = requireGroup(context, params.AutoScalingGroupName);
  return context.locks.run(group.name, async () => {
    const refresh = activeRefreshOf(context, group.name);
    if (refresh === undefined || (refresh.status !== "Pending" && refresh.status !== "InProgress")) {
      throw noActiveRefresh(group.name);
    }
    if (refresh.desiredConfiguration === undefined) {
      throw new AutoScalingError(
        "IrreversibleInstanceRefresh",
        "The instance refresh cannot be rolled back: it was started without a DesiredConfiguration.",
      );
    }
    if (!isPinnedVersion(refresh.previous.version)) {
      throw new AutoScalingError(
        "IrreversibleInstanceRefresh",
        `The instance refresh cannot be rolled back: the Auto Scaling group uses launch template version ${refresh.previous.version}.`,
      );
    }
    refreshes.beginRollback(refresh, group, "Rollback requested by the user (RollbackInstanceRefresh).");
    await context.store.save();
    return { InstanceRefreshId: refresh.id };
  });
};

export const refreshActions: Record<string, ActionHandler> = {
  StartInstanceRefresh: startInstanceRefresh,
  DescribeInstanceRefreshes: describeInstanceRefreshes,
  CancelInstanceRefresh: cancelInstanceRefresh,
  RollbackInstanceRefresh: rollbackInstanceRefresh,
};
