/** The canary step: one instance from the new image, probed until it proves healthy. */
import type { Clock, DeploymentHistory, Fleet, HealthProbe, ScalingGroups } from "../ports.ts";
import { type DeployState, requireKeys } from "./state.ts";
import { kilnTag } from "./tags.ts";

export interface CanaryDeps {
  history: DeploymentHistory;
  fleet: Fleet;
  groups: ScalingGroups;
  probe: HealthProbe;
  clock: Clock;
}

/** Launches the canary with the group's launch template, swapping in the new image. */
export async function launchCanary(
  deps: Pick<CanaryDeps, "history" | "fleet" | "groups" | "clock">,
  raw: DeployState,
) {
  const state = requireKeys(raw, "plan", "image");
  await deps.history.transition(state.deploymentId, "CANARY", { imageId: state.image.imageId });
  await deps.history.markStep(state.deploymentId, "canary", "start");
  const group = await deps.groups.describeGroup(state.plan.groupName);
  const instance = await deps.fleet.launchCanary({
    deploymentId: state.deploymentId,
    service: state.service,
    imageId: state.image.imageId,
    launchTemplateId: state.plan.launchTemplateId,
    launchTemplateVersion: group.launchTemplateVersion,
    subnetId: group.subnetIds[0],
    tags: {
      [kilnTag.managed]: "true",
      [kilnTag.service]: state.service,
      [kilnTag.version]: state.version,
      [kilnTag.deploymentId]: state.deploymentId,
      [kilnTag.role]: "canary",
      Name: `kiln-canary-${state.service}-${state.version}`,
    },
  });
  await deps.history.update(state.deploymentId, { canaryInstanceId: instance.instanceId });
  const deadline = new Date(
    deps.clock.now().getTime() + state.plan.health.timeoutSeconds * 1000,
  ).toISOString();
  return { instanceId: instance.instanceId, deadline };
}

/** One probe of the canary; healthy once `healthyThreshold` probes in a row answered 2xx. */
export async function checkCanary(
  deps: Pick<CanaryDeps, "history" | "fleet" | "probe" | "clock">,
  raw: DeployState,
) {
  const state = requireKeys(raw, "plan", "canary");
  const { instanceId, deadline } = state.canary;
  const previous = state.canaryCheck?.consecutive ?? 0;
  const overdue = deps.clock.now().getTime() > Date.parse(deadline);
  const instance = await deps.fleet.describe(instanceId);

  if (!instance || !["pending", "running"].includes(instance.state)) {
    return {
      status: "FAILED" as const,
      consecutive: 0,
      reason: `canary ${instanceId} is ${instance?.state ?? "gone"}`,
    };
  }
  if (instance.state === "pending" || !instance.privateIp) {
    if (overdue)
      return {
        status: "FAILED" as const,
        consecutive: 0,
        reason: `canary ${instanceId} never reached running`,
      };
    return { status: "RUNNING" as const, consecutive: 0 };
  }

  const { port, path, healthyThreshold, requestTimeoutMs } = state.plan.health;
  const url = `http://${instance.privateIp}:${port}${path}`;
  const result = await deps.probe.check(url, requestTimeoutMs);
  const consecutive = result.healthy ? previous + 1 : 0;
  if (consecutive >= healthyThreshold) {
    await deps.history.markStep(state.deploymentId, "canary", "end");
    return { status: "SUCCEEDED" as const, consecutive };
  }
  if (overdue) {
    return {
      status: "FAILED" as const,
      consecutive,
      reason: `canary ${instanceId} was not healthy in time: ${url} ${result.detail}`,
    };
  }
  return { status: "RUNNING" as const, consecutive, reason: `${url} ${result.detail}` };
}
