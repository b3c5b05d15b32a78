/** TaskCallbacks on Step Functions: SendTaskSuccess with the task's result. */
import { SendTaskSuccessCommand, type SFNClient } from "@aws-sdk/client-sfn";
import type { TaskCallbacks } from "../ports.ts";
import { callAws, isAwsError } from "./aws-errors.ts";
import { sfnClient } from "./clients.ts";

/** What Step Functions answers for a token whose task is no longer waiting. */
const taskGone = ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"];

export class SfnTaskCallbacks implements TaskCallbacks {
  constructor(private readonly sfn: SFNClient = sfnClient()) {}

  async succeed(taskToken: string, output: unknown): Promise<boolean> {
    try {
      await callAws("SendTaskSuccess", () =>
        this.sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) })),
      );
      return true;
    } catch (error) {
      if (isAwsError(error, ...taskGone)) return false;
      throw error;
    }
  }
}
