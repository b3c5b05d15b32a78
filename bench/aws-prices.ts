import { type KilnFunctionName, sizingOf } from "../workflows/functions.ts";

/**
 * Public AWS prices the cost figure uses: on-demand, us-east-1 (US East, N. Virginia), USD,
 * without free tiers (they would make every figure here $0).
 *
 * Taken on 2026-11-22 from stored copies of public pages found through a documentation search
 * (these machines have no web access); the AWS pages' stored copies carry no date of their own:
 * - Step Functions, https://aws.amazon.com/step-functions/pricing/: Standard workflows, US East
 *   (N. Virginia) $0.0250 per 1,000 state transitions; retries count as transitions.
 * - Lambda, https://aws.amazon.com/lambda/pricing/ and the "How AWS Pricing Works" whitepaper:
 *   $0.20 per 1M requests, duration per GB-second billed per 1 ms (x86 $0.0000166667). The Arm
 *   rate, $0.0000133334, is from Cloudchipr's "AWS Lambda Pricing Breakdown" (2024, US East).
 *   A transcription of the Lambda pricing page dated 2026-09-20 (api-evangelist/aws-lambda)
 *   still shows $0.20 per million requests. Since 2025-08-01 the INIT phase (cold start) of ZIP
 *   functions on managed runtimes is billed as duration too (AWS Compute Blog, 2025-04).
 * - DynamoDB on-demand: $0.625 per million write request units, $0.125 per million read request
 *   units, after AWS halved on-demand prices in November 2024 (Airbyte, "Amazon DynamoDB
 *   Pricing", 2025-07-21; the AWS News Blog's on-demand post notes the cut, updated 2025-01-31).
 * Re-check against the pricing pages before quoting the dollars.
 */
export const awsPrices = {
  takenOn: "2026-11-22",
  region: "us-east-1",
  currency: "USD",
  stepFunctions: {
    standardPerStateTransition: 0.025 / 1000,
  },
  lambda: {
    perRequest: 0.2 / 1_000_000,
    perGbSecond: { arm64: 0.0000133334, x86_64: 0.0000166667 },
    billedDurationIncrementMs: 1,
  },
  dynamoDb: {
    perWriteRequestUnit: 0.625 / 1_000_000,
    perReadRequestUnit: 0.125 / 1_000_000,
  },
} as const;

/** How Kiln's functions are deployed (stacks/functions.ts): Arm, sized by workflows/functions.ts. */
export const deployedFunctions = { architecture: "arm64" } as const;

/** Memory a function is deployed with, MB. */
export function memoryMbOf(functionName: KilnFunctionName): number {
  return sizingOf(functionName).memoryMb;
}

/** What one invocation of `functionName` lasting `durationMs` costs (request + duration). */
export function lambdaInvocationCost(functionName: KilnFunctionName, durationMs: number): number {
  const billedMs = Math.max(1, Math.ceil(durationMs));
  const gbSeconds = (memoryMbOf(functionName) / 1024) * (billedMs / 1000);
  return (
    awsPrices.lambda.perRequest + gbSeconds * awsPrices.lambda.perGbSecond[deployedFunctions.architecture]
  );
}
