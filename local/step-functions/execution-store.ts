/**
 * State machines and executions (with their event history and timings) on disk under
 * `<stateDir>/sfn/`, so `kiln local status`, the AWS CLI and benchmarks see them after a restart.
 *
 *   sfn/state-machines.json                     every state machine
 *   sfn/executions/<machine>%3A<execution>.json  one execution: record, stats, history
 */
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as z from "zod";
import { historyEventSchema } from "./history.ts";

export const executionStatuses = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"] as const;
export type ExecutionStatus = (typeof executionStatuses)[number];

export const stateMachineRecordSchema = z.object({
  stateMachineArn: z.string(),
  name: z.string(),
  definition: z.string(),
  roleArn: z.string(),
  type: z.literal("STANDARD"),
  creationDate: z.number(),
  updateDate: z.number().optional(),
});
export type StateMachineRecord = z.infer<typeof stateMachineRecordSchema>;

export const taskTimingSchema = z.object({
  state: z.string(),
  functionArn: z.string(),
  startedAt: z.number(),
  durationMs: z.number(),
  outcome: z.enum(["succeeded", "failed", "timed out"]),
});
export type TaskTiming = z.infer<typeof taskTimingSchema>;

export const executionStatsSchema = z.object({
  /** States entered plus retries: what AWS bills as state transitions for a Standard workflow. */
  stateTransitions: z.number(),
  tasks: z.array(taskTimingSchema),
});
export type ExecutionStats = z.infer<typeof executionStatsSchema>;

export const executionRecordSchema = z.object({
  executionArn: z.string(),
  stateMachineArn: z.string(),
  name: z.string(),
  status: z.enum(executionStatuses),
  startDate: z.number(),
  stopDate: z.number().optional(),
  input: z.string(),
  output: z.string().optional(),
  error: z.string().optional(),
  cause: z.string().optional(),
  stats: executionStatsSchema,
  events: z.array(historyEventSchema),
});
export type ExecutionRecord = z.infer<typeof executionRecordSchema>;

const stateMachinesFileSchema = z.object({ stateMachines: z.array(stateMachineRecordSchema) });

/** How long a running execution's changes may wait before they are written (writes coalesce). */
const saveDelayMs = 100;

export class ExecutionStore {
  private readonly executionsDir: string;
  private readonly writes = new Map<string, Promise<void>>();
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; record: ExecutionRecord }>();
  private sequence = 0;

  constructor(private readonly dir: string) {
    this.executionsDir = join(dir, "executions");
  }

  /** Reads everything stored; creates the folders on first use. */
  async load(): Promise<{ stateMachines: StateMachineRecord[]; executions: ExecutionRecord[] }> {
    await mkdir(this.executionsDir, { recursive: true });
    let stateMachines: StateMachineRecord[] = [];
    try {
      const text = await readFile(join(this.dir, "state-machines.json"), "utf8");
      stateMachines = stateMachinesFileSchema.parse(JSON.parse(text)).stateMachines;
    } catch (error) {
      if (!isMissingFile(error)) throw error;
    }
    const executions: ExecutionRecord[] = [];
    for (const file of await readdir(this.executionsDir)) {
      if (!file.endsWith(".json")) continue;
      const text = await readFile(join(this.executionsDir, file), "utf8");
      executions.push(executionRecordSchema.parse(JSON.parse(text)));
    }
    return { stateMachines, executions };
  }

  async saveStateMachines(stateMachines: StateMachineRecord[]): Promise<void> {
    await this.write(join(this.dir, "state-machines.json"), { stateMachines });
  }

  /** Writes an execution soon, coalescing the many changes a running execution makes. */
  saveSoon(record: ExecutionRecord): void {
    const existing = this.timers.get(record.executionArn);
    if (existing !== undefined) {
      existing.record = record;
      return;
    }
    const entry = {
      record,
      timer: setTimeout(() => {
        this.timers.delete(record.executionArn);
        void this.saveNow(entry.record).catch(() => {});
      }, saveDelayMs),
    };
    this.timers.set(record.executionArn, entry);
  }

  /** Writes an execution now (and cancels a pending coalesced write). */
  async saveNow(record: ExecutionRecord): Promise<void> {
    const pending = this.timers.get(record.executionArn);
    if (pending !== undefined) {
      clearTimeout(pending.timer);
      this.timers.delete(record.executionArn);
    }
    await this.write(this.executionFile(record), record);
  }

  /** Writes every pending change and waits for writes under way. */
  async flush(): Promise<void> {
    const pending = [...this.timers.values()].map((entry) => entry.record);
    await Promise.all(pending.map((record) => this.saveNow(record)));
    await Promise.allSettled([...this.writes.values()]);
  }

  private executionFile(record: ExecutionRecord): string {
    const machine = record.stateMachineArn.split(":").at(-1) ?? "unknown";
    return join(this.executionsDir, `${encodeURIComponent(`${machine}:${record.name}`)}.json`);
  }

  /** Writes whole files through a rename, one write at a time per file, so a reader never sees half. */
  private write(path: string, value: unknown): Promise<void> {
    const text = JSON.stringify(value);
    const previous = this.writes.get(path) ?? Promise.resolve();
    const next = previous
      .catch(() => {})
      .then(async () => {
        this.sequence += 1;
        const temporary = `${path}.${process.pid}.${this.sequence}.tmp`;
        await writeFile(temporary, text);
        await rename(temporary, path);
      });
    this.writes.set(path, next);
    void next
      .finally(() => {
        if (this.writes.get(path) === next) this.writes.delete(path);
      })
      .catch(() => {});
    return next;
  }
}

function isMissingFile(error: unknown): boolean {
  return error instanceof Error && "code" in error && error.code === "ENOENT";
}
