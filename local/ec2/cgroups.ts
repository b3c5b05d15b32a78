/**
 * CPU and memory limits for instances, from their instance type, through the machine's cgroups.
 * Instance cgroups nest under the emulator's own cgroup (so the host's limits still apply), in a
 * `kiln-ec2/<instance-id>` folder per controller. Where cgroups cannot be written (read-only
 * mounts, cgroup v2 without delegated controllers, another OS), instances run unlimited and one
 * log line says why: a launch never fails over limits.
 */
import { mkdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import type { InstanceTypeSpec } from "./instance-types.ts";

export interface InstanceLimits {
  /** One line for the log: where limits are enforced, or why they are not. */
  readonly summary: string;
  /** Creates the instance's cgroups; returns the `cgroup.procs` files a new process must join. */
  prepare(instanceId: string, spec: InstanceTypeSpec | undefined): Promise<string[]>;
  /** Pids still in the instance's cgroups, including any that left their process group. */
  members(instanceId: string): Promise<number[]>;
  /** Removes the instance's cgroups once their processes are gone. */
  release(instanceId: string): Promise<void>;
  /** Removes the emulator's `kiln-ec2` folders when no instance (of any emulator) uses them. */
  close(): Promise<void>;
}

interface Controller {
  /** `<mount>/<own cgroup>/kiln-ec2`. */
  base: string;
  limit(dir: string, spec: InstanceTypeSpec): Promise<void>;
}

const CPU_PERIOD_US = 100_000;

interface Mount {
  root: string;
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

function parseMountInfo(text: string): Mount[] {
  return text
    .split("\n")
    .filter((line) => line.includes(" - "))
    .flatMap((line) => {
      const [before, after] = line.split(" - ");
      const fields = before?.split(" ") ?? [];
      const [fsType, , superOptions] = after?.split(" ") ?? [];
      const root = fields[3];
      const mountPoint = fields[4];
      if (root === undefined || mountPoint === undefined || fsType === undefined) return [];
      return [{ root, mountPoint, fsType, superOptions: (superOptions ?? "").split(",") }];
    });
}

/** `/proc/self/cgroup` as controller → path (`""` is the cgroup v2 unified hierarchy). */
function parseOwnCgroups(text: string): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (match === null) continue;
    const [, controllers = "", path = "/"] = match;
    if (controllers === "") paths.set("", path);
    for (const controller of controllers.split(",")) if (controller !== "") paths.set(controller, path);
  }
  return paths;
}

