/**
 * The EventBridge event AWS emits when a Step Functions execution changes status; Kiln's
 * `onExecutionEnded` function receives it through the DeployExecutionEnded rule, on AWS and on
 * the local default bus alike.
 */
import type { EventBridgeEvent } from "aws-lambda";
import { awsEvent } from "../event-bus.ts";
import type { ExecutionRecord } from "./execution-store.ts";

export interface ExecutionStatusChangeDetail {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: string;
  /** Milliseconds since the epoch, as AWS puts them in this event. */
  startDate: number;
  stopDate: number | null;
  input: string;
  output: string | null;
  inputDetails: { included: boolean };
  outputDetails: { included: boolean } | null;
  error: string | null;
  cause: string | null;
}

export type ExecutionStatusChangeEvent = EventBridgeEvent<
  "Step Functions Execution Status Change",
  ExecutionStatusChangeDetail
>;

/** Builds the status-change event for an execution as it is now. */
export function executionStatusChangeEvent(record: ExecutionRecord): ExecutionStatusChangeEvent {
  return awsEvent(
    "aws.states",
    "Step Functions Execution Status Change",
    [record.executionArn],
    {
      executionArn: record.executionArn,
      stateMachineArn: record.stateMachineArn,
      name: record.name,
      status: record.status,
      startDate: record.startDate,
      stopDate: record.stopDate ?? null,
      input: record.input,
      output: record.output ?? null,
      inputDetails: { included: true },
      outputDetails: record.output === undefined ? null : { included: true },
      error: record.error ?? null,
      cause: record.cause ?? null,
    },
    new Date(record.stopDate ?? record.startDate),
  );
}
