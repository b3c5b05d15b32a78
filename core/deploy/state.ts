/**
 * The deploy workflow's state: the execution input, and what each step adds under its own key
 * (the ASL's ResultPath). Every task parses the part it reads, so a malformed state fails loudly.
 */
import * as z from "zod";
import { artifactRefSchema, rollbackTargetSchema } from "../deployment.ts";
import { InvalidInputError } from "../errors.ts";
import { manifestSchema } from "../manifest.ts";

export const executionInputSchema = z.object({
  deploymentId: z.string(),
  service: z.string(),
  version: z.string(),
  artifact: artifactRefSchema.required({ sha256: true, size: true }),
  manifest: manifestSchema,
  /** Set for a rollback: prepare takes this image instead of baking one. */
  rollbackTo: rollbackTargetSchema.optional(),
});
export type ExecutionInput = z.infer<typeof executionInputSchema>;

export const checkStatusSchema = z.enum(["RUNNING", "SUCCEEDED", "FAILED"]);
export type CheckStatus = z.infer<typeof checkStatusSchema>;

export const planSchema = z.object({
  baseImageId: z.string(),
  cacheKey: z.string(),
  cachedImageId: z.string().nullable(),
  groupName: z.string(),
  launchTemplateId: z.string(),
  builder: z.object({
    instanceType: z.string(),
    subnetId: z.string().optional(),
    securityGroupIds: z.array(z.string()),
    timeoutSeconds: z.number(),
  }),
  health: z.object({
    port: z.number().int(),
    path: z.string(),
    healthyThreshold: z.number().int(),
    timeoutSeconds: z.number().int(),
    requestTimeoutMs: z.number().int(),
  }),
  rollout: z.object({
    minHealthyPercentage: z.number(),
    instanceWarmupSeconds: z.number(),
    skipMatching: z.boolean(),
    autoRollback: z.boolean(),
  }),
  /** The canary's Wait, and how long a Watch task waits for an event before checking by itself. */
  poll: z.object({
    builderSeconds: z.number().int(),
    imageSeconds: z.number().int(),
    canarySeconds: z.number().int(),
    refreshSeconds: z.number().int(),
  }),
});
export type Plan = z.infer<typeof planSchema>;

export const instanceStepSchema = z.object({
  instanceId: z.string(),
  deadline: z.iso.datetime({ offset: true }),
});
export const imageStepSchema = z.object({ imageId: z.string(), cached: z.boolean() });
export const canaryCheckSchema = z.object({
  /** BOOTING: the canary is not running yet, and the workflow watches for it to be. */
  status: z.enum([...checkStatusSchema.options, "BOOTING"]),
  consecutive: z.number().int().nonnegative(),
  reason: z.string().optional(),
});
export const groupStepSchema = z.object({ launchTemplateId: z.string(), previousVersion: z.string() });
export const templateStepSchema = z.object({ version: z.string() });
export const refreshStepSchema = z.object({ refreshId: z.string() });
export const refreshCheckSchema = z.object({
  status: z.enum(["RUNNING", "SUCCEEDED", "ROLLING_BACK", "ROLLED_BACK", "FAILED"]),
  percentComplete: z.number(),
  reason: z.string().optional(),
});
export const rollbackStepSchema = z.object({ refreshId: z.string().optional(), reason: z.string() });

/** What a Catch puts under `$.error`: the failed state's error name and cause. */
export const caughtErrorSchema = z.object({ Error: z.string(), Cause: z.string().optional() });
export type CaughtError = z.infer<typeof caughtErrorSchema>;

/** Everything a task may find in the state; each task reads the keys it needs. */
export const deployStateSchema = executionInputSchema.extend({
  plan: planSchema.optional(),
  builder: instanceStepSchema.optional(),
  image: imageStepSchema.optional(),
  canary: instanceStepSchema.optional(),
  canaryCheck: canaryCheckSchema.optional(),
  group: groupStepSchema.optional(),
  template: templateStepSchema.optional(),
  refresh: refreshStepSchema.optional(),
  refreshCheck: refreshCheckSchema.optional(),
  rollback: rollbackStepSchema.optional(),
  error: caughtErrorSchema.optional(),
});
export type DeployState = z.infer<typeof deployStateSchema>;

/** Narrows the state to one that has the keys a step depends on, naming any that are missing. */
export function requireKeys<K extends keyof DeployState>(
  state: DeployState,
  ...keys: K[]
): DeployState & Required<Pick<DeployState, K>> {
  const missing = keys.filter((key) => state[key] === undefined);
  if (missing.length > 0) {
    throw new InvalidInputError("deploy state", [
      `${missing.join(", ")} missing: the workflow ran this step out of order`,
    ]);
  }
  return state as DeployState & Required<Pick<DeployState, K>>;
}
