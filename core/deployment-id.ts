/**
 * Deployment ids derive from what triggered them, so S3's at-least-once delivery and client
 * retries of the same request land on the same deployment.
 */
import { createHash } from "node:crypto";

/** Identity of an artifact object: a version id when the bucket is versioned, else its ETag. */
export interface ObjectIdentity {
  bucket: string;
  key: string;
  versionId?: string | undefined;
  etag?: string | undefined;
  /** Set by API callers to deploy the same object again (an S3 event never sets it). */
  idempotencyKey?: string | undefined;
}

const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";

function encode(digest: Buffer, length: number): string {
  let id = "";
  for (let i = 0; i < length; i += 1) id += alphabet[(digest[i] ?? 0) % alphabet.length];
  return id;
}

/** `d-` + 24 base-36 characters of sha256(bucket, key, version or ETag[, key]): also a valid execution name. */
export function deploymentIdForObject(object: ObjectIdentity): string {
  const revision = object.versionId ?? object.etag?.replaceAll('"', "") ?? "";
  const identity = [
    object.bucket,
    object.key,
    revision,
    ...(object.idempotencyKey ? [object.idempotencyKey] : []),
  ];
  const digest = createHash("sha256").update(JSON.stringify(identity)).digest();
  return `d-${encode(digest, 24)}`;
}

/** Id for a request that names no object revision (a rollback): derived from its idempotency key. */
export function deploymentIdForRequest(kind: string, idempotencyKey: string): string {
  const digest = createHash("sha256")
    .update(JSON.stringify([kind, idempotencyKey]))
    .digest();
  return `d-${encode(digest, 24)}`;
}
