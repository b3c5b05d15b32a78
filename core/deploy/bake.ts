/**
 * The bake step, as start/check pairs the state machine loops over: launch the builder, wait
 * for its verdict, create the image, wait until it is available.
 */
import { bakeUserData, readBakeVerdict } from "../bake-recipe.ts";
import type { ArtifactStore, Clock, DeploymentHistory, Fleet, ImageCatalog } from "../ports.ts";
import { type CheckStatus, type DeployState, requireKeys } from "./state.ts";
import { kilnTag, provenanceTags } from "./tags.ts";

export interface BakeDeps {
  history: DeploymentHistory;
  fleet: Fleet;
  images: ImageCatalog;
  artifacts: ArtifactStore;
  clock: Clock;
  presignSeconds: number;
}

export interface Check {
  status: CheckStatus;
  reason?: string | undefined;
}

function provenance(state: DeployState & { plan: NonNullable<DeployState["plan"]> }) {
  return provenanceTags({
    service: state.service,
    version: state.version,
    deploymentId: state.deploymentId,
    artifactSha256: state.artifact.sha256,
    baseImageId: state.plan.baseImageId,
  });
}

/** Launches the builder whose user data installs the artifact and shuts the instance down. */
export async function launchBuilder(
  deps: Pick<BakeDeps, "history" | "fleet" | "artifacts" | "clock" | "presignSeconds">,
  raw: DeployState,
) {
  const state = requireKeys(raw, "plan");
  await deps.history.transition(state.deploymentId, "BAKING");
  const { artifact } = state;
  const artifactUrl = await deps.artifacts.presignDownload(
    artifact.bucket,
    artifact.key,
    deps.presignSeconds,
    artifact.versionId,
  );
  const instance = await deps.fleet.launchBuilder({
    deploymentId: state.deploymentId,
    service: state.service,
    version: state.version,
    baseImageId: state.plan.baseImageId,
    instanceType: state.plan.builder.instanceType,
    subnetId: state.plan.builder.subnetId,
    securityGroupIds: state.plan.builder.securityGroupIds,
    userData: bakeUserData({
      deploymentId: state.deploymentId,
      manifest: state.manifest,
      artifactUrl,
      artifactSha256: artifact.sha256,
    }),
    tags: {
      ...provenance(state),
      [kilnTag.role]: "builder",
      Name: `kiln-builder-${state.service}-${state.version}`,
    },
  });
  await deps.history.update(state.deploymentId, { builderInstanceId: instance.instanceId });
  const deadline = new Date(
    deps.clock.now().getTime() + state.plan.builder.timeoutSeconds * 1000,
  ).toISOString();
  return { instanceId: instance.instanceId, deadline };
}

/** The builder's verdict: still working, stopped after reporting OK, or failed with its reason. */
export async function checkBuilder(
  deps: Pick<BakeDeps, "fleet" | "clock">,
  raw: DeployState,
): Promise<Check> {
  const state = requireKeys(raw, "builder");
  const { instanceId, deadline } = state.builder;
  const overdue = deps.clock.now().getTime() > Date.parse(deadline);
  const instance = await deps.fleet.describe(instanceId);
  if (!instance || instance.state === "terminated" || instance.state === "shutting-down") {
    return {
      status: "FAILED",
      reason: `builder ${instanceId} was terminated${instance?.stateReason ? `: ${instance.stateReason}` : ""}`,
    };
  }
  if (instance.state === "stopped") {
    const verdict = readBakeVerdict(await deps.fleet.consoleOutput(instanceId));
    if (verdict?.ok) return { status: "SUCCEEDED" };
    if (verdict) return { status: "FAILED", reason: verdict.reason };
    // The console can lag the stop by a little on AWS: wait for it until the deadline.
    if (overdue)
      return { status: "FAILED", reason: `builder ${instanceId} stopped without reporting a result` };
    return { status: "RUNNING" };
  }
  if (overdue) return { status: "FAILED", reason: `builder ${instanceId} did not finish before ${deadline}` };
  return { status: "RUNNING" };
}

/** Creates the image from the stopped builder, tagged with its provenance. */
export async function createImage(deps: Pick<BakeDeps, "history" | "images">, raw: DeployState) {
  const state = requireKeys(raw, "plan", "builder");
  const imageId = await deps.images.createFromInstance({
    instanceId: state.builder.instanceId,
    name: `kiln-${state.service}-${state.version}-${state.deploymentId}`,
    tags: {
      ...provenance(state),
      [kilnTag.cacheKey]: state.plan.cacheKey,
      Name: `${state.service} ${state.version}`,
    },
  });
  await deps.history.update(state.deploymentId, { imageId });
  return { imageId, cached: false };
}

/** Whether the image is available yet. */
export async function checkImage(
  deps: Pick<BakeDeps, "history" | "images">,
  raw: DeployState,
): Promise<Check> {
  const state = requireKeys(raw, "image");
  const image = await deps.images.describe(state.image.imageId);
  if (!image) return { status: "FAILED", reason: `image ${state.image.imageId} disappeared` };
  if (image.state === "available") {
    await deps.history.markStep(state.deploymentId, "bake", "end");
    return { status: "SUCCEEDED" };
  }
  if (image.state === "pending") return { status: "RUNNING" };
  return {
    status: "FAILED",
    reason: `image ${image.imageId} is ${image.state}${image.stateReason ? `: ${image.stateReason}` : ""}`,
  };
}
