/**
 * The processes of one booted instance: its user data and its services, each leading its own
 * process group (and joining the instance's cgroups), with output appended to the console log.
 */
import { spawn } from "node:child_process";
import { appendFileSync, closeSync, existsSync, type FSWatcher, openSync, watch } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import type { InstanceLimits } from "./cgroups.ts";
import { instanceTypeSpec } from "./instance-types.ts";
import type { InstancePaths } from "./paths.ts";
import { endProcessGroups, isGroupAlive, killProcesses } from "./process-groups.ts";
import type { ProcessGroupRecord } from "./state.ts";
import { enabledUnits, parseServiceUnit, resolveUnitCommand } from "./systemd-units.ts";

/** How long a process gets between SIGTERM and SIGKILL: systemd's stop timeout, shortened for a laptop. */
export const STOP_GRACE_MS = 2000;

// Joins the instance's cgroups, then becomes the program: the pid (and so the group) stays the same.
const JOIN_CGROUPS =
  'while [ "$1" != "--" ]; do { echo $$ > "$1"; } 2>/dev/null; shift; done; shift; exec "$@"';

export interface InstanceIdentity {
  instanceId: string;
  instanceType: string;
  privateIpAddress: string;
}

export interface ProcessEvents {
  /** The instance ran shutdown, poweroff or halt. */
  shutdownRequested(): void;
  /** The set of live process groups changed (to persist them). */
  groupsChanged(groups: ProcessGroupRecord[]): void;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface UnitExit extends ExitStatus {
  at: Date;
}

function describeExit({ code, signal }: ExitStatus): string {
  return signal !== null ? `code=killed, status=${signal}` : `code=exited, status=${code ?? "?"}`;
}

export class InstanceProcesses {
  /** Services whose main process has exited since boot: the instance is impaired. */
  readonly exitedUnits = new Map<string, UnitExit>();
  /** Whether user data has finished and the services have been started. */
  ready = false;
  private readonly groups = new Map<number, string>();
  private cgroupProcs: string[] | undefined;
  private watcher: FSWatcher | undefined;
  private ending = false;

  constructor(
    private readonly identity: InstanceIdentity,
    private readonly paths: InstancePaths,
    private readonly limits: InstanceLimits,
    private readonly events: ProcessEvents,
  ) {}

  /** Appends a line from the emulator to the console log, as the boot messages of a real console. */
  console(line: string): void {
    appendFileSync(this.paths.consoleLog, `[kiln-local] ${line}\n`);
  }

  /** The environment every process of the instance starts with. */
  baseEnv(): Record<string, string> {
    const passed = Object.entries(process.env).filter(
      (entry): entry is [string, string] => entry[0].startsWith("AWS_") && entry[1] !== undefined,
    );
    return {
      // The host's AWS_* settings stand in for the instance profile: endpoints and credentials.
      ...Object.fromEntries(passed),
      PATH: `${this.paths.shimDir}:${process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin"}`,
      HOME: this.paths.root,
      LANG: "C.UTF-8",
      KILN_INSTANCE_ROOT: this.paths.root,
      KILN_INSTANCE_ID: this.identity.instanceId,
      HOST: this.identity.privateIpAddress,
    };
  }

  /** Process groups still running. */
  liveGroups(): ProcessGroupRecord[] {
    return [...this.groups.entries()].map(([pgid, name]) => ({ pgid, name }));
  }

  /** Whether the instance has asked to power off (the request file exists). */
  shutdownRequested(): boolean {
    return existsSync(this.paths.shutdownMarker);
  }

