/**
 * The AWS events Kiln listens to, as EventBridge rules: each names its event pattern and the
 * function it invokes. The SST stack creates one rule per entry on the default event bus; the
 * local cloud routes the events its emulators emit through the same patterns.
 *
 * A deploy workflow waiting on a slow AWS operation (a builder stopping, an image becoming
 * available, a canary booting, an instance refresh ending) is woken by these events instead of
 * polling; see docs/decisions/0008-event-driven-waits.md.
 */
import type { KilnFunctionName } from "./functions.ts";

/**
 * The subset of EventBridge's pattern language Kiln's rules use: at each level, a field matches
 * when the event's value is one of the listed strings, or, for an object, when every field of
 * the nested pattern matches.
 */
export interface EventPattern {
  [field: string]: readonly string[] | EventPattern;
}

export interface EventRule {
  description: string;
  pattern: EventPattern;
  target: KilnFunctionName;
}

/**
 * Instance refresh events that end a refresh or its rollback. (A refresh that fails with
 * auto-rollback goes straight to rolling back: its end is the rollback's end.)
 */
export const refreshEndedDetailTypes = [
  "EC2 Auto Scaling Instance Refresh Succeeded",
  "EC2 Auto Scaling Instance Refresh Failed",
  "EC2 Auto Scaling Instance Refresh Cancelled",
  "EC2 Auto Scaling Instance Refresh Rollback Succeeded",
  "EC2 Auto Scaling Instance Refresh Rollback Failed",
] as const;

/** The rules that wake waiting deployments; every one invokes `wake`. */
export const wakeRules = {
  InstanceStopped: {
    description: "Kiln builders reaching the end of their bake (stopped, or gone)",
    pattern: {
      source: ["aws.ec2"],
      "detail-type": ["EC2 Instance State-change Notification"],
      detail: { state: ["stopped", "terminated"] },
    },
    target: "wake",
  },
  InstanceRunning: {
    description: "Kiln canaries reaching the end of their boot",
    pattern: {
      source: ["aws.ec2"],
      "detail-type": ["EC2 Instance State-change Notification"],
      detail: { state: ["running"] },
    },
    target: "wake",
  },
  ImageSettled: {
    description: "Kiln images becoming available, or failing",
    pattern: {
      source: ["aws.ec2"],
      "detail-type": ["EC2 AMI State Change"],
      detail: { State: ["available", "failed"] },
    },
    target: "wake",
  },
  RefreshEnded: {
    description: "Instance refreshes of Kiln's groups ending",
    pattern: { source: ["aws.autoscaling"], "detail-type": [...refreshEndedDetailTypes] },
    target: "wake",
  },
} as const satisfies Record<string, EventRule>;

/** Execution statuses that end a deployment outside its own paths (no Catch ran). */
export const abnormalEndStatuses = ["ABORTED", "TIMED_OUT", "FAILED"] as const;

/**
 * The rule sending deploy executions that were stopped, timed out or failed outside their own
 * paths to `onExecutionEnded`, which runs their cleanup. Its pattern names the state machine,
 * given as the stack's output or the local cloud's ARN.
 */
export function deployEndedRule<Arn>(stateMachineArn: Arn) {
  return {
    description: "Kiln deploy executions that ended outside their own failure paths",
    pattern: {
      source: ["aws.states"],
      "detail-type": ["Step Functions Execution Status Change"],
      detail: { status: [...abnormalEndStatuses], stateMachineArn: [stateMachineArn] },
    },
    target: "onExecutionEnded",
  } as const;
}

/** Whether an event matches a pattern (the subset described on EventPattern). */
export function matchesPattern(pattern: EventPattern, event: unknown): boolean {
  if (typeof event !== "object" || event === null || Array.isArray(event)) return false;
  const fields = new Map(Object.entries(event));
  return Object.entries(pattern).every(([field, expected]) => {
    const value = fields.get(field);
    if (isValueList(expected)) return typeof value === "string" && expected.includes(value);
    return matchesPattern(expected, value);
  });
}

function isValueList(expected: readonly string[] | EventPattern): expected is readonly string[] {
  return Array.isArray(expected);
}
