/** ArtifactStore on S3. */
import type { Readable } from "node:stream";
import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { ArtifactObject, ArtifactStore } from "../ports.ts";
import { callAws, isAwsError } from "./aws-errors.ts";
import { s3Client } from "./clients.ts";

function isReadable(body: unknown): body is Readable {
  return typeof body === "object" && body !== null && "pipe" in body && typeof body.pipe === "function";
}

export class S3ArtifactStore implements ArtifactStore {
  constructor(private readonly s3: S3Client = s3Client()) {}

  async head(bucket: string, key: string, versionId?: string): Promise<ArtifactObject | undefined> {
    try {
      const head = await callAws(`HeadObject s3://${bucket}/${key}`, () =>
        this.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId })),
      );
      return { bucket, key, size: head.ContentLength ?? 0, etag: head.ETag, versionId: head.VersionId };
    } catch (error) {
      if (isAwsError(error, "NotFound", "NoSuchKey")) return undefined;
      throw error;
    }
  }

  async open(bucket: string, key: string, versionId?: string): Promise<Readable> {
    const object = await callAws(`GetObject s3://${bucket}/${key}`, () =>
      this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId })),
    );
    if (!isReadable(object.Body)) throw new Error(`GetObject s3://${bucket}/${key} returned no stream`);
    return object.Body;
  }

  presignDownload(bucket: string, key: string, expiresSeconds: number, versionId?: string): Promise<string> {
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }), {
      expiresIn: expiresSeconds,
    });
  }
}
