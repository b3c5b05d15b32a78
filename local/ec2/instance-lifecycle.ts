/**
 * The life of an instance: pending → running → stopping → stopped → shutting-down → terminated,
 * with AWS-like durations from the timescale. API calls change the recorded state at once (as
 * AWS answers with the new state) and the rest happens in the background, visible to Describe
 * calls. Each transition opens a new epoch: background work from an older epoch stops at its
 * next step, so a stop during boot or a terminate during stop never race.
 *
 * Every state an instance enters is announced (`EC2 Instance State-change Notification`) in the
 * same tick as it is recorded, so the event never runs ahead of, nor lags, DescribeInstances.
 */
import { existsSync } from "node:fs";
import { cp, lstat, mkdir, rename, rm } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import type { EmitEvent } from "../event-bus.ts";
import type { FaultInjector } from "../faults.ts";
import type { Timescale } from "../timescale.ts";
import type { InstanceLimits } from "./cgroups.ts";
import { incorrectInstanceState } from "./errors.ts";
import { instanceStateChangeEvent } from "./events.ts";
import { InstanceProcesses } from "./instance-processes.ts";
import { writeInstanceShims } from "./instance-shims.ts";
import { releasePrivateIp } from "./ip-allocator.ts";
import type { Ec2Paths } from "./paths.ts";
import { endProcessGroups, findInstanceProcesses, killProcesses, signal } from "./process-groups.ts";
import type { Instance, InstanceStateName, StateReason, StateStore } from "./state.ts";

export const INSTANCE_STATE_CODES: Record<InstanceStateName, number> = {
  pending: 0,
  running: 16,
  "shutting-down": 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

export interface StateChange {
  instanceId: string;
  previousState: InstanceStateName;
  currentState: InstanceStateName;
}

export interface LifecycleDeps {
  store: StateStore;
  paths: Ec2Paths;
  timescale: Timescale;
  faults: FaultInjector;
  limits: InstanceLimits;
  log: (line: string) => void;
  /** Receives each instance state-change event; absent, nothing is emitted. */
  emitEvent?: EmitEvent;
}

export type StatusName = "ok" | "impaired" | "initializing" | "not-applicable";

export interface InstanceHealth {
  system: StatusName;
  instance: StatusName;
  impairedSince?: Date;
}

const USER_SHUTDOWN: StateReason = {
  code: "Client.UserInitiatedShutdown",
  message: "Client.UserInitiatedShutdown: User initiated shutdown",
};
const INSTANCE_SHUTDOWN: StateReason = {
  code: "Client.InstanceInitiatedShutdown",
  message: "Client.InstanceInitiatedShutdown: Instance initiated shutdown",
};

function transitionTime(): string {
  return new Date()
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, " GMT");
}

/** Decodes user data as cloud-init does: base64, gunzipped when compressed. */
export function decodeUserData(base64: string): Buffer {
  const bytes = Buffer.from(base64, "base64");
  return bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
}

/** Copies a root folder, keeping symlinks as they are (enablement links are absolute inside the root). */
export async function copyRoot(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  await cp(from, to, {
    recursive: true,
    force: true,
    verbatimSymlinks: true,
    // Sockets and FIFOs are runtime artefacts a disk snapshot would not carry.
    filter: async (source) => {
      const stats = await lstat(source);
      return !stats.isSocket() && !stats.isFIFO();
    },
  });
}

export class InstanceLifecycle {
  private readonly processes = new Map<string, InstanceProcesses>();
  private readonly epochs = new Map<string, { epoch: number; abort: AbortController }>();
  private readonly tasks = new Set<Promise<void>>();
  private readonly rootHolds = new Map<string, Set<Promise<unknown>>>();
  private closing = false;

  constructor(private readonly deps: LifecycleDeps) {}

  private save(): Promise<void> {
    return this.deps.store.save();
  }

