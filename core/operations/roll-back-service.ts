/**
 * Rolling a service back: a deployment of its own (trigger `rollback`) of an image a past
 * deployment baked. It takes the same queue and lock as any deployment and runs the same
 * workflow; prepare takes the named image as a bake-cache hit, so the image is proven on a canary
 * and rolled out with an instance refresh, and on success becomes the last-known-good.
 */
import { randomUUID } from "node:crypto";
import { kilnTag } from "../deploy/tags.ts";
import type { Deployment } from "../deployment.ts";
import { deploymentIdForRequest } from "../deployment-id.ts";
import {
  ConflictError,
  DeploymentNotFoundError,
  InvalidInputError,
  ResourceNotFoundError,
  UnknownServiceError,
} from "../errors.ts";
import type { Clock, ImageCatalog } from "../ports.ts";
import { admitDeployment, type QueueDeps } from "../service-queue.ts";

export interface RollbackDeps extends QueueDeps {
  images: Pick<ImageCatalog, "describe">;
  clock: Clock;
}

export interface RollbackRequest {
  service: string;
  /** Roll back to the image this (succeeded) deployment rolled out. */
  deploymentId?: string | undefined;
  /** Roll back to this image of the service. */
  imageId?: string | undefined;
  /** The same key again returns the same rollback instead of starting another. */
  idempotencyKey?: string | undefined;
  by?: string | undefined;
}

export interface RollbackOutcome {
  deployment: Deployment;
  duplicate: boolean;
}

interface Target {
  imageId: string;
  /** The deployment that baked the image, whose artifact and manifest are deployed again. */
  source: Deployment;
}

/**
 * Starts (or queues) a rollback. Without a named target it returns to the image pinned before the
 * current last-known-good one — the release before this one.
 */
export async function rollBackService(
  deps: RollbackDeps,
  request: RollbackRequest,
): Promise<RollbackOutcome> {
  if (!(await deps.services.getConfig(request.service))) {
    throw new UnknownServiceError(`service "${request.service}" is not registered`);
  }
  const id = deploymentIdForRequest(
    "rollback",
    JSON.stringify([request.service, request.idempotencyKey ?? randomUUID()]),
  );
  const existing = request.idempotencyKey ? await deps.history.get(id) : undefined;
  if (existing) return { deployment: await resume(deps, existing), duplicate: true };

  const { imageId, source } = await resolveTarget(deps, request);
  const now = deps.clock.now().toISOString();
  const note = `rollback to ${source.version ?? "?"} (${imageId}, baked by ${source.id})`;
  const { created, deployment } = await deps.history.create({
    id,
    service: request.service,
    version: source.version,
    status: "QUEUED",
    trigger: { kind: "rollback", by: request.by },
    artifact: source.artifact,
    manifest: source.manifest,
    requestedAt: now,
    updatedAt: now,
    steps: {},
    timeline: [{ status: "QUEUED", at: now, note }],
    imageId,
    rollbackTo: { imageId, deploymentId: source.id },
  });
  if (!created) return { deployment: await resume(deps, deployment), duplicate: true };
  return { deployment: await admitDeployment(deps, deployment), duplicate: false };
}

/** A repeated request finds its rollback; one a crash left accepted but not started is admitted again. */
async function resume(deps: RollbackDeps, deployment: Deployment): Promise<Deployment> {
  return deployment.status === "QUEUED" || deployment.status === "PENDING"
    ? admitDeployment(deps, deployment)
    : deployment;
}

async function resolveTarget(deps: RollbackDeps, request: RollbackRequest): Promise<Target> {
  if (request.imageId && request.deploymentId) {
    throw new InvalidInputError("rollback", ["name either deploymentId or imageId, not both"]);
  }
  if (request.imageId) return targetOfImage(deps, request.service, request.imageId);
  if (request.deploymentId) return targetOfDeployment(deps, request.service, request.deploymentId);

  const { previousImage, lastKnownGood } = await deps.services.getState(request.service);
  if (!previousImage) {
    throw new ConflictError(
      lastKnownGood
        ? `service "${request.service}" has only one successful release (${lastKnownGood.imageId}): there is nothing before it to roll back to`
        : `service "${request.service}" has never been deployed successfully: there is nothing to roll back to`,
    );
  }
  return targetOfImage(deps, request.service, previousImage.imageId);
}

async function targetOfDeployment(
  deps: RollbackDeps,
  service: string,
  deploymentId: string,
): Promise<Target> {
  const source = await deps.history.get(deploymentId);
  if (!source) throw new DeploymentNotFoundError(`deployment ${deploymentId} does not exist`);
  if (source.service !== service) {
    throw new InvalidInputError("rollback", [
      `deploymentId: ${deploymentId} deployed ${source.service}, not ${service}`,
    ]);
  }
  if (source.status !== "SUCCEEDED" || !source.imageId) {
    throw new ConflictError(
      `deployment ${deploymentId} ended ${source.status}: only a deployment that succeeded can be rolled back to`,
    );
  }
  return targetOfImage(deps, service, source.imageId);
}

async function targetOfImage(deps: RollbackDeps, service: string, imageId: string): Promise<Target> {
  const image = await deps.images.describe(imageId);
  if (!image || image.state === "deregistered")
    throw new ResourceNotFoundError(`image ${imageId} does not exist (it may have been pruned)`);
  if (image.tags[kilnTag.service] !== service) {
    throw new InvalidInputError("rollback", [
      `imageId: ${imageId} is not an image Kiln baked for ${service}`,
    ]);
  }
  if (image.state !== "available")
    throw new ConflictError(`image ${imageId} is ${image.state}, not available`);
  if (image.tags[kilnTag.imageStatus] === "rejected") {
    throw new ConflictError(`image ${imageId} was rejected by its canary: it cannot be rolled back to`);
  }
  const sourceId = image.tags[kilnTag.deploymentId];
  const source = sourceId ? await deps.history.get(sourceId) : undefined;
  if (!source?.artifact?.sha256 || !source.manifest) {
    // The workflow re-reads the artifact's manifest (health port and path) from that deployment.
    throw new ResourceNotFoundError(
      `image ${imageId} has no deployment record with its artifact and manifest: it cannot be rolled back to`,
    );
  }
  return { imageId, source };
}