  /** Watches for shutdown/poweroff/halt from inside the instance. */
  watchShutdown(): void {
    try {
      this.watcher = watch(this.paths.dir, (_event, filename) => {
        if (filename === "shutdown-request" && this.shutdownRequested()) this.events.shutdownRequested();
      });
      this.watcher.on("error", () => undefined);
    } catch (error) {
      this.console(
        `cannot watch for shutdown requests: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (this.shutdownRequested()) this.events.shutdownRequested();
  }

  private async spawnInGroup(
    name: string,
    program: string,
    args: string[],
    cwd: string,
    env: Record<string, string>,
  ) {
    this.cgroupProcs ??= await this.limits.prepare(
      this.identity.instanceId,
      instanceTypeSpec(this.identity.instanceType),
    );
    // The instance may have been stopped while its cgroups were being prepared.
    if (this.ending) return undefined;
    const log = openSync(this.paths.consoleLog, "a");
    try {
      const child = spawn(
        "/bin/sh",
        ["-c", JOIN_CGROUPS, "kiln-cgroup", ...this.cgroupProcs, "--", program, ...args],
        {
          cwd,
          env,
          detached: true,
          stdio: ["ignore", log, log],
        },
      );
      const exited = new Promise<ExitStatus>((resolve) => {
        child.on("error", (error) => {
          this.console(`${name}: ${error.message}`);
          resolve({ code: 127, signal: null });
        });
        child.on("exit", (code, signal) => resolve({ code, signal }));
      });
      void exited.then(() => this.forgetIfEmpty(child.pid));
      const pgid = child.pid;
      if (pgid !== undefined) {
        this.groups.set(pgid, name);
        this.events.groupsChanged(this.liveGroups());
      }
      return { pgid, exited };
    } finally {
      closeSync(log);
    }
  }

  /** Drops a group whose leader exited and left no process behind (orphans keep it listed). */
  private forgetIfEmpty(pgid: number | undefined): void {
    if (pgid === undefined || this.ending || isGroupAlive(pgid)) return;
    this.groups.delete(pgid);
    this.events.groupsChanged(this.liveGroups());
  }

  /** Runs user data once, as cloud-init does: `bash <file>` in the instance root. */
  async runUserData(script: Buffer): Promise<ExitStatus> {
    await writeFile(this.paths.userData, script, { mode: 0o700 });
    if (script.subarray(0, 13).toString() === "#cloud-config") {
      this.console("user data is #cloud-config, which the local EC2 does not apply; skipping it");
      return { code: 0, signal: null };
    }
    this.console("running user data (per-instance, once)");
    const spawned = await this.spawnInGroup(
      "user-data",
      "bash",
      [this.paths.userData],
      this.paths.root,
      this.baseEnv(),
    );
    if (spawned === undefined) return { code: null, signal: "SIGTERM" };
    const status = await spawned.exited;
    if (!this.ending) {
      this.console(
        status.code === 0
          ? "user data finished"
          : `user data failed (${describeExit(status)}): Failed to run module scripts-user`,
      );
    }
    return status;
  }

  /** Starts every unit enabled for multi-user.target; a unit that cannot start counts as exited. */
  async startUnits(): Promise<void> {
    for (const unit of await enabledUnits(this.paths.root)) {
      if (this.ending) return;
      const failed = (reason: string) => {
        this.console(`Failed to start ${unit.name}: ${reason}`);
        this.exitedUnits.set(unit.name, { code: 1, signal: null, at: new Date() });
      };
      if (unit.file === undefined) {
        failed("unit file not found");
        continue;
      }
      let command: Awaited<ReturnType<typeof resolveUnitCommand>>;
      try {
        command = await resolveUnitCommand(
          parseServiceUnit(await readFile(unit.file, "utf8")),
          this.paths.root,
          this.baseEnv(),
        );
      } catch (error) {
        failed(error instanceof Error ? error.message : String(error));
        continue;
      }
      // Services bind the instance's own address, whatever their unit says.
      const env = {
        ...command.env,
        HOST: this.identity.privateIpAddress,
        KILN_INSTANCE_ROOT: this.paths.root,
      };
      this.console(`Starting ${unit.name}: ${[command.program, ...command.args].join(" ")}`);
      const spawned = await this.spawnInGroup(unit.name, command.program, command.args, command.cwd, env);
      void spawned?.exited.then((status) => {
        if (this.ending) return;
        this.console(`${unit.name}: Main process exited, ${describeExit(status)}`);
        this.exitedUnits.set(unit.name, { ...status, at: new Date() });
      });
    }
  }

  /** Ends every process of the instance (SIGTERM, then SIGKILL after the grace) and its cgroups. */
  async end(graceMs = STOP_GRACE_MS): Promise<void> {
    this.ending = true;
    this.watcher?.close();
    this.watcher = undefined;
    await endProcessGroups([...this.groups.keys()], graceMs);
    // Anything that left its group (setsid, daemonizing) is still in the instance's cgroups.
    killProcesses(await this.limits.members(this.identity.instanceId));
    await this.limits.release(this.identity.instanceId);
    this.groups.clear();
    this.events.groupsChanged([]);
  }
}