  /** Announces the state an instance has just entered (RunInstances announces its launches too). */
  announce(instance: Instance): void {
    const emit = this.deps.emitEvent;
    if (emit === undefined) return;
    try {
      emit(instanceStateChangeEvent(instance));
    } catch (error) {
      this.deps.log(
        `ec2: emitting the ${instance.state} event of ${instance.instanceId} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  /** Records a new state and announces it in the same tick. */
  private enter(instance: Instance, state: InstanceStateName): void {
    instance.state = state;
    this.announce(instance);
  }

  /** Runs background work for an instance in a new epoch. */
  private run(
    instance: Instance,
    label: string,
    work: (live: () => boolean, signal: AbortSignal) => Promise<void>,
  ): void {
    const previous = this.epochs.get(instance.instanceId);
    previous?.abort.abort();
    const epoch = (previous?.epoch ?? 0) + 1;
    const abort = new AbortController();
    this.epochs.set(instance.instanceId, { epoch, abort });
    const live = () => !this.closing && this.epochs.get(instance.instanceId)?.epoch === epoch;
    const task: Promise<void> = work(live, abort.signal)
      .catch((error: unknown) => {
        this.deps.log(
          `ec2: ${instance.instanceId} ${label} failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      })
      .finally(() => this.tasks.delete(task));
    this.tasks.add(task);
  }

  /** Boots a newly launched instance in the background. */
  launch(instance: Instance): void {
    this.run(instance, "boot", (live, abortSignal) => this.boot(instance, live, abortSignal, false));
  }

  /** StartInstances for one instance. */
  start(instance: Instance): StateChange {
    const previousState = instance.state;
    if (previousState === "pending" || previousState === "running")
      return { instanceId: instance.instanceId, previousState, currentState: previousState };
    if (previousState !== "stopped")
      throw incorrectInstanceState(instance.instanceId, previousState, "started");
    instance.stateReason = undefined;
    instance.stateTransitionReason = "";
    this.enter(instance, "pending");
    this.launch(instance);
    return { instanceId: instance.instanceId, previousState, currentState: instance.state };
  }

  /** StopInstances for one instance. */
  stop(instance: Instance, reason: StateReason = USER_SHUTDOWN): StateChange {
    const previousState = instance.state;
    if (previousState === "stopping" || previousState === "stopped")
      return { instanceId: instance.instanceId, previousState, currentState: previousState };
    if (previousState !== "pending" && previousState !== "running")
      throw incorrectInstanceState(instance.instanceId, previousState, "stopped");
    instance.stateReason = reason;
    instance.stateTransitionReason = `${reason === USER_SHUTDOWN ? "User" : "Instance"} initiated (${transitionTime()})`;
    this.enter(instance, "stopping");
    this.run(instance, "stop", async (live, abortSignal) => {
      await this.endProcesses(instance);
      await this.deps.timescale.delay("ec2:stop", 10, abortSignal, instance.instanceId);
      if (!live()) return;
      this.enter(instance, "stopped");
      await this.save();
    });
    return { instanceId: instance.instanceId, previousState, currentState: instance.state };
  }

  /** TerminateInstances for one instance; terminated instances stay describable. */
  terminate(instance: Instance, reason: StateReason = USER_SHUTDOWN): StateChange {
    const previousState = instance.state;
    if (previousState === "shutting-down" || previousState === "terminated")
      return { instanceId: instance.instanceId, previousState, currentState: previousState };
    instance.stateReason = reason;
    instance.stateTransitionReason = `${reason === USER_SHUTDOWN ? "User" : "Instance"} initiated (${transitionTime()})`;
    this.enter(instance, "shutting-down");
    this.run(instance, "terminate", async (live, abortSignal) => {
      await this.endProcesses(instance);
      await this.deps.timescale.delay("ec2:terminate", 10, abortSignal, instance.instanceId);
      if (!live()) return;
      await this.releaseInstance(instance);
      await this.save();
    });
    return { instanceId: instance.instanceId, previousState, currentState: instance.state };
  }

