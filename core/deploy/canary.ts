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

/**
 * The longest one check keeps probing a canary that does not answer yet. Within it the canary is
 * found healthy a tenth of a second after it answers, instead of up to a poll interval later; past
 * it, a Wait costs less than the function's time.
 */
export const probeWindowCapMs = 10_000;

/** Whether the canary is still booting: not running, or running without an address yet. */
function booting(instance: { state: string; privateIp?: string }): boolean {
  return instance.state === "pending" || (instance.state === "running" && !instance.privateIp);
}

/**
 * The canary watch's check: BOOTING while it boots, BOOTED once it is running or gone (the
 * health check that follows tells which).
 */
export async function checkCanaryBoot(deps: Pick<CanaryDeps, "fleet">, raw: DeployState) {
  const { instanceId } = requireKeys(raw, "canary").canary;
  const instance = await deps.fleet.describe(instanceId);
  return { status: instance && booting(instance) ? ("BOOTING" as const) : ("BOOTED" as const) };
}

/**
 * Probes the canary; healthy once `healthyThreshold` probes in a row, a poll interval apart,
 * answered 2xx. A canary that does not answer yet is probed again within the check, up to one
 * poll interval (probeWindowCapMs at most), and counted from its first 2xx answer.
 */
export async function checkCanary(
  deps: Pick<CanaryDeps, "history" | "fleet" | "probe" | "clock">,
  raw: DeployState,
) {
  const state = requireKeys(raw, "plan", "canary");
  const { instanceId, deadline } = state.canary;
  const previous = state.canaryCheck?.consecutive ?? 0;
  const untilDeadlineMs = Date.parse(deadline) - deps.clock.now().getTime();
  const instance = await deps.fleet.describe(instanceId);

  if (!instance || !["pending", "running"].includes(instance.state)) {
    return {
      status: "FAILED" as const,
      consecutive: 0,
      reason: `canary ${instanceId} is ${instance?.state ?? "gone"}`,
    };
  }
  if (booting(instance) || !instance.privateIp) {
    if (untilDeadlineMs < 0)
      return {
        status: "FAILED" as const,
        consecutive: 0,
        reason: `canary ${instanceId} never reached running`,
      };
    return { status: "BOOTING" as const, consecutive: 0 };
  }

  const { port, path, healthyThreshold, requestTimeoutMs } = state.plan.health;
  const url = `http://${instance.privateIp}:${port}${path}`;
  const retryForMs = Math.max(
    0,
    Math.min(state.plan.poll.canarySeconds * 1000, probeWindowCapMs, untilDeadlineMs),
  );
  const result = await deps.probe.check(url, { timeoutMs: requestTimeoutMs, retryForMs });
  const consecutive = !result.healthy ? 0 : result.attempts === 1 ? previous + 1 : 1;
  if (consecutive >= healthyThreshold) {
    await deps.history.markStep(state.deploymentId, "canary", "end");
    return { status: "SUCCEEDED" as const, consecutive };
  }
  if (deps.clock.now().getTime() > Date.parse(deadline)) {
    return {
      status: "FAILED" as const,
      consecutive,
      reason: `canary ${instanceId} was not healthy in time: ${url} ${result.detail}`,
    };
  }
  return { status: "RUNNING" as const, consecutive, reason: `${url} ${result.detail}` };
}