function ownDir(mount: Mount, ownPath: string): string {
  const inside = relative(mount.root, ownPath);
  return inside.startsWith("..") ? mount.mountPoint : join(mount.mountPoint, inside);
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function probeController(controller: Controller, probeName: string): Promise<void> {
  const dir = join(controller.base, probeName);
  await mkdir(dir, { recursive: true });
  try {
    await controller.limit(dir, { vcpus: 1, memoryMiB: 256 });
  } finally {
    await rmdir(dir).catch(() => undefined);
  }
}

function v1Controllers(mounts: Mount[], own: Map<string, string>): Controller[] | string {
  const cpu = mounts.find((mount) => mount.fsType === "cgroup" && mount.superOptions.includes("cpu"));
  const memory = mounts.find((mount) => mount.fsType === "cgroup" && mount.superOptions.includes("memory"));
  if (cpu === undefined || memory === undefined) return "no cgroup v1 cpu and memory hierarchies are mounted";
  return [
    {
      base: join(ownDir(cpu, own.get("cpu") ?? "/"), "kiln-ec2"),
      limit: async (dir, spec) => {
        await writeFile(join(dir, "cpu.cfs_period_us"), String(CPU_PERIOD_US));
        await writeFile(join(dir, "cpu.cfs_quota_us"), String(spec.vcpus * CPU_PERIOD_US));
      },
    },
    {
      base: join(ownDir(memory, own.get("memory") ?? "/"), "kiln-ec2"),
      limit: (dir, spec) =>
        writeFile(join(dir, "memory.limit_in_bytes"), String(spec.memoryMiB * 1024 * 1024)),
    },
  ];
}

async function v2Controllers(mounts: Mount[], own: Map<string, string>): Promise<Controller[] | string> {
  const unified = mounts.find((mount) => mount.fsType === "cgroup2");
  if (unified === undefined) return "no cgroup v2 hierarchy is mounted";
  const dir = ownDir(unified, own.get("") ?? "/");
  const available = (await readFile(join(dir, "cgroup.controllers"), "utf8").catch(() => "")).split(/\s+/);
  if (!available.includes("cpu") || !available.includes("memory")) {
    return `cgroup v2 does not delegate the cpu and memory controllers to ${dir}`;
  }
  const base = join(dir, "kiln-ec2");
  await mkdir(base, { recursive: true });
  await writeFile(join(base, "cgroup.subtree_control"), "+cpu +memory");
  return [
    {
      base,
      limit: async (instanceDir, spec) => {
        await writeFile(join(instanceDir, "cpu.max"), `${spec.vcpus * CPU_PERIOD_US} ${CPU_PERIOD_US}`);
        await writeFile(join(instanceDir, "memory.max"), String(spec.memoryMiB * 1024 * 1024));
      },
    },
  ];
}

class CgroupLimits implements InstanceLimits {
  constructor(
    readonly summary: string,
    private readonly controllers: Controller[],
    private readonly log: (line: string) => void,
  ) {}

  async prepare(instanceId: string, spec: InstanceTypeSpec | undefined): Promise<string[]> {
    if (spec === undefined) return [];
    try {
      const procs: string[] = [];
      for (const controller of this.controllers) {
        const dir = join(controller.base, instanceId);
        await mkdir(dir, { recursive: true });
        await controller.limit(dir, spec);
        procs.push(join(dir, "cgroup.procs"));
      }
      return procs;
    } catch (error) {
      this.log(`ec2: ${instanceId} runs without CPU and memory limits: ${reasonOf(error)}`);
      return [];
    }
  }

  async members(instanceId: string): Promise<number[]> {
    const pids = new Set<number>();
    for (const controller of this.controllers) {
      const text = await readFile(join(controller.base, instanceId, "cgroup.procs"), "utf8").catch(() => "");
      for (const line of text.split("\n")) if (/^\d+$/.test(line)) pids.add(Number(line));
    }
    return [...pids];
  }

  async release(instanceId: string): Promise<void> {
    for (const controller of this.controllers) {
      const dir = join(controller.base, instanceId);
      // A cgroup can only be removed once the kernel has seen its last process exit.
      for (let attempt = 0; attempt < 20; attempt += 1) {
        try {
          await rmdir(dir);
          break;
        } catch (error) {
          if (error instanceof Error && "code" in error && error.code === "ENOENT") break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    }
  }

  async close(): Promise<void> {
    // A leftover folder would keep the emulator's own cgroup from being removed after it exits.
    for (const controller of this.controllers) await rmdir(controller.base).catch(() => undefined);
  }
}

class NoLimits implements InstanceLimits {
  async close(): Promise<void> {}
  constructor(readonly summary: string) {}
  async prepare(): Promise<string[]> {
    return [];
  }
  async members(): Promise<number[]> {
    return [];
  }
  async release(): Promise<void> {}
}

/** Finds out whether this machine lets the emulator limit instances, and how. */
export async function probeInstanceLimits(log: (line: string) => void): Promise<InstanceLimits> {
  if (process.platform !== "linux") {
    return new NoLimits(
      `instance CPU and memory limits are not enforced: cgroups need Linux (this is ${process.platform})`,
    );
  }
  const probeName = `probe-${process.pid}`;
  const reasons: string[] = [];
  try {
    const mounts = parseMountInfo(await readFile("/proc/self/mountinfo", "utf8"));
    const own = parseOwnCgroups(await readFile("/proc/self/cgroup", "utf8"));
    for (const [version, find] of [
      ["v1", async () => v1Controllers(mounts, own)],
      ["v2", () => v2Controllers(mounts, own)],
    ] as const) {
      try {
        const controllers = await find();
        if (typeof controllers === "string") {
          reasons.push(controllers);
          continue;
        }
        for (const controller of controllers) await probeController(controller, probeName);
        const where = controllers.map((controller) => controller.base).join(", ");
        return new CgroupLimits(
          `instance CPU and memory limits are enforced with cgroup ${version} under ${where}`,
          controllers,
          log,
        );
      } catch (error) {
        reasons.push(`cgroup ${version}: ${reasonOf(error)}`);
      }
    }
  } catch (error) {
    reasons.push(reasonOf(error));
  }
  return new NoLimits(`instance CPU and memory limits are not enforced: ${reasons.join("; ")}`);
}