  /** The instance's status checks: impaired once one of its services has exited. */
  health(instance: Instance): InstanceHealth {
    if (instance.state !== "running") return { system: "not-applicable", instance: "not-applicable" };
    const processes = this.processes.get(instance.instanceId);
    if (processes === undefined) return { system: "initializing", instance: "initializing" };
    const exits = [...processes.exitedUnits.values()].map((exit) => exit.at.getTime());
    if (exits.length > 0)
      return { system: "ok", instance: "impaired", impairedSince: new Date(Math.min(...exits)) };
    return { system: "ok", instance: processes.ready ? "ok" : "initializing" };
  }

  /**
   * Copies an instance's root for an image. With `freeze`, the instance's processes are paused
   * during the copy: AWS reboots the instance for a consistent snapshot, pausing gives the same
   * consistency without losing the processes.
   */
  async copyRootOf(instance: Instance, to: string, freeze: boolean): Promise<void> {
    const from = this.deps.paths.instance(instance.instanceId).root;
    const groups = freeze ? instance.processGroups.map((group) => group.pgid) : [];
    await this.holdingRoot(instance, async () => {
      for (const pgid of groups) signal(-pgid, "SIGSTOP");
      try {
        await copyRoot(from, to);
      } finally {
        for (const pgid of groups) signal(-pgid, "SIGCONT");
      }
    });
  }

  /** Runs work that reads or writes the instance's root; terminating waits for it before deleting the root. */
  private async holdingRoot(instance: Instance, work: () => Promise<void>): Promise<void> {
    const holds = this.rootHolds.get(instance.instanceId) ?? new Set();
    this.rootHolds.set(instance.instanceId, holds);
    const running = work();
    holds.add(running);
    try {
      await running;
    } finally {
      holds.delete(running);
    }
  }

  private async boot(
    instance: Instance,
    live: () => boolean,
    abortSignal: AbortSignal,
    resumed: boolean,
  ): Promise<void> {
    const paths = this.deps.paths.instance(instance.instanceId);
    if (!existsSync(paths.root)) {
      const imageRoot = this.deps.paths.imageRoot(instance.imageId);
      if (!existsSync(imageRoot)) {
        instance.stateReason = {
          code: "Server.InternalError",
          message: `Server.InternalError: the root of ${instance.imageId} is missing`,
        };
        await this.releaseInstance(instance);
        await this.save();
        return;
      }
      // Copied aside, then renamed: a crash mid-copy never leaves a half disk that looks whole.
      const partial = `${paths.root}.partial`;
      await this.holdingRoot(instance, async () => {
        await rm(partial, { recursive: true, force: true });
        await copyRoot(imageRoot, partial);
        await rename(partial, paths.root);
      });
    }
    await writeInstanceShims(paths.shimDir, paths.shutdownMarker);
    if (!resumed) {
      await rm(paths.shutdownMarker, { force: true });
      await this.deps.timescale.delay("ec2:boot", 20, abortSignal, instance.instanceId);
      if (!live()) return;
      instance.stateReason = undefined;
      this.enter(instance, "running");
      await this.save();
    }
    if (!live() || instance.privateIpAddress === undefined) return;
    const processes = new InstanceProcesses(
      {
        instanceId: instance.instanceId,
        instanceType: instance.instanceType,
        privateIpAddress: instance.privateIpAddress,
      },
      paths,
      this.deps.limits,
      {
        shutdownRequested: () => this.instanceShutdown(instance),
        groupsChanged: (groups) => {
          instance.processGroups = groups;
          if (!this.closing) void this.save().catch(() => undefined);
        },
      },
    );
    this.processes.set(instance.instanceId, processes);
    processes.console(
      `${resumed ? "rebooting" : "booting"} ${instance.instanceId} (${instance.instanceType}) at ${instance.privateIpAddress} from ${instance.imageId}`,
    );
    processes.watchShutdown();
    if (instance.userData !== undefined && !instance.userDataStarted) {
      // Per-instance semantics: recorded before it runs, so a crash mid-way never runs it twice.
      instance.userDataStarted = true;
      void this.save().catch(() => undefined);
      const fault = this.deps.faults.take("ec2:bake", this.subjectOf(instance));
      if (fault !== undefined)
        processes.console(
          `user data failed: ${fault.message ?? "injected fault"}: Failed to run module scripts-user`,
        );
      else await processes.runUserData(decodeUserData(instance.userData));
    }
    // A builder that powered off at the end of its user data must not start its services.
    if (!live() || processes.shutdownRequested()) return;
    await processes.startUnits();
    if (live()) processes.ready = true;
  }

