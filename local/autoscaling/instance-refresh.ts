/**
 * Runs instance refreshes for real: batches of instances not on the desired configuration are
 * terminated and replaced from it, keeping healthy capacity at or above MinHealthyPercentage;
 * each batch's replacements must pass their HTTP health check, then warm up, before the next.
 * A replacement that never becomes healthy fails the refresh, which then rolls back to the
 * previous configuration when AutoRollback is set. Every status change is announced as AWS's
 * instance refresh event (refresh-events.ts) in the same tick as it is recorded.
 *
 * Every step is persisted, so a refresh interrupted by a restart resumes where it stood: the
 * replacements of a batch in flight are waited on again (with a fresh deadline), then the
 * instances still on another configuration are replaced in new batches.
 */
import { type EmulatorContext, findGroup, graceMs } from "./emulator-context.ts";
import {
  causeAt,
  isServing,
  launchGroupInstances,
  liveInstances,
  terminateGroupInstances,
} from "./group-fleet.ts";
import { unhealthyThreshold } from "./health-check.ts";
import { enterRefreshStatus } from "./refresh-events.ts";
import {
  activeRefreshStatuses,
  type Group,
  type GroupInstance,
  type InstanceRefresh,
  type LaunchTemplateRef,
} from "./state.ts";

type Phase = "forward" | "rollback";

type WaitOutcome = { kind: "healthy" } | { kind: "failed"; reason: string } | { kind: "interrupted" };

/** Probe rounds a replacement gets past its grace period before the refresh gives up on it. */
const deadlineProbeRounds = unhealthyThreshold + 5;

function sameTemplate(instance: GroupInstance, template: LaunchTemplateRef): boolean {
  return instance.launchTemplate.id === template.id && instance.launchTemplate.version === template.version;
}

/** Waits `ms`, or less when the emulator closes. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

function phaseOf(refresh: InstanceRefresh): Phase {
  return refresh.status === "RollbackInProgress" ? "rollback" : "forward";
}

/** Whether a launch template version names a fixed version AWS can roll back to. */
export function isPinnedVersion(version: string): boolean {
  return /^\d+$/.test(version);
}

export class RefreshRunner {
  private readonly running = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();

  constructor(private readonly context: EmulatorContext) {}

  /** Drives a refresh until it ends (or the emulator closes); starting one already driven is a no-op. */
  start(refresh: InstanceRefresh): void {
    if (this.running.has(refresh.id) || this.abort.signal.aborted) return;
    const run = this.drive(refresh)
      .catch((error: unknown) => {
        this.context.log(
          `autoscaling: refresh ${refresh.id} stopped: ${error instanceof Error ? error.stack : error}`,
        );
      })
      .finally(() => this.running.delete(refresh.id));
    this.running.set(refresh.id, run);
  }

  /** Stops driving refreshes, leaving them persisted as they stand so a restart resumes them. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.running.values());
  }

  /** Begins rolling a refresh back (on failure with AutoRollback, or on request). */
  beginRollback(refresh: InstanceRefresh, group: Group, reason: string): void {
    // The batch in flight is abandoned: its replacements are on the new configuration, so the
    // rollback replaces them like any other updated instance.
    refresh.launched = [];
    refresh.awaiting = [];
    refresh.batchReplacing = 0;
    const candidates = this.candidates(refresh, group, "rollback");
    refresh.rollback = {
      reason,
      startTime: new Date().toISOString(),
      percentageCompleteOnRollback: percentageComplete(refresh),
      instancesToUpdateOnRollback: Math.max(0, refresh.instancesToUpdate - refresh.replaced),
      instancesToUpdate: candidates.length,
      replaced: 0,
    };
    refresh.statusReason = reason;
    enterRefreshStatus(this.context, refresh, "RollbackInProgress");
    this.context.log(`autoscaling: ${group.name}: refresh ${refresh.id} rolling back: ${reason}`);
  }

