/**
 * An operator's two ways in: an upload URL for a new artifact (the upload itself starts the
 * deployment, through the bucket's trigger), and a deployment of an artifact already uploaded.
 */
import { parseArtifactKey } from "../artifact-inspection.ts";
import { InvalidInputError, ResourceNotFoundError, UnknownServiceError } from "../errors.ts";
import type { ArtifactUploads, Clock, ServiceRegistry } from "../ports.ts";
import { type RequestDeploymentDeps, type RequestOutcome, requestDeployment } from "../request-deployment.ts";
import type { UploadTicket } from "./views.ts";

/** Where an artifact of a service's version lives in the bucket. */
export function artifactKey(service: string, version: string): string {
  return `artifacts/${service}/${version}.tgz`;
}

export interface UploadDeps {
  services: Pick<ServiceRegistry, "getConfig">;
  uploads: ArtifactUploads;
  bucket: string;
  /** How long the URL stays valid: long enough to upload, short enough not to matter if it leaks. */
  expiresSeconds: number;
  clock: Clock;
}

/** A presigned PUT URL for a registered service's artifact. */
export async function requestUpload(
  deps: UploadDeps,
  request: { service: string; version: string },
): Promise<UploadTicket> {
  if (!(await deps.services.getConfig(request.service))) {
    throw new UnknownServiceError(
      `service "${request.service}" is not registered: register it before uploading`,
    );
  }
  const key = artifactKey(request.service, request.version);
  const url = await deps.uploads.presignUpload(deps.bucket, key, deps.expiresSeconds);
  const expiresAt = new Date(deps.clock.now().getTime() + deps.expiresSeconds * 1000).toISOString();
  return { bucket: deps.bucket, key, url, method: "PUT", expiresAt };
}

export interface DeployArtifactDeps extends RequestDeploymentDeps {
  bucket: string;
}

export interface DeployArtifactRequest {
  service: string;
  /** Deploy `artifacts/<service>/<version>.tgz`… */
  version?: string | undefined;
  /** …or this key in the artifact bucket. */
  key?: string | undefined;
  /** Deploys the same object again as a new deployment (without it, a repeat finds the first). */
  idempotencyKey?: string | undefined;
  by?: string | undefined;
}

/**
 * Requests a deployment of an artifact in the bucket. Its id derives from the object's version (or
 * ETag), as the upload trigger's does, so asking for an artifact the upload already deployed
 * returns that deployment rather than starting a second one.
 */
export async function deployArtifact(
  deps: DeployArtifactDeps,
  request: DeployArtifactRequest,
): Promise<RequestOutcome> {
  if ((request.version === undefined) === (request.key === undefined)) {
    throw new InvalidInputError("deployment request", ["name the artifact by either version or key"]);
  }
  const key = request.key ?? artifactKey(request.service, request.version ?? "");
  const parts = parseArtifactKey(key);
  if (!parts)
    throw new InvalidInputError("deployment request", ["key: expected artifacts/<service>/<version>.tgz"]);
  if (parts.service !== request.service) {
    throw new InvalidInputError("deployment request", [
      `key: it holds an artifact of ${parts.service}, not ${request.service}`,
    ]);
  }
  if (!(await deps.services.getConfig(request.service))) {
    throw new UnknownServiceError(`service "${request.service}" is not registered`);
  }
  const object = await deps.artifacts.head(deps.bucket, key);
  if (!object)
    throw new ResourceNotFoundError(
      `there is no artifact at s3://${deps.bucket}/${key}: upload it first (POST /uploads)`,
    );
  return requestDeployment(deps, {
    bucket: deps.bucket,
    key,
    versionId: object.versionId,
    etag: object.etag,
    idempotencyKey: request.idempotencyKey,
    trigger: { kind: "api", by: request.by },
  });
}
