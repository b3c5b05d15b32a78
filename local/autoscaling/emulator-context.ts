/**
 * What the emulator's parts share: the state, the EC2 client, the timescale and faults of
 * the local cloud, the group locks and the health streaks.
 */
import type { EmitEvent } from "../event-bus.ts";
import type { FaultInjector } from "../faults.ts";
import type { Timescale } from "../timescale.ts";
import type { Ec2Fleet } from "./ec2-fleet.ts";
import { groupNotFound } from "./errors.ts";
import type { HealthStreaks } from "./health-check.ts";
import type { KeyedLock } from "./keyed-lock.ts";
import { activeRefreshStatuses, type Group, type InstanceRefresh } from "./state.ts";
import type { StateStore } from "./state-store.ts";

export interface EmulatorContext {
  store: StateStore;
  fleet: Ec2Fleet;
  timescale: Timescale;
  faults: FaultInjector;
  log: (line: string) => void;
  locks: KeyedLock;
  streaks: HealthStreaks;
  reconcileIntervalMs: number;
  /** Real time an instance gets to start its service before failed checks count, at any timescale. */
  startupAllowanceMs: number;
  region: string;
  accountId: string;
  /** Receives the events Auto Scaling puts on EventBridge (refresh-events.ts); absent, none are emitted. */
  emitEvent?: EmitEvent;
}

/** The group of that name, if it exists. */
export function findGroup(context: EmulatorContext, name: string): Group | undefined {
  return context.store.state.groups.find((group) => group.name === name);
}

/** The group of that name, or the ValidationError AWS answers when there is none (or it is being deleted). */
export function requireGroup(context: EmulatorContext, name: string): Group {
  const group = findGroup(context, name);
  if (group === undefined || group.status !== undefined) throw groupNotFound(name);
  return group;
}

/** The group's refresh that has not ended yet, if any (AWS allows one at a time). */
export function activeRefreshOf(context: EmulatorContext, groupName: string): InstanceRefresh | undefined {
  return context.store.state.refreshes.find(
    (refresh) => refresh.groupName === groupName && activeRefreshStatuses.includes(refresh.status),
  );
}

/** Real milliseconds of a group's health check grace period, never less than the startup allowance. */
export function graceMs(context: EmulatorContext, group: Group): number {
  return Math.max(context.timescale.scaledMs(group.healthCheckGracePeriod), context.startupAllowanceMs);
}