  private async drive(refresh: InstanceRefresh): Promise<void> {
    const { context } = this;
    const signal = this.abort.signal;
    if (refresh.status === "Pending") {
      enterRefreshStatus(context, refresh, "InProgress");
      await context.store.save();
    }
    while (!signal.aborted && activeRefreshStatuses.includes(refresh.status)) {
      const group = findGroup(context, refresh.groupName);
      if (group === undefined || group.status !== undefined) {
        await this.finish(refresh, "Cancelled", "The Auto Scaling group was deleted.");
        return;
      }
      if (refresh.status === "Cancelling") {
        await this.finish(refresh, "Cancelled", "Instance refresh was cancelled by request.");
        return;
      }
      const phase = phaseOf(refresh);
      const status: InstanceRefresh["status"] = refresh.status;
      if (refresh.awaiting.length > 0) {
        const outcome = await this.awaitReplacements(refresh, group, signal);
        if (signal.aborted || refresh.status !== status) continue;
        if (outcome.kind === "failed") {
          await context.locks.run(group.name, () => this.fail(refresh, group, outcome.reason));
          continue;
        }
        if (outcome.kind === "interrupted") continue;
        await context.timescale.delay("autoscaling:warmup", refresh.preferences.instanceWarmup, signal);
        if (signal.aborted || refresh.status !== status) continue;
        this.completeBatch(refresh, group, phase);
        await context.store.save();
        continue;
      }
      const fault = context.faults.take("autoscaling:refresh", group.name);
      if (fault !== undefined) {
        if (fault.kind === "delay") {
          await sleep(fault.delayMs ?? 1000, signal);
        } else {
          const reason =
            fault.message ?? `Injected fault ${fault.code ?? "InternalError"} failed the instance refresh.`;
          await context.locks.run(group.name, () => this.fail(refresh, group, reason));
        }
        continue;
      }
      const started = await context.locks.run(group.name, () => this.startBatch(refresh, group, phase));
      if (started === "done") {
        await this.succeed(refresh, group, phase);
        return;
      }
    }
  }

  /** Instances this phase still has to replace. */
  private candidates(refresh: InstanceRefresh, group: Group, phase: Phase): GroupInstance[] {
    const target = phase === "forward" ? refresh.target : refresh.previous;
    const launched = new Set(refresh.launched);
    const skipMatching = phase === "rollback" || refresh.preferences.skipMatching;
    return liveInstances(group).filter(
      (instance) => !launched.has(instance.instanceId) && !(skipMatching && sameTemplate(instance, target)),
    );
  }

  /**
   * Terminates the next batch and launches its replacements. The batch keeps healthy capacity
   * at or above MinHealthyPercentage of desired, but always holds at least one instance, and
   * takes instances that are not serving anyway first.
   */
  private async startBatch(
    refresh: InstanceRefresh,
    group: Group,
    phase: Phase,
  ): Promise<"started" | "done" | "wait"> {
    if (refresh.awaiting.length > 0 || refresh.status === "Cancelling") return "wait";
    const candidates = this.candidates(refresh, group, phase);
    if (candidates.length === 0) return "done";
    const minHealthy = Math.ceil((group.desiredCapacity * refresh.preferences.minHealthyPercentage) / 100);
    const serving = liveInstances(group).filter(isServing).length;
    const notServing = candidates.filter((instance) => !isServing(instance));
    const servingCandidates = candidates.filter(isServing);
    const budget = Math.max(0, serving - minHealthy);
    let batch = [...notServing, ...servingCandidates.slice(0, budget)];
    if (batch.length === 0) batch = servingCandidates.slice(0, 1);
    const target = phase === "forward" ? refresh.target : refresh.previous;
    const cause = causeAt(
      phase === "forward"
        ? `an instance was taken out of service in response to an instance refresh (${refresh.id}).`
        : `an instance was taken out of service in response to the rollback of an instance refresh (${refresh.id}).`,
    );
    await terminateGroupInstances(this.context, group, batch, cause);
    let launched: GroupInstance[];
    try {
      launched = await launchGroupInstances(
        this.context,
        group,
        target,
        batch.length,
        causeAt(`an instance was launched in response to an instance refresh (${refresh.id}).`),
      );
    } catch (error) {
      await this.fail(
        refresh,
        group,
        `Launching replacements from ${target.name} version ${target.version} failed: ${error instanceof Error ? error.message : error}`,
      );
      return "started";
    }
    const ids = launched.map((instance) => instance.instanceId);
    refresh.launched.push(...ids);
    refresh.awaiting.push(...ids);
    refresh.batchReplacing = batch.length;
    this.context.log(
      `autoscaling: ${group.name}: refresh ${refresh.id} replacing ${batch.map((i) => i.instanceId).join(", ")} with ${ids.join(", ")}`,
    );
    await this.context.store.save();
    return "started";
  }

