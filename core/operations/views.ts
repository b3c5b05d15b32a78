/**
 * What operators see: the shapes the HTTP API returns and the CLI and dashboard read. One schema
 * per view, so the API's OpenAPI document, its responses and its clients cannot drift apart.
 */
import * as z from "zod";
import { kilnTag } from "../deploy/tags.ts";
import {
  type Deployment,
  deploymentSchema,
  deploymentStatusSchema,
  type StepName,
  stepNameSchema,
  stepNames,
  terminalStatuses,
} from "../deployment.ts";
import type { GroupSnapshot, ImageInfo, ServiceState } from "../ports.ts";
import { serviceConfigSchema } from "../service-config.ts";

const isoTime = z.iso.datetime({ offset: true });

export const stepStates = [
  "pending",
  "running",
  "succeeded",
  "cached",
  "failed",
  "cancelled",
  "not-run",
] as const;
export type StepState = (typeof stepStates)[number];

export const stepViewSchema = z.object({
  step: stepNameSchema,
  state: z.enum(stepStates),
  startedAt: isoTime.optional(),
  endedAt: isoTime.optional(),
  /** How long it ran: until it ended, or until the deployment did when it failed or was cancelled. */
  durationMs: z.number().int().nonnegative().optional(),
  note: z.string().optional(),
});
export type StepView = z.infer<typeof stepViewSchema>;

/** A deployment record with its steps laid out in order: what each did, when, for how long. */
export const deploymentViewSchema = deploymentSchema.extend({
  stepTimeline: z.array(stepViewSchema),
  /** From request to end, once it has ended. */
  durationMs: z.number().int().nonnegative().optional(),
});
export type DeploymentView = z.infer<typeof deploymentViewSchema>;

export const deploymentPageSchema = z.object({
  items: z.array(deploymentViewSchema),
  /** Pass back as `cursor` for the next page; absent on the last one. */
  cursor: z.string().optional(),
});
export type DeploymentPage = z.infer<typeof deploymentPageSchema>;

function elapsed(from: string, to: string): number {
  return Math.max(0, Date.parse(to) - Date.parse(from));
}

function stepState(deployment: Deployment, step: StepName): StepState {
  const record = deployment.steps[step];
  const ended = terminalStatuses.has(deployment.status);
  if (record?.endedAt) return record.cached ? "cached" : "succeeded";
  if (record) {
    if (!ended) return "running";
    return deployment.status === "CANCELLED" ? "cancelled" : "failed";
  }
  return ended ? "not-run" : "pending";
}

/** The view of one deployment. */
export function deploymentView(deployment: Deployment): DeploymentView {
  const stepTimeline = stepNames.map((step): StepView => {
    const record = deployment.steps[step];
    const state = stepState(deployment, step);
    // A step that failed or was cancelled lasted until the deployment ended.
    const end =
      record?.endedAt ?? (state === "failed" || state === "cancelled" ? deployment.endedAt : undefined);
    return {
      step,
      state,
      startedAt: record?.startedAt,
      endedAt: record?.endedAt,
      durationMs: record && end ? elapsed(record.startedAt, end) : undefined,
      note: record?.note,
    };
  });
  return {
    ...deployment,
    stepTimeline,
    durationMs: deployment.endedAt ? elapsed(deployment.requestedAt, deployment.endedAt) : undefined,
  };
}

export const pinnedImageSchema = z.object({
  imageId: z.string(),
  deploymentId: z.string(),
  launchTemplateVersion: z.string().optional(),
  pinnedAt: z.string(),
});

export const serviceViewSchema = z.object({
  name: z.string(),
  config: serviceConfigSchema,
  /** Who holds the service's lock and who waits for it. */
  lock: z.object({
    activeDeploymentId: z.string().optional(),
    leaseExpiresAt: z.string().optional(),
    queuedDeploymentId: z.string().optional(),
  }),
  /** Images kept for rollback: the last-known-good one and the one before it. */
  pins: z.object({
    lastKnownGood: pinnedImageSchema.optional(),
    previousImage: pinnedImageSchema.optional(),
  }),
  lastDeployment: z
    .object({
      id: z.string(),
      version: z.string().optional(),
      status: deploymentStatusSchema,
      requestedAt: isoTime,
      endedAt: isoTime.optional(),
    })
    .optional(),
});
export type ServiceView = z.infer<typeof serviceViewSchema>;

