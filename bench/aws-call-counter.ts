/**
 * Counts the AWS API calls Kiln's functions make, by `service:Action`, with an SDK middleware on
 * the clients every adapter uses by default (core/aws/clients.ts: one per service per process).
 * The local cloud runs the functions in the benchmark's process, so these are their clients.
 *
 * Why here and not at the emulators: the local Auto Scaling drives instances through the local
 * EC2's API, and the benchmark's own polling goes there too; neither is Kiln's. Counting in
 * Kiln's clients counts exactly what Kiln asks of AWS. The builder's download of the artifact
 * by presigned URL is not an SDK call and is not counted here.
 */
import type { MetadataBearer, MiddlewareStack } from "@smithy/types";
import {
  autoScalingClient,
  documentClient,
  ec2Client,
  s3Client,
  sesClient,
  sfnClient,
} from "../core/aws/clients.ts";

export type CallCounts = Record<string, number>;

const serviceOfClient: Record<string, string> = {
  EC2Client: "ec2",
  AutoScalingClient: "autoscaling",
  DynamoDBClient: "dynamodb",
  S3Client: "s3",
  SFNClient: "states",
  SESv2Client: "ses",
};

/** Kiln's AWS calls so far, by `service:Action`. */
export class AwsCallCounter {
  private readonly counts = new Map<string, number>();

  /**
   * Adds the counting middleware to Kiln's default clients. Call it once the local cloud has set
   * the environment (the clients read their endpoints when first created) and before any
   * function runs.
   */
  attach(): void {
    const stacks: Array<MiddlewareStack<object, MetadataBearer>> = [
      ec2Client().middlewareStack,
      autoScalingClient().middlewareStack,
      documentClient().middlewareStack,
      s3Client().middlewareStack,
      sfnClient().middlewareStack,
      sesClient().middlewareStack,
    ];
    for (const stack of stacks) {
      stack.add(
        (next, context) => async (args) => {
          const service = serviceOfClient[String(context.clientName)] ?? String(context.clientName);
          const action = String(context.commandName).replace(/Command$/, "");
          const key = `${service}:${action}`;
          this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
          return next(args);
        },
        // As each request leaves, past the SDK's retry and signing steps: every attempt counts,
        // as AWS bills it, and a presigned URL, which the SDK builds through the same stack but
        // never sends (the builder's artifact download), does not.
        { step: "deserialize", name: "kilnBenchCallCounter" },
      );
    }
  }

  /** Counts so far, by `service:Action`. */
  snapshot(): CallCounts {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => a.localeCompare(b)));
  }
}

/** Calls made between two snapshots. */
export function callsBetween(before: CallCounts, after: CallCounts): CallCounts {
  const delta: CallCounts = {};
  for (const [key, count] of Object.entries(after)) {
    const made = count - (before[key] ?? 0);
    if (made > 0) delta[key] = made;
  }
  return delta;
}

/** All calls, whatever the action. */
export function totalCalls(counts: CallCounts): number {
  return Object.values(counts).reduce((total, count) => total + count, 0);
}
