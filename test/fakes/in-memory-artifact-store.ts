import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type { ArtifactObject, ArtifactStore } from "../../core/ports.ts";

interface StoredObject {
  body: Buffer;
  etag: string;
  versionId?: string | undefined;
}

/** An S3 bucket in memory: objects by bucket and key, with S3's quoted MD5 ETags. */
export class InMemoryArtifactStore implements ArtifactStore {
  private readonly objects = new Map<string, StoredObject>();
  /** How many times an object body was opened. */
  opened = 0;

  /** Stores an object and returns its ETag as S3 would (quoted). */
  put(bucket: string, key: string, body: Buffer, versionId?: string): string {
    const etag = `"${createHash("md5").update(body).digest("hex")}"`;
    this.objects.set(`${bucket}/${key}`, { body, etag, versionId });
    return etag;
  }

  async head(bucket: string, key: string): Promise<ArtifactObject | undefined> {
    const object = this.objects.get(`${bucket}/${key}`);
    if (!object) return undefined;
    return { bucket, key, size: object.body.length, etag: object.etag, versionId: object.versionId };
  }

  async open(bucket: string, key: string): Promise<Readable> {
    const object = this.objects.get(`${bucket}/${key}`);
    if (!object) throw new Error(`no object s3://${bucket}/${key}`);
    this.opened += 1;
    return Readable.from([object.body]);
  }

  async presignDownload(
    bucket: string,
    key: string,
    expiresSeconds: number,
    versionId?: string,
  ): Promise<string> {
    const version = versionId ? `&versionId=${encodeURIComponent(versionId)}` : "";
    return `https://${bucket}.s3.example/${key}?X-Amz-Expires=${expiresSeconds}${version}`;
  }
}