export const serviceListSchema = z.object({ items: z.array(serviceViewSchema) });

export const imagePins = ["last-known-good", "previous-image"] as const;

export const imageViewSchema = z.object({
  imageId: z.string(),
  name: z.string(),
  state: z.enum(["pending", "available", "failed", "invalid", "deregistered", "other"]),
  createdAt: z.string().optional(),
  version: z.string().optional(),
  deploymentId: z.string().optional(),
  artifactSha256: z.string().optional(),
  baseImageId: z.string().optional(),
  /** Kiln's verdict on the image: `deployed`, or `rejected` by a canary. */
  status: z.string().optional(),
  pins: z.array(z.enum(imagePins)),
});
export type ImageView = z.infer<typeof imageViewSchema>;

export const serviceImagesSchema = z.object({ service: z.string(), images: z.array(imageViewSchema) });
export type ServiceImagesView = z.infer<typeof serviceImagesSchema>;

/** A service's images newest first, each with the pins that protect it. */
export function imageViews(images: ImageInfo[], state: ServiceState): ImageView[] {
  return [...images]
    .sort(
      (a, b) => (b.createdAt ?? "").localeCompare(a.createdAt ?? "") || a.imageId.localeCompare(b.imageId),
    )
    .map((image) => ({
      imageId: image.imageId,
      name: image.name,
      state: image.state,
      createdAt: image.createdAt,
      version: image.tags[kilnTag.version],
      deploymentId: image.tags[kilnTag.deploymentId],
      artifactSha256: image.tags[kilnTag.artifactSha256],
      baseImageId: image.tags[kilnTag.baseImage],
      status: image.tags[kilnTag.imageStatus],
      pins: [
        ...(state.lastKnownGood?.imageId === image.imageId ? (["last-known-good"] as const) : []),
        ...(state.previousImage?.imageId === image.imageId ? (["previous-image"] as const) : []),
      ],
    }));
}

export const instanceViewSchema = z.object({
  instanceId: z.string(),
  lifecycleState: z.string(),
  healthStatus: z.string(),
  state: z.enum(["pending", "running", "stopping", "stopped", "shutting-down", "terminated"]).optional(),
  launchTemplateVersion: z.string().optional(),
  imageId: z.string().optional(),
  /** The version baked into the instance's image, when it is one of the service's images. */
  version: z.string().optional(),
  privateIp: z.string().optional(),
  launchedAt: z.string().optional(),
});

export const serviceInstancesSchema = z.object({
  service: z.string(),
  group: z.object({
    name: z.string(),
    desiredCapacity: z.number().int().nonnegative(),
    launchTemplateVersion: z.string().optional(),
  }),
  instances: z.array(instanceViewSchema),
});
export type ServiceInstancesView = z.infer<typeof serviceInstancesSchema>;

/** A group's instances, each with the version its image carries. */
export function instancesView(
  service: string,
  group: GroupSnapshot,
  images: ImageInfo[],
): ServiceInstancesView {
  const versions = new Map(images.map((image) => [image.imageId, image.tags[kilnTag.version]]));
  return {
    service,
    group: {
      name: group.name,
      desiredCapacity: group.desiredCapacity,
      launchTemplateVersion: group.launchTemplateVersion,
    },
    instances: group.instances.map((instance) => ({
      ...instance,
      version: instance.imageId ? versions.get(instance.imageId) : undefined,
    })),
  };
}

export const uploadTicketSchema = z.object({
  bucket: z.string(),
  key: z.string(),
  /** PUT the artifact's bytes here before `expiresAt`; the upload itself starts the deployment. */
  url: z.string(),
  method: z.literal("PUT"),
  expiresAt: isoTime,
});
export type UploadTicket = z.infer<typeof uploadTicketSchema>;
