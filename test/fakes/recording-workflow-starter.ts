import type { WorkflowStarter } from "../../core/ports.ts";

export interface Execution {
  input: unknown;
  status: "RUNNING" | "ABORTED";
  cause?: string | undefined;
}

/** Step Functions in memory: one execution per name, a repeated start makes no second one. */
export class RecordingWorkflowStarter implements WorkflowStarter {
  readonly executions = new Map<string, Execution>();
  /** Every start call, repeats included. */
  readonly startCalls: string[] = [];

  async start(deploymentId: string, input: unknown): Promise<void> {
    this.startCalls.push(deploymentId);
    if (!this.executions.has(deploymentId))
      this.executions.set(deploymentId, { input: structuredClone(input), status: "RUNNING" });
  }

  async stop(deploymentId: string, cause: string): Promise<boolean> {
    const execution = this.executions.get(deploymentId);
    if (execution?.status !== "RUNNING") return false;
    execution.status = "ABORTED";
    execution.cause = cause;
    return true;
  }

  /** Names of the executions started, in order. */
  started(): string[] {
    return [...this.executions.keys()];
  }
}
