/**
 * The EventBridge events EC2 emits: `EC2 Instance State-change Notification` when an instance
 * enters a state, `EC2 AMI State Change` when an image becomes available, fails or is
 * deregistered. The emulator builds each one in the same tick as the change becomes visible to
 * Describe calls and hands it to its optional `emitEvent` sink.
 */

import { accountId, region } from "../endpoints.ts";
import { type AwsEvent, awsEvent } from "../event-bus.ts";
import type { Instance, InstanceStateName } from "./state.ts";

export interface InstanceStateChangeDetail {
  "instance-id": string;
  state: InstanceStateName;
}

export type InstanceStateChangeEvent = AwsEvent<
  "EC2 Instance State-change Notification",
  InstanceStateChangeDetail
>;

export type AmiEventState = "available" | "failed" | "deregistered";

export interface AmiStateChangeDetail {
  /** The request that led to the change (CreateImage, DeregisterImage). */
  RequestId: string;
  ImageId: string;
  State: AmiEventState;
  /** Why the image failed; empty otherwise, as AWS sends it. */
  ErrorMessage: string;
}

export type AmiStateChangeEvent = AwsEvent<"EC2 AMI State Change", AmiStateChangeDetail>;

export function instanceArn(instanceId: string): string {
  return `arn:aws:ec2:${region}:${accountId}:instance/${instanceId}`;
}

/** Image ARNs carry no account, as in AWS's AMI events. */
export function imageArn(imageId: string): string {
  return `arn:aws:ec2:${region}::image/${imageId}`;
}

/** The state-change notification for an instance as it is now. */
export function instanceStateChangeEvent(instance: Instance): InstanceStateChangeEvent {
  return awsEvent("aws.ec2", "EC2 Instance State-change Notification", [instanceArn(instance.instanceId)], {
    "instance-id": instance.instanceId,
    state: instance.state,
  });
}

export function amiStateChangeEvent(
  imageId: string,
  state: AmiEventState,
  requestId: string,
  errorMessage = "",
): AmiStateChangeEvent {
  return awsEvent("aws.ec2", "EC2 AMI State Change", [imageArn(imageId)], {
    RequestId: requestId,
    ImageId: imageId,
    State: state,
    ErrorMessage: errorMessage,
  });
}