  /** Waits until every awaited replacement is in service and healthy, or one of them fails. */
  private async awaitReplacements(
    refresh: InstanceRefresh,
    group: Group,
    signal: AbortSignal,
  ): Promise<WaitOutcome> {
    const { context } = this;
    const status = refresh.status;
    const deadlineMs = graceMs(context, group) + deadlineProbeRounds * context.reconcileIntervalMs;
    const startedAt = Date.now();
    while (!signal.aborted && refresh.status === status) {
      const awaited = refresh.awaiting.map((id) => ({
        id,
        instance: group.instances.find((instance) => instance.instanceId === id),
      }));
      for (const { id, instance } of awaited) {
        if (instance === undefined || instance.lifecycleState === "Terminating") {
          return { kind: "failed", reason: `Instance ${id} was terminated before it became healthy.` };
        }
        if (instance.healthStatus === "Unhealthy") {
          return {
            kind: "failed",
            reason: `Instance ${id} failed its health check: ${instance.unhealthyReason ?? "unhealthy"}.`,
          };
        }
      }
      if (awaited.every(({ instance }) => instance !== undefined && isServing(instance)))
        return { kind: "healthy" };
      // Each replacement gets its own deadline from its launch (a restart gives a fresh one).
      const late = awaited.find(
        ({ instance }) =>
          instance !== undefined &&
          !isServing(instance) &&
          Date.now() - Math.max(instance.launchedAt, startedAt) > deadlineMs,
      );
      if (late !== undefined) {
        const detail = context.streaks.lastDetail(late.id);
        return {
          kind: "failed",
          reason: `Instance ${late.id} did not become healthy within ${Math.round(deadlineMs / 1000)} s${detail ? ` (last health check: ${detail})` : ""}.`,
        };
      }
      await sleep(context.reconcileIntervalMs, signal);
    }
    return { kind: "interrupted" };
  }

  private completeBatch(refresh: InstanceRefresh, group: Group, phase: Phase): void {
    if (phase === "forward") refresh.replaced += refresh.batchReplacing;
    else if (refresh.rollback !== undefined) refresh.rollback.replaced += refresh.batchReplacing;
    refresh.batchReplacing = 0;
    // An instance the reconciler launched during the warm-up is still to be waited on.
    refresh.awaiting = refresh.awaiting.filter((id) => {
      const instance = group.instances.find((candidate) => candidate.instanceId === id);
      return instance !== undefined && !isServing(instance);
    });
  }

  private async fail(refresh: InstanceRefresh, group: Group, reason: string): Promise<void> {
    if (!activeRefreshStatuses.includes(refresh.status)) return;
    this.context.log(`autoscaling: ${group.name}: refresh ${refresh.id} failed: ${reason}`);
    if (
      phaseOf(refresh) === "forward" &&
      refresh.preferences.autoRollback &&
      refresh.status !== "Cancelling"
    ) {
      this.beginRollback(refresh, group, reason);
      await this.context.store.save();
      return;
    }
    await this.finish(refresh, phaseOf(refresh) === "forward" ? "Failed" : "RollbackFailed", reason);
  }

  private async succeed(refresh: InstanceRefresh, group: Group, phase: Phase): Promise<void> {
    if (phase === "forward") {
      // The group now names the desired configuration exactly as it was asked for.
      if (refresh.desiredConfiguration !== undefined)
        group.launchTemplate = { ...refresh.desiredConfiguration };
      refresh.replaced = refresh.instancesToUpdate;
      await this.finish(refresh, "Successful", undefined);
    } else {
      if (refresh.rollback !== undefined) refresh.rollback.replaced = refresh.rollback.instancesToUpdate;
      await this.finish(refresh, "RollbackSuccessful", refresh.statusReason);
    }
  }

  private async finish(
    refresh: InstanceRefresh,
    status: InstanceRefresh["status"],
    reason: string | undefined,
  ): Promise<void> {
    refresh.statusReason = reason;
    refresh.awaiting = [];
    refresh.batchReplacing = 0;
    const end = new Date();
    refresh.endTime = end.toISOString();
    enterRefreshStatus(this.context, refresh, status);
    this.context.timescale.record(
      "autoscaling:refresh",
      end.getTime() - Date.parse(refresh.startTime),
      refresh.groupName,
    );
    this.context.log(
      `autoscaling: ${refresh.groupName}: refresh ${refresh.id} ${status}${reason ? `: ${reason}` : ""}`,
    );
    await this.context.store.save();
  }
}

/** PercentageComplete of the forward refresh. */
export function percentageComplete(refresh: InstanceRefresh): number {
  if (refresh.instancesToUpdate === 0) return refresh.status === "Successful" ? 100 : 0;
  return Math.min(100, Math.floor((100 * refresh.replaced) / refresh.instancesToUpdate));
}
