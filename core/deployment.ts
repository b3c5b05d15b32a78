/**
 * A deployment and the states it moves through. docs/decisions/0002-deployment-states.md
 * explains the set; `allowedTransitions` is the only place that says which moves are legal.
 */
import * as z from "zod";
import { manifestSchema, serviceNameSchema, versionSchema } from "./manifest.ts";

export const deploymentStatuses = [
  "PENDING",
  "QUEUED",
  "SUPERSEDED",
  "REJECTED",
  "BAKING",
  "CANARY",
  "ROLLING",
  "SUCCEEDED",
  "FAILED",
  "ROLLED_BACK",
  "CANCELLED",
] as const;
export const deploymentStatusSchema = z.enum(deploymentStatuses);
export type DeploymentStatus = z.infer<typeof deploymentStatusSchema>;

export const terminalStatuses: ReadonlySet<DeploymentStatus> = new Set([
  "SUPERSEDED",
  "REJECTED",
  "SUCCEEDED",
  "FAILED",
  "ROLLED_BACK",
  "CANCELLED",
]);

/** Statuses in which a deployment holds its service's lock and has an execution. */
export const inFlightStatuses: ReadonlySet<DeploymentStatus> = new Set([
  "PENDING",
  "BAKING",
  "CANARY",
  "ROLLING",
]);

const allowedTransitions: Record<DeploymentStatus, readonly DeploymentStatus[]> = {
  QUEUED: ["PENDING", "SUPERSEDED", "CANCELLED", "FAILED"],
  PENDING: ["BAKING", "CANARY", "ROLLING", "FAILED", "CANCELLED"],
  BAKING: ["CANARY", "FAILED", "CANCELLED"],
  CANARY: ["ROLLING", "FAILED", "CANCELLED"],
  ROLLING: ["SUCCEEDED", "FAILED", "ROLLED_BACK", "CANCELLED"],
  SUPERSEDED: [],
  REJECTED: [],
  SUCCEEDED: [],
  FAILED: [],
  ROLLED_BACK: [],
  CANCELLED: [],
};

/** The statuses a deployment may be in for it to move to `to` (re-entering `to` is idempotent). */
export function statusesAllowedBefore(to: DeploymentStatus): DeploymentStatus[] {
  const from = deploymentStatuses.filter((status) => allowedTransitions[status].includes(to));
  return [...from, to];
}

export function canTransition(from: DeploymentStatus, to: DeploymentStatus): boolean {
  return from === to || allowedTransitions[from].includes(to);
}

export const stepNames = ["prepare", "bake", "canary", "roll", "finish"] as const;
export const stepNameSchema = z.enum(stepNames);
export type StepName = z.infer<typeof stepNameSchema>;

const isoTime = z.iso.datetime({ offset: true });

export const stepRecordSchema = z.object({
  startedAt: isoTime,
  endedAt: isoTime.optional(),
  /** The bake step reused a cached image. */
  cached: z.boolean().optional(),
  note: z.string().optional(),
});
export type StepRecord = z.infer<typeof stepRecordSchema>;

/** The step a status begins: the write that enters the status records the step's start. */
export const stepStartedBy: Partial<Record<DeploymentStatus, StepName>> = {
  BAKING: "bake",
  CANARY: "canary",
  ROLLING: "roll",
};

export const artifactRefSchema = z.object({
  bucket: z.string().min(1),
  key: z.string().min(1),
  versionId: z.string().optional(),
  etag: z.string().optional(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  size: z.number().int().nonnegative().optional(),
});
export type ArtifactRef = z.infer<typeof artifactRefSchema>;

export const triggerSchema = z.object({
  kind: z.enum(["s3", "api", "rollback"]),
  by: z.string().max(256).optional(),
});
export type Trigger = z.infer<typeof triggerSchema>;

export const deploymentErrorSchema = z.object({
  name: z.string(),
  message: z.string(),
  step: stepNameSchema.optional(),
});
export type DeploymentError = z.infer<typeof deploymentErrorSchema>;

export const rollbackTargetSchema = z.object({
  imageId: z.string().min(1),
  /** The deployment that baked the image: its artifact and manifest are deployed again. */
  deploymentId: z.string().min(1),
});
export type RollbackTarget = z.infer<typeof rollbackTargetSchema>;

export const deploymentSchema = z.object({
  id: z.string().regex(/^d-[0-9a-z]{20,40}$/),
  service: serviceNameSchema,
  version: versionSchema.optional(),
  status: deploymentStatusSchema,
  trigger: triggerSchema,
  artifact: artifactRefSchema.optional(),
  /** The artifact's kiln.json, kept so a queued deployment can start later without re-reading it. */
  manifest: manifestSchema.optional(),
  requestedAt: isoTime,
  updatedAt: isoTime,
  endedAt: isoTime.optional(),
  steps: z.partialRecord(stepNameSchema, stepRecordSchema).default({}),
  timeline: z
    .array(z.object({ status: deploymentStatusSchema, at: isoTime, note: z.string().optional() }))
    .default([]),
  baseImageId: z.string().optional(),
  imageId: z.string().optional(),
  builderInstanceId: z.string().optional(),
  canaryInstanceId: z.string().optional(),
  launchTemplateVersion: z.string().optional(),
  previousLaunchTemplateVersion: z.string().optional(),
  previousImageId: z.string().optional(),
  refreshId: z.string().optional(),
  /** How far the instance refresh has got, as AWS last reported it. */
  rollPercent: z.number().min(0).max(100).optional(),
  supersededBy: z.string().optional(),
  /** A rollback's target: an image a past deployment baked, deployed again without a bake. */
  rollbackTo: rollbackTargetSchema.optional(),
  error: deploymentErrorSchema.optional(),
});
export type Deployment = z.infer<typeof deploymentSchema>;

/** Fields a step may set on a deployment besides its status. */
export type DeploymentChanges = Partial<
  Pick<
    Deployment,
    | "version"
    | "artifact"
    | "baseImageId"
    | "imageId"
    | "builderInstanceId"
    | "canaryInstanceId"
    | "launchTemplateVersion"
    | "previousLaunchTemplateVersion"
    | "previousImageId"
    | "refreshId"
    | "rollPercent"
    | "supersededBy"
    | "error"
  >
>;

/** Milliseconds a step took, for the ones that ended. */
export function stepDurations(deployment: Deployment): Partial<Record<StepName, number>> {
  const durations: Partial<Record<StepName, number>> = {};
  for (const step of stepNames) {
    const record = deployment.steps[step];
    if (record?.endedAt) durations[step] = Date.parse(record.endedAt) - Date.parse(record.startedAt);
  }
  return durations;
}
