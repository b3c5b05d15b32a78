/**
 * Ending an instance's processes. Every process an instance starts leads its own process group,
 * and carries `KILN_INSTANCE_ROOT` in its environment, which lets the emulator find processes that
 * outlived a crash of the emulator (or left their group) without trusting a recorded pid that
 * the system may since have reused.
 */
import { readdir, readFile } from "node:fs/promises";

function errorCode(error: unknown): string | undefined {
  return error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined;
}

/** Sends a signal to a process group (negative pid) or a process; false when it is gone. */
export function signal(target: number, name: NodeJS.Signals | 0): boolean {
  try {
    process.kill(target, name);
    return true;
  } catch (error) {
    return errorCode(error) === "EPERM";
  }
}

/** Whether any process of the group is still there. */
export function isGroupAlive(pgid: number): boolean {
  return signal(-pgid, 0);
}

async function waitUntilGone(pgids: number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  let alive = pgids.filter(isGroupAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    alive = alive.filter(isGroupAlive);
  }
  return alive;
}

/** SIGTERM to each group, then SIGKILL to what is left after the grace period. */
export async function endProcessGroups(pgids: number[], graceMs: number): Promise<void> {
  const targets = pgids.filter((pgid) => signal(-pgid, "SIGTERM"));
  if (targets.length === 0) return;
  const stubborn = await waitUntilGone(targets, graceMs);
  for (const pgid of stubborn) signal(-pgid, "SIGKILL");
  // Orphans are reaped by the init process, not by us: give it a moment, never wait forever.
  await waitUntilGone(stubborn, 1000);
}

/** SIGKILL to single processes (strays found outside their group). */
export function killProcesses(pids: number[]): void {
  for (const pid of pids) signal(pid, "SIGKILL");
}

export interface InstanceProcess {
  pid: number;
  pgid: number;
  instanceRoot: string;
}

/** Processes on this machine whose environment says they belong to an instance under `instancesDir`. */
export async function findInstanceProcesses(instancesDir: string): Promise<InstanceProcess[]> {
  const prefix = `KILN_INSTANCE_ROOT=${instancesDir}/`;
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return [];
  }
  const found: InstanceProcess[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = await readFile(`/proc/${entry}/environ`, "latin1");
      const variable = environ.split("\0").find((item) => item.startsWith(prefix));
      if (variable === undefined) continue;
      const stat = await readFile(`/proc/${entry}/stat`, "latin1");
      // Fields after the command name (which may contain spaces) start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z") continue;
      found.push({
        pid: Number(entry),
        pgid: Number(fields[2]),
        instanceRoot: variable.slice("KILN_INSTANCE_ROOT=".length),
      });
    } catch {
      // The process ended while we looked, or is not ours to read.
    }
  }
  return found;
}
