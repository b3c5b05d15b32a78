/** WorkflowStarter on Step Functions: one execution per deployment, named by its id. */
import { type SFNClient, StartExecutionCommand, StopExecutionCommand } from "@aws-sdk/client-sfn";
import type { WorkflowStarter } from "../ports.ts";
import { callAws, isAwsError } from "./aws-errors.ts";
import { sfnClient } from "./clients.ts";

/** The execution ARN for a deployment: `…:stateMachine:<name>` becomes `…:execution:<name>:<id>`. */
export function executionArnFor(stateMachineArn: string, deploymentId: string): string {
  return `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${deploymentId}`;
}

export class SfnWorkflowStarter implements WorkflowStarter {
  constructor(
    private readonly stateMachineArn: string,
    private readonly sfn: SFNClient = sfnClient(),
  ) {}

  async start(deploymentId: string, input: unknown): Promise<void> {
    try {
      await callAws(`StartExecution ${deploymentId}`, () =>
        this.sfn.send(
          new StartExecutionCommand({
            stateMachineArn: this.stateMachineArn,
            name: deploymentId,
            input: JSON.stringify(input),
          }),
        ),
      );
    } catch (error) {
      // The execution exists: an earlier attempt started it, which is all this call wants.
      if (!isAwsError(error, "ExecutionAlreadyExists")) throw error;
    }
  }

  async stop(deploymentId: string, cause: string): Promise<boolean> {
    try {
      await callAws(`StopExecution ${deploymentId}`, () =>
        this.sfn.send(
          new StopExecutionCommand({
            executionArn: executionArnFor(this.stateMachineArn, deploymentId),
            error: "DeploymentCancelled",
            cause: cause.slice(0, 32_000),
          }),
        ),
      );
      return true;
    } catch (error) {
      if (isAwsError(error, "ExecutionDoesNotExist")) return false;
      throw error;
    }
  }
}
