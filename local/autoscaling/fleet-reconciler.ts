/**
 * The loop that keeps each group at its desired capacity: it reads its instances' state from
 * EC2, probes their health over HTTP, replaces the unhealthy or vanished ones, launches
 * what is missing and terminates what is extra, recording each as a scaling activity.
 */
import { activeRefreshOf, type EmulatorContext, findGroup, graceMs } from "./emulator-context.ts";
import {
  causeAt,
  isServing,
  launchGroupInstances,
  liveInstances,
  terminateGroupInstances,
} from "./group-fleet.ts";
import { healthTargetOf, healthyThreshold, probeHealth, unhealthyThreshold } from "./health-check.ts";
import type { Group, GroupInstance, InstanceRefresh, LaunchTemplateRef } from "./state.ts";

/** Longest pause between launch attempts after RunInstances keeps failing. */
const maxLaunchBackoffMs = 10_000;

const endedStates = new Set(["shutting-down", "terminated", "stopping", "stopped"]);

export class FleetReconciler {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private current: Promise<void> | undefined;
  private readonly launchBackoff = new Map<string, { failures: number; until: number }>();

  constructor(private readonly context: EmulatorContext) {}

  /** Starts reconciling every `reconcileIntervalMs`. */
  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops the loop and waits for a pass in progress to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.current;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.current = this.reconcileAll().finally(() => {
        this.current = undefined;
        this.schedule(this.context.reconcileIntervalMs);
      });
    }, delayMs);
  }

  /** One pass over every group. */
  async reconcileAll(): Promise<void> {
    const names = this.context.store.state.groups.map((group) => group.name);
    await Promise.all(
      names.map((name) =>
        this.context.locks
          .run(name, () => this.reconcileGroup(name))
          .catch((error: unknown) => {
            this.context.log(
              `autoscaling: ${name}: reconcile failed: ${error instanceof Error ? error.message : error}`,
            );
          }),
      ),
    );
  }

  private async reconcileGroup(name: string): Promise<void> {
    if (this.stopped) return;
    const group = findGroup(this.context, name);
    if (group === undefined) return;
    const changed = await this.observe(group);
    if (group.status !== undefined) {
      await this.finishDelete(group);
      return;
    }
    const acted = await this.keepCapacity(group);
    if (changed || acted) await this.context.store.save();
  }

  /** Updates each instance from EC2 and its health check; returns whether anything changed. */
  private async observe(group: Group): Promise<boolean> {
    const { fleet, streaks } = this.context;
    const observed = await fleet.observe(group.instances.map((instance) => instance.instanceId));
    let changed = false;
    const gone = new Set<string>();
    const toProbe: GroupInstance[] = [];
    for (const instance of group.instances) {
      const seen = observed.get(instance.instanceId);
      if (instance.lifecycleState === "Terminating") {
        if (seen === undefined || seen.state === "terminated") gone.add(instance.instanceId);
        continue;
      }
      if (seen?.privateIpAddress !== undefined && seen.privateIpAddress !== instance.privateIpAddress) {
        instance.privateIpAddress = seen.privateIpAddress;
        changed = true;
      }
      if (seen?.availabilityZone) instance.availabilityZone = seen.availabilityZone;
      if (seen?.instanceType) instance.instanceType = seen.instanceType;
      if (seen === undefined || endedStates.has(seen.state)) {
        changed =
          this.markUnhealthy(group, instance, `EC2 reports the instance ${seen?.state ?? "gone"}`) || changed;
      } else if (seen.impaired) {
        changed =
          this.markUnhealthy(group, instance, "EC2 reports the instance impaired (a service process died)") ||
          changed;
      } else if (
        seen.state === "running" &&
        instance.healthStatus === "Healthy" &&
        instance.privateIpAddress
      ) {
        toProbe.push(instance);
      }
    }
    if (gone.size > 0) {
      group.instances = group.instances.filter((instance) => !gone.has(instance.instanceId));
      for (const id of gone) streaks.forget(id);
      changed = true;
    }
    const target = healthTargetOf(group.tags);
    const results = await Promise.all(
      toProbe.map((instance) => probeHealth(instance.privateIpAddress ?? "", target)),
    );
    const now = Date.now();
    toProbe.forEach((instance, index) => {
      const result = results[index];
      if (result === undefined) return;
      const streak = streaks.record(instance.instanceId, result);
      if (instance.lifecycleState === "Pending" && streak.successes >= healthyThreshold) {
        instance.lifecycleState = "InService";
        this.context.log(`autoscaling: ${group.name}: ${instance.instanceId} InService`);
        changed = true;
      }
      if (
        streak.failures >= unhealthyThreshold &&
        now - instance.launchedAt >= graceMs(this.context, group)
      ) {
        const reason = `failed ${streak.failures} consecutive health checks on port ${target.port} ${target.path} (${result.detail})`;
        changed = this.markUnhealthy(group, instance, reason) || changed;
      }
    });
    return changed;
  }

  private markUnhealthy(group: Group, instance: GroupInstance, reason: string): boolean {
    if (instance.healthStatus === "Unhealthy") return false;
    instance.healthStatus = "Unhealthy";
    instance.unhealthyReason = reason;
    this.context.log(`autoscaling: ${group.name}: ${instance.instanceId} Unhealthy: ${reason}`);
    return true;
  }

  /** Replaces unhealthy instances and brings the count to DesiredCapacity; returns whether it acted. */
  private async keepCapacity(group: Group): Promise<boolean> {
    const refresh = activeRefreshOf(this.context, group.name);
    // A refresh judges its own replacements (and fails or rolls back on them), so they are left to it.
    const awaited = new Set(refresh?.awaiting ?? []);
    let acted = false;
    const unhealthy = liveInstances(group).filter(
      (instance) => instance.healthStatus === "Unhealthy" && !awaited.has(instance.instanceId),
    );
    for (const instance of unhealthy) {
      await terminateGroupInstances(
        this.context,
        group,
        [instance],
        causeAt(
          `an instance was taken out of service in response to a health check indicating it is unhealthy: ${instance.unhealthyReason ?? "unknown"}.`,
        ),
      );
      acted = true;
    }
    const live = liveInstances(group);
    if (live.length < group.desiredCapacity) {
      acted = (await this.launchMissing(group, refresh, live.length)) || acted;
    } else if (live.length > group.desiredCapacity) {
      const extras = chooseForScaleIn(live, live.length - group.desiredCapacity);
      await terminateGroupInstances(
        this.context,
        group,
        extras,
        causeAt(
          `an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from ${live.length} to ${group.desiredCapacity}.`,
        ),
      );
      acted = true;
    }
    return acted;
  }

  private async launchMissing(
    group: Group,
    refresh: InstanceRefresh | undefined,
    liveCount: number,
  ): Promise<boolean> {
    const backoff = this.launchBackoff.get(group.name);
    if (backoff !== undefined && Date.now() < backoff.until) return false;
    try {
      const template = await this.templateForNewInstances(group, refresh);
      const launched = await launchGroupInstances(
        this.context,
        group,
        template,
        group.desiredCapacity - liveCount,
        causeAt(
          `an instance was started in response to a difference between desired and actual capacity, increasing the capacity from ${liveCount} to ${group.desiredCapacity}.`,
        ),
      );
      if (refresh !== undefined) {
        // Launched from the refresh's configuration while it runs: it counts as updated and
        // the refresh waits for it like for its own replacements.
        const ids = launched.map((instance) => instance.instanceId);
        refresh.launched.push(...ids);
        refresh.awaiting.push(...ids);
      }
      this.launchBackoff.delete(group.name);
    } catch (error) {
      const failures = (backoff?.failures ?? 0) + 1;
      const delay = Math.min(maxLaunchBackoffMs, this.context.reconcileIntervalMs * 2 ** failures);
      this.launchBackoff.set(group.name, { failures, until: Date.now() + delay });
      this.context.log(
        `autoscaling: ${group.name}: launch failed: ${error instanceof Error ? error.message : error}`,
      );
    }
    return true;
  }

  /** New instances come from the refresh's configuration while one runs, else from the group's. */
  private async templateForNewInstances(
    group: Group,
    refresh: InstanceRefresh | undefined,
  ): Promise<LaunchTemplateRef> {
    if (refresh !== undefined)
      return refresh.status === "RollbackInProgress" ? refresh.previous : refresh.target;
    const resolved = await this.context.fleet.resolveLaunchTemplate(group.launchTemplate);
    return { ...resolved.ref, version: resolved.resolvedVersion };
  }

  /** A forced delete ends once EC2 has terminated every instance of the group. */
  private async finishDelete(group: Group): Promise<void> {
    const live = liveInstances(group);
    if (live.length > 0) {
      await terminateGroupInstances(
        this.context,
        group,
        live,
        causeAt("an instance was taken out of service in response to a user request to delete the group."),
      );
    }
    if (group.instances.length > 0) return;
    const state = this.context.store.state;
    state.groups = state.groups.filter((candidate) => candidate !== group);
    state.refreshes = state.refreshes.filter((refresh) => refresh.groupName !== group.name);
    this.launchBackoff.delete(group.name);
    this.context.log(`autoscaling: ${group.name}: deleted`);
    await this.context.store.save();
  }
}

/**
 * Which instances go when a group shrinks: those not serving first, then those on the oldest
 * launch template version, then the oldest (AWS's default termination policy, without zones).
 */
export function chooseForScaleIn(instances: GroupInstance[], count: number): GroupInstance[] {
  return [...instances]
    .sort(
      (a, b) =>
        Number(isServing(a)) - Number(isServing(b)) ||
        Number(a.launchTemplate.version) - Number(b.launchTemplate.version) ||
        a.launchedAt - b.launchedAt,
    )
    .slice(0, count);
}
