/**
 * What the Auto Scaling emulator keeps: groups with their instances, instance refreshes and
 * scaling activities. The schemas double as the format of `state.json`, which is parsed
 * on load like any other input.
 */
import * as z from "zod";

/** A launch template as a group or an instance names it; the version may be `$Latest`. */
export const launchTemplateRefSchema = z.object({
  id: z.string(),
  name: z.string(),
  version: z.string(),
});
export type LaunchTemplateRef = z.infer<typeof launchTemplateRefSchema>;

/** The lifecycle states the emulator uses; an instance leaves the group once EC2 has terminated it. */
export const lifecycleStates = ["Pending", "InService", "Terminating"] as const;
export type LifecycleState = (typeof lifecycleStates)[number];

export const groupInstanceSchema = z.object({
  instanceId: z.string(),
  lifecycleState: z.enum(lifecycleStates),
  healthStatus: z.enum(["Healthy", "Unhealthy"]),
  /** The numbered version the instance was launched from. */
  launchTemplate: launchTemplateRefSchema,
  availabilityZone: z.string(),
  instanceType: z.string(),
  privateIpAddress: z.string().optional(),
  launchedAt: z.number(),
  /** Why the instance was found unhealthy, for the activity that replaces it. */
  unhealthyReason: z.string().optional(),
});
export type GroupInstance = z.infer<typeof groupInstanceSchema>;

export const groupTagSchema = z.object({
  key: z.string(),
  value: z.string(),
  propagateAtLaunch: z.boolean(),
});
export type GroupTag = z.infer<typeof groupTagSchema>;

export const groupSchema = z.object({
  name: z.string(),
  arn: z.string(),
  createdTime: z.string(),
  launchTemplate: launchTemplateRefSchema,
  minSize: z.number().int(),
  maxSize: z.number().int(),
  desiredCapacity: z.number().int(),
  availabilityZones: z.array(z.string()),
  vpcZoneIdentifier: z.string().optional(),
  healthCheckType: z.string(),
  healthCheckGracePeriod: z.number().int(),
  defaultInstanceWarmup: z.number().int().optional(),
  defaultCooldown: z.number().int(),
  tags: z.array(groupTagSchema),
  /** Set while a forced delete waits for its instances to terminate, as AWS shows it. */
  status: z.string().optional(),
  instances: z.array(groupInstanceSchema),
});
export type Group = z.infer<typeof groupSchema>;

export const refreshStatuses = [
  "Pending",
  "InProgress",
  "Successful",
  "Failed",
  "Cancelling",
  "Cancelled",
  "RollbackInProgress",
  "RollbackFailed",
  "RollbackSuccessful",
] as const;
export type RefreshStatus = (typeof refreshStatuses)[number];

/** Statuses in which a refresh still owns its group's replacements. */
export const activeRefreshStatuses: readonly RefreshStatus[] = [
  "Pending",
  "InProgress",
  "Cancelling",
  "RollbackInProgress",
];

export const refreshPreferencesSchema = z.object({
  minHealthyPercentage: z.number().int(),
  maxHealthyPercentage: z.number().int(),
  instanceWarmup: z.number().int(),
  skipMatching: z.boolean(),
  autoRollback: z.boolean(),
});
export type RefreshPreferences = z.infer<typeof refreshPreferencesSchema>;

export const refreshSchema = z.object({
  id: z.string(),
  groupName: z.string(),
  status: z.enum(refreshStatuses),
  statusReason: z.string().optional(),
  startTime: z.string(),
  endTime: z.string().optional(),
  strategy: z.literal("Rolling"),
  preferences: refreshPreferencesSchema,
  /** The desired configuration as requested (absent: the group's own configuration). */
  desiredConfiguration: launchTemplateRefSchema.optional(),
  /** What replacements are launched from: the desired configuration, version resolved to a number. */
  target: launchTemplateRefSchema,
  /** The group's configuration when the refresh started: what a rollback returns to. */
  previous: launchTemplateRefSchema,
  instancesToUpdate: z.number().int(),
  replaced: z.number().int(),
  /** Instances launched by the current phase (forward or rollback): never replaced again by it. */
  launched: z.array(z.string()),
  /** Replacements of the batch in flight, which the refresh waits on to become healthy. */
  awaiting: z.array(z.string()),
  /** How many instances the batch in flight replaces, counted as done once its replacements warm up. */
  batchReplacing: z.number().int(),
  rollback: z
    .object({
      reason: z.string(),
      startTime: z.string(),
      percentageCompleteOnRollback: z.number().int(),
      instancesToUpdateOnRollback: z.number().int(),
      instancesToUpdate: z.number().int(),
      replaced: z.number().int(),
    })
    .optional(),
});
export type InstanceRefresh = z.infer<typeof refreshSchema>;

export const activitySchema = z.object({
  activityId: z.string(),
  groupName: z.string(),
  groupArn: z.string(),
  description: z.string(),
  cause: z.string(),
  startTime: z.string(),
  endTime: z.string().optional(),
  statusCode: z.enum(["InProgress", "Successful", "Failed", "Cancelled"]),
  statusMessage: z.string().optional(),
  progress: z.number().int(),
  details: z.string(),
});
export type ScalingActivity = z.infer<typeof activitySchema>;

export const autoScalingStateSchema = z.object({
  groups: z.array(groupSchema),
  refreshes: z.array(refreshSchema),
  activities: z.array(activitySchema),
});
export type AutoScalingState = z.infer<typeof autoScalingStateSchema>;
