/**
 * The EventBridge events Auto Scaling emits as an instance refresh changes status: Started
 * (InProgress), Succeeded, Failed, Cancelled, and Rollback Started, Succeeded and Failed. Each
 * is built in the same tick as DescribeInstanceRefreshes shows the new status, and handed to
 * the emulator's optional `emitEvent` sink; `Pending` and `Cancelling` emit nothing, as on AWS.
 */
import { type AwsEvent, awsEvent } from "../event-bus.ts";
import { type EmulatorContext, findGroup } from "./emulator-context.ts";
import type { InstanceRefresh, RefreshStatus } from "./state.ts";

export const refreshEventDetailTypes = {
  InProgress: "EC2 Auto Scaling Instance Refresh Started",
  Successful: "EC2 Auto Scaling Instance Refresh Succeeded",
  Failed: "EC2 Auto Scaling Instance Refresh Failed",
  Cancelled: "EC2 Auto Scaling Instance Refresh Cancelled",
  RollbackInProgress: "EC2 Auto Scaling Instance Refresh Rollback Started",
  RollbackSuccessful: "EC2 Auto Scaling Instance Refresh Rollback Succeeded",
  RollbackFailed: "EC2 Auto Scaling Instance Refresh Rollback Failed",
} as const satisfies Partial<Record<RefreshStatus, string>>;

export type RefreshEventDetailType = (typeof refreshEventDetailTypes)[keyof typeof refreshEventDetailTypes];

export interface RefreshEventDetail {
  InstanceRefreshId: string;
  AutoScalingGroupName: string;
}

export type InstanceRefreshEvent = AwsEvent<RefreshEventDetailType, RefreshEventDetail>;

function detailTypeOf(status: RefreshStatus): RefreshEventDetailType | undefined {
  return status in refreshEventDetailTypes
    ? refreshEventDetailTypes[status as keyof typeof refreshEventDetailTypes]
    : undefined;
}

/** The event for a refresh's current status, if that status has one; `groupArn` is its resource. */
export function instanceRefreshEvent(
  refresh: InstanceRefresh,
  groupArn: string | undefined,
): InstanceRefreshEvent | undefined {
  const detailType = detailTypeOf(refresh.status);
  if (detailType === undefined) return undefined;
  return awsEvent("aws.autoscaling", detailType, groupArn === undefined ? [] : [groupArn], {
    InstanceRefreshId: refresh.id,
    AutoScalingGroupName: refresh.groupName,
  });
}

/**
 * Moves a refresh to `status` and announces it in the same tick. Set the fields that go with
 * the status (reason, end time) before calling, so the event follows the complete change.
 */
export function enterRefreshStatus(
  context: EmulatorContext,
  refresh: InstanceRefresh,
  status: RefreshStatus,
): void {
  if (refresh.status === status) return;
  refresh.status = status;
  const emit = context.emitEvent;
  if (emit === undefined) return;
  const event = instanceRefreshEvent(refresh, findGroup(context, refresh.groupName)?.arn);
  if (event === undefined) return;
  try {
    emit(event);
  } catch (error) {
    context.log(
      `autoscaling: emitting ${event["detail-type"]} of ${refresh.id} failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