  private subjectOf(instance: Instance): string {
    return [
      instance.instanceId,
      instance.imageId,
      ...instance.tags.map((tag) => `${tag.key}=${tag.value}`),
    ].join(" ");
  }

  /** shutdown/poweroff/halt inside the instance: stop it, or terminate it as its launch asked. */
  private instanceShutdown(instance: Instance): void {
    if (this.closing || (instance.state !== "running" && instance.state !== "pending")) return;
    const paths = this.deps.paths.instance(instance.instanceId);
    void rm(paths.shutdownMarker, { force: true });
    if (instance.shutdownBehavior === "terminate") this.terminate(instance, INSTANCE_SHUTDOWN);
    else this.stop(instance, INSTANCE_SHUTDOWN);
    void this.save().catch(() => undefined);
  }

  private async endProcesses(instance: Instance): Promise<void> {
    const processes = this.processes.get(instance.instanceId);
    this.processes.delete(instance.instanceId);
    if (processes !== undefined) await processes.end();
    instance.processGroups = [];
  }

  /** Frees what a terminated instance held: its root, its address, its volumes. */
  private async releaseInstance(instance: Instance): Promise<void> {
    await Promise.allSettled([...(this.rootHolds.get(instance.instanceId) ?? [])]);
    await rm(this.deps.paths.instance(instance.instanceId).root, { recursive: true, force: true });
    releasePrivateIp(this.deps.store.state.ipAllocations, instance.privateIpAddress);
    instance.privateIpAddress = undefined;
    instance.volumes = instance.volumes.filter((volume) => !volume.deleteOnTermination);
    this.enter(instance, "terminated");
  }

  /**
   * Picks up after the previous emulator: ends processes that outlived it, boots again the
   * instances it left running (user data does not run twice), and settles transitions.
   */
  async resume(): Promise<void> {
    const instances = Object.values(this.deps.store.state.instances);
    const strays = await findInstanceProcesses(this.deps.paths.instancesDir);
    const recorded =
      process.platform === "linux"
        ? []
        : instances.flatMap((instance) => instance.processGroups.map((group) => group.pgid));
    await endProcessGroups([...new Set([...strays.map((stray) => stray.pgid), ...recorded])], 0);
    killProcesses(strays.map((stray) => stray.pid));
    for (const instance of instances) {
      killProcesses(await this.deps.limits.members(instance.instanceId));
      await this.deps.limits.release(instance.instanceId);
      instance.processGroups = [];
      if (instance.state === "pending") this.launch(instance);
      else if (instance.state === "running")
        this.run(instance, "reboot", (live, abortSignal) => this.boot(instance, live, abortSignal, true));
      else if (instance.state === "stopping") this.enter(instance, "stopped");
      else if (instance.state === "shutting-down") await this.releaseInstance(instance);
    }
    await this.save();
  }

  /** Ends every instance process and background task; recorded states stay for the next start. */
  async close(): Promise<void> {
    this.closing = true;
    for (const { abort } of this.epochs.values()) abort.abort();
    await Promise.all([...this.processes.values()].map((processes) => processes.end()));
    this.processes.clear();
    const strays = await findInstanceProcesses(this.deps.paths.instancesDir);
    await endProcessGroups([...new Set(strays.map((stray) => stray.pgid))], 0);
    killProcesses(strays.map((stray) => stray.pid));
    await Promise.allSettled([...this.tasks]);
    for (const instance of Object.values(this.deps.store.state.instances)) instance.processGroups = [];
  }
}
