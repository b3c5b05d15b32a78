/** ArtifactUploads on S3: presigned PUT URLs, so an operator uploads without bucket credentials. */
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { ArtifactUploads } from "../ports.ts";
import { s3Client } from "./clients.ts";

export class S3ArtifactUploads implements ArtifactUploads {
  constructor(private readonly s3: S3Client = s3Client()) {}

  presignUpload(bucket: string, key: string, expiresSeconds: number): Promise<string> {
    return getSignedUrl(this.s3, new PutObjectCommand({ Bucket: bucket, Key: key }), {
      expiresIn: expiresSeconds,
    });
  }
}
