/**
 * The roll step: a launch template version pinned to the new image, and an instance refresh of
 * the group towards that exact version. AWS rolls a refresh back only when the group runs a
 * numbered template version and the refresh carries a desired configuration, so the group is
 * pinned to a number first (docs/decisions/0003-refresh-with-desired-configuration.md).
 */
import type { DeploymentHistory, ScalingGroups } from "../ports.ts";
import { type DeployState, requireKeys } from "./state.ts";

export interface RollDeps {
  history: DeploymentHistory;
  groups: ScalingGroups;
}

/** Makes the group run a numbered template version and remembers it for rollback. */
export async function pinGroupVersion(deps: RollDeps, raw: DeployState) {
  const state = requireKeys(raw, "plan");
  await deps.history.transition(state.deploymentId, "ROLLING");
  const group = await deps.groups.describeGroup(state.plan.groupName);
  const previousVersion = await deps.groups.resolveTemplateVersion(
    group.launchTemplateId,
    group.launchTemplateVersion,
  );
  if (previousVersion !== group.launchTemplateVersion) {
    await deps.groups.setGroupTemplateVersion(group.name, group.launchTemplateId, previousVersion);
  }
  await deps.history.update(state.deploymentId, { previousLaunchTemplateVersion: previousVersion });
  return { launchTemplateId: group.launchTemplateId, previousVersion };
}

/** Creates the template version that runs the new image (idempotent per deployment). */
export async function createTemplateVersion(deps: RollDeps, raw: DeployState) {
  const state = requireKeys(raw, "group", "image");
  const version = await deps.groups.createTemplateVersion({
    launchTemplateId: state.group.launchTemplateId,
    sourceVersion: state.group.previousVersion,
    imageId: state.image.imageId,
    description: `kiln ${state.deploymentId}: ${state.service} ${state.version}`,
    clientToken: `${state.deploymentId}-template`,
  });
  await deps.history.update(state.deploymentId, { launchTemplateVersion: version });
  return { version };
}

/** Starts the refresh towards the exact new version, with the service's rollout preferences. */
export async function startRefresh(deps: RollDeps, raw: DeployState) {
  const state = requireKeys(raw, "plan", "group", "template");
  const refreshId = await deps.groups.startRefresh({
    groupName: state.plan.groupName,
    launchTemplateId: state.group.launchTemplateId,
    version: state.template.version,
    preferences: state.plan.rollout,
  });
  await deps.history.update(state.deploymentId, { refreshId });
  return { refreshId };
}

/** The refresh's progress, from the rollback refresh when one was started. */
export async function checkRefresh(deps: RollDeps, raw: DeployState) {
  const state = requireKeys(raw, "plan", "refresh");
  const refreshId = state.rollback?.refreshId ?? state.refresh.refreshId;
  const refresh = await deps.groups.describeRefresh(state.plan.groupName, refreshId);
  if (!state.rollback)
    await deps.history.update(state.deploymentId, { rollPercent: refresh.percentComplete });
  // The failure path's Pass states read the reason: it is always present.
  return {
    status: refresh.status,
    percentComplete: refresh.percentComplete,
    reason: refresh.reason ?? `instance refresh ${refreshId} is ${refresh.status}`,
  };
}

/**
 * Returns the group to the version it ran before: rolls back a refresh still in progress, or
 * (when AWS could not) points the group back and refreshes towards the old version.
 */
export async function rollBack(deps: Pick<RollDeps, "groups">, raw: DeployState) {
  const state = requireKeys(raw, "plan", "group");
  const reason = state.refreshCheck?.reason ?? state.error?.Cause ?? "the instance refresh failed";
  if (state.refresh && (await deps.groups.rollbackRefresh(state.plan.groupName))) {
    return { refreshId: state.refresh.refreshId, reason };
  }
  const refreshId = await deps.groups.startRefresh({
    groupName: state.plan.groupName,
    launchTemplateId: state.group.launchTemplateId,
    version: state.group.previousVersion,
    preferences: { ...state.plan.rollout, autoRollback: false, skipMatching: true },
  });
  return { refreshId, reason };
}
