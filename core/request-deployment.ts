/**
 * Turning an artifact in the bucket into a deployment: the use case behind the S3 trigger and
 * `POST /deployments`. Idempotent: the id derives from the object, and every step below can be
 * repeated after a crash or a duplicate event without starting anything twice.
 */
import {
  type ArtifactLimits,
  checkArtifactSize,
  inspectArtifact,
  parseArtifactKey,
} from "./artifact-inspection.ts";
import type { Deployment, Trigger } from "./deployment.ts";
import { deploymentIdForObject } from "./deployment-id.ts";
import { ArtifactRejectedError, describeIssues, UnknownServiceError } from "./errors.ts";
import { type Manifest, serviceNameSchema, versionSchema } from "./manifest.ts";
import { deploymentNotification } from "./notifications.ts";
import type { ArtifactStore, Clock, Notifier } from "./ports.ts";
import { admitDeployment, type QueueDeps } from "./service-queue.ts";

export interface RequestDeploymentDeps extends QueueDeps {
  artifacts: ArtifactStore;
  notifier: Notifier;
  clock: Clock;
  limits: ArtifactLimits;
}

export interface DeploymentRequest {
  bucket: string;
  key: string;
  versionId?: string | undefined;
  etag?: string | undefined;
  /** An API caller's key: the same object requested again under a new key is a new deployment. */
  idempotencyKey?: string | undefined;
  /**
   * When the request was made: for an S3 trigger, the upload's event time, so that "newer"
   * means uploaded later even when events are handled out of order.
   */
  requestedAt?: string | undefined;
  trigger: Trigger;
}

export interface RequestOutcome {
  deployment: Deployment;
  /** The same object was requested before: this is the deployment it made then. */
  duplicate: boolean;
}

/** Validates the artifact and records the deployment: started, queued, or rejected with a reason. */
export async function requestDeployment(
  deps: RequestDeploymentDeps,
  request: DeploymentRequest,
): Promise<RequestOutcome> {
  const id = deploymentIdForObject(request);
  const existing = await deps.history.get(id);
  if (existing) {
    // A crash may have left it accepted but not started: admitting again is safe.
    const resumable = existing.status === "QUEUED" || existing.status === "PENDING";
    return { deployment: resumable ? await admitDeployment(deps, existing) : existing, duplicate: true };
  }

  const now = request.requestedAt
    ? new Date(request.requestedAt).toISOString()
    : deps.clock.now().toISOString();
  const keyParts = parseArtifactKey(request.key);
  const accepted: Deployment = {
    id,
    // The key is untrusted: a name that is not a valid service name is recorded as "unknown".
    service: keyParts && serviceNameSchema.safeParse(keyParts.service).success ? keyParts.service : "unknown",
    version: keyParts && versionSchema.safeParse(keyParts.version).success ? keyParts.version : undefined,
    status: "QUEUED",
    trigger: request.trigger,
    artifact: { bucket: request.bucket, key: request.key, versionId: request.versionId, etag: request.etag },
    requestedAt: now,
    updatedAt: now,
    steps: {},
    timeline: [{ status: "QUEUED", at: now }],
  };

  let validated: {
    manifest: Manifest;
    sha256: string;
    size: number;
    versionId?: string | undefined;
    etag?: string | undefined;
  };
  try {
    validated = await validate(deps, request, keyParts);
  } catch (error) {
    if (error instanceof ArtifactRejectedError || error instanceof UnknownServiceError)
      return reject(deps, accepted, error);
    throw error;
  }

  const { created, deployment } = await deps.history.create({
    ...accepted,
    service: validated.manifest.service,
    version: validated.manifest.version,
    manifest: validated.manifest,
    artifact: {
      bucket: request.bucket,
      key: request.key,
      versionId: validated.versionId,
      etag: validated.etag,
      sha256: validated.sha256,
      size: validated.size,
    },
  });
  if (!created && deployment.status !== "QUEUED" && deployment.status !== "PENDING")
    return { deployment, duplicate: true };
  return { deployment: await admitDeployment(deps, deployment), duplicate: !created };
}

async function validate(
  deps: RequestDeploymentDeps,
  request: DeploymentRequest,
  keyParts: ReturnType<typeof parseArtifactKey>,
) {
  if (!keyParts) {
    throw new ArtifactRejectedError(
      `"${request.key}" is not an artifact key: expected artifacts/<service>/<version>.tgz`,
    );
  }
  for (const [what, value, schema] of [
    ["service", keyParts.service, serviceNameSchema],
    ["version", keyParts.version, versionSchema],
  ] as const) {
    const checked = schema.safeParse(value);
    if (!checked.success) {
      throw new ArtifactRejectedError(
        `the key's ${what} "${value}" is invalid: ${describeIssues(checked.error.issues).join("; ")}`,
      );
    }
  }
  // The version the event names: a later upload to the same key is a deployment of its own.
  const object = await deps.artifacts.head(request.bucket, request.key, request.versionId);
  if (!object) throw new ArtifactRejectedError(`s3://${request.bucket}/${request.key} does not exist`);
  checkArtifactSize(object.size, deps.limits);
  const inspected = await inspectArtifact(
    await deps.artifacts.open(request.bucket, request.key, request.versionId),
    deps.limits,
  );
  const { manifest } = inspected;
  if (manifest.service !== keyParts.service) {
    throw new ArtifactRejectedError(
      `kiln.json names service "${manifest.service}" but the artifact was uploaded under "${keyParts.service}"`,
    );
  }
  if (manifest.version !== keyParts.version) {
    throw new ArtifactRejectedError(
      `kiln.json names version "${manifest.version}" but the artifact key says "${keyParts.version}"`,
    );
  }
  if (!(await deps.services.getConfig(manifest.service))) {
    throw new UnknownServiceError(
      `service "${manifest.service}" is not registered: register it before deploying it`,
    );
  }
  return {
    manifest,
    sha256: inspected.sha256,
    size: inspected.size,
    versionId: request.versionId ?? object.versionId,
    etag: request.etag ?? object.etag,
  };
}

async function reject(
  deps: RequestDeploymentDeps,
  accepted: Deployment,
  error: Error,
): Promise<RequestOutcome> {
  const at = accepted.requestedAt;
  const { deployment } = await deps.history.create({
    ...accepted,
    status: "REJECTED",
    endedAt: at,
    timeline: [{ status: "REJECTED", at, note: error.message }],
    error: { name: error.name, message: error.message },
  });
  const config = await deps.services.getConfig(deployment.service);
  await deps.notifier.send(deploymentNotification("REJECTED", deployment, config));
  return { deployment, duplicate: false };
}
