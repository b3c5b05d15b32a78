/** The prepare step: load the service's target, resolve the base image, consult the bake cache. */
import { bakeCacheKey } from "../bake-recipe.ts";
import { ResourceNotFoundError, UnknownServiceError } from "../errors.ts";
import type { Clock, DeploymentHistory, ImageCatalog, ServiceRegistry } from "../ports.ts";
import type { ExecutionInput, Plan } from "./state.ts";

export interface PrepareDeps {
  history: DeploymentHistory;
  services: ServiceRegistry;
  images: ImageCatalog;
  clock: Clock;
}

/**
 * Builds the deployment's plan: everything later steps need, with the cache verdict. What it
 * found, and the step itself (with the bake, on a cache hit), are recorded in one write.
 */
export async function prepareDeployment(deps: PrepareDeps, input: ExecutionInput): Promise<Plan> {
  const startedAt = deps.clock.now().toISOString();
  const config = await deps.services.getConfig(input.service);
  if (!config) throw new UnknownServiceError(`service "${input.service}" is no longer registered`);
  const state = await deps.services.getState(input.service);

  const cacheKey = bakeCacheKey(input.artifact.sha256, config.baseImageId, input.manifest);
  // A rollback names its image: it goes on like a bake-cache hit, through the canary and the roll.
  const cached = input.rollbackTo
    ? await rollbackImage(deps, input.rollbackTo.imageId)
    : await deps.images.findByCacheKey(cacheKey);
  const endedAt = deps.clock.now().toISOString();
  // A cached image is the whole bake: it starts and ends here.
  const bake = cached && {
    startedAt: endedAt,
    endedAt,
    cached: true,
    note: input.rollbackTo ? `rollback: reusing ${cached.imageId}` : `reused ${cached.imageId}`,
  };
  await deps.history.update(
    input.deploymentId,
    {
      baseImageId: config.baseImageId,
      previousImageId: state.lastKnownGood?.imageId,
      ...(cached ? { imageId: cached.imageId } : {}),
    },
    { prepare: { startedAt, endedAt }, ...(bake ? { bake } : {}) },
  );

  return {
    baseImageId: config.baseImageId,
    cacheKey,
    cachedImageId: cached?.imageId ?? null,
    groupName: config.group.name,
    launchTemplateId: config.group.launchTemplateId,
    builder: config.builder,
    health: {
      port: config.health.port ?? input.manifest.port,
      path: config.health.path ?? input.manifest.healthPath,
      healthyThreshold: config.health.healthyThreshold,
      timeoutSeconds: config.health.timeoutSeconds,
      requestTimeoutMs: config.health.requestTimeoutMs,
    },
    rollout: config.rollout,
    poll: config.poll,
  };
}

/** The image a rollback deploys, which must still be available (it may have been pruned since). */
async function rollbackImage(deps: PrepareDeps, imageId: string) {
  const image = await deps.images.describe(imageId);
  if (image?.state !== "available") {
    throw new ResourceNotFoundError(
      `rollback image ${imageId} is ${image ? image.state : "gone"}: it cannot be deployed again`,
    );
  }
  return image;
}
