import { Readable } from "node:stream";
import { GetObjectCommand, HeadObjectCommand, NotFound, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { S3ArtifactStore } from "../../../core/aws/s3-artifact-store.ts";
import { clientConfig, sdkError } from "./sdk-error.ts";

const bucket = "kiln-artifacts";
const key = "artifacts/hello-service/1.2.3.tgz";

describe("S3ArtifactStore", () => {
  const s3 = new S3Client(clientConfig);
  const mock = mockClient(s3);
  const store = new S3ArtifactStore(s3);

  beforeEach(() => {
    mock.reset();
  });

  describe("head", () => {
    it("reads the object's size, ETag and version", async () => {
      mock
        .on(HeadObjectCommand, { Bucket: bucket, Key: key })
        .resolves({ ContentLength: 2048, ETag: '"abc"', VersionId: "v1" });

      expect(await store.head(bucket, key)).toEqual({
        bucket,
        key,
        size: 2048,
        etag: '"abc"',
        versionId: "v1",
      });
    });

    it.each([
      ["NotFound", new NotFound({ message: "Not Found", $metadata: { httpStatusCode: 404 } })],
      ["NoSuchKey", sdkError("NoSuchKey", { status: 404 })],
    ])("answers undefined when S3 says %s", async (_name, error) => {
      mock.on(HeadObjectCommand).rejects(error);

      expect(await store.head(bucket, key)).toBeUndefined();
    });

    it("lets other failures through", async () => {
      mock.on(HeadObjectCommand).rejects(sdkError("AccessDenied", { status: 403 }));

      await expect(store.head(bucket, key)).rejects.toThrow("AccessDenied happened");
    });
  });

  describe("open", () => {
    it("returns the body of the version asked for as a stream", async () => {
      // The SDK's body is a Node stream with helpers mixed in; the store only needs the stream.
      mock.on(GetObjectCommand).resolves({ Body: Readable.from([Buffer.from("tgz bytes")]) as never });

      const body = await store.open(bucket, key, "v1");

      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(Buffer.from(chunk as Buffer));
      expect(Buffer.concat(chunks).toString()).toBe("tgz bytes");
      expect(mock.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({
        Bucket: bucket,
        Key: key,
        VersionId: "v1",
      });
    });

    it("fails naming the object when S3 returns no body", async () => {
      mock.on(GetObjectCommand).resolves({});

      await expect(store.open(bucket, key)).rejects.toThrow(
        `GetObject s3://${bucket}/${key} returned no stream`,
      );
    });
  });

  describe("presignDownload", () => {
    it("signs a GET of the object's version that expires when asked", async () => {
      const url = new URL(await store.presignDownload(bucket, key, 900, "v1"));

      expect(url.pathname).toContain(key);
      expect(url.searchParams.get("X-Amz-Expires")).toBe("900");
      expect(url.searchParams.get("versionId")).toBe("v1");
      expect(url.searchParams.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
    });
  });
});
