import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import type { S3Event } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localCredentials } from "../../local/endpoints.ts";
import { encodeS3EventKey, type LocalS3, startS3 } from "../../local/s3.ts";

describe("encodeS3EventKey", () => {
  it.each([
    ["artifacts/web/1.2.3.tgz", "artifacts/web/1.2.3.tgz"],
    ["artifacts/my service/1.0 beta.tgz", "artifacts/my+service/1.0+beta.tgz"],
    ["artifacts/café/v1.tgz", "artifacts/caf%C3%A9/v1.tgz"],
    ["a+b=c&d(e)~f:g", "a%2Bb%3Dc%26d%28e%29%7Ef%3Ag"],
  ])("encodes %j as S3 event notifications do", (key, expected) => {
    expect(encodeS3EventKey(key)).toBe(expected);
  });

  it("round-trips through the decoding handlers apply", () => {
    const key = "artifacts/dienst übersicht/1.0 (rc1)+x.tgz";
    expect(decodeURIComponent(encodeS3EventKey(key).replace(/\+/g, " "))).toBe(key);
  });
});

describe("local S3", () => {
  let stateDir: string;
  let s3: LocalS3;
  let client: S3Client;
  const events: S3Event[] = [];

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "kiln-s3-"));
    s3 = await startS3({
      stateDir,
      onObjectCreated: async (event) => {
        events.push(event);
      },
    });
    client = new S3Client({
      endpoint: s3.url,
      region: "us-east-1",
      credentials: localCredentials,
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_REQUIRED",
    });
    await s3.ensureBucket("kiln-artifacts");
  });

  afterAll(async () => {
    client?.destroy();
    await s3?.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  function eventsFor(key: string) {
    return events.flatMap((event) => event.Records).filter((record) => record.s3.object.key === key);
  }

  it("delivers a PutObject as an ObjectCreated:Put record shaped as AWS sends it", async () => {
    const key = "artifacts/my service/1.0 ünïcode.tgz";
    const put = await client.send(
      new PutObjectCommand({ Bucket: "kiln-artifacts", Key: key, Body: "hello" }),
    );
    await s3.settled();

    const [record, ...others] = eventsFor("artifacts/my+service/1.0+%C3%BCn%C3%AFcode.tgz");
    expect(others).toHaveLength(0);
    expect(record).toMatchObject({
      eventVersion: "2.1",
      eventSource: "aws:s3",
      awsRegion: "us-east-1",
      eventName: "ObjectCreated:Put",
      s3: {
        s3SchemaVersion: "1.0",
        bucket: { name: "kiln-artifacts", arn: "arn:aws:s3:::kiln-artifacts" },
        object: { size: 5, eTag: put.ETag?.replace(/"/g, "") },
      },
    });
    expect(new Date(record?.eventTime ?? "").toISOString()).toBe(record?.eventTime);
    expect(record?.s3.object.sequencer).toMatch(/^[0-9A-F]{16}$/);
  });

  it("reports a copy with the copied object's size and ETag", async () => {
    await client.send(
      new PutObjectCommand({ Bucket: "kiln-artifacts", Key: "copy/source.tgz", Body: "abcdef" }),
    );
    await client.send(
      new CopyObjectCommand({
        Bucket: "kiln-artifacts",
        Key: "copy/target.tgz",
        CopySource: "kiln-artifacts/copy/source.tgz",
      }),
    );
    await s3.settled();
    const head = await client.send(
      new HeadObjectCommand({ Bucket: "kiln-artifacts", Key: "copy/target.tgz" }),
    );

    const [record] = eventsFor("copy/target.tgz");
    expect(record?.eventName).toBe("ObjectCreated:Copy");
    expect(record?.s3.object).toMatchObject({ size: 6, eTag: head.ETag?.replace(/"/g, "") });
  });

  it("names a completed multipart upload ObjectCreated:CompleteMultipartUpload", async () => {
    const key = "multipart/big.tgz";
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({ Bucket: "kiln-artifacts", Key: key }),
    );
    const part = await client.send(
      new UploadPartCommand({
        Bucket: "kiln-artifacts",
        Key: key,
        UploadId,
        PartNumber: 1,
        Body: "part-one",
      }),
    );
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: "kiln-artifacts",
        Key: key,
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    await s3.settled();

    const [record] = eventsFor(key);
    expect(record?.eventName).toBe("ObjectCreated:CompleteMultipartUpload");
    expect(record?.s3.object.size).toBe(8);
  });

  it("pages ListObjectsV2 with continuation tokens", async () => {
    const keys = ["page/a", "page/b", "page/c", "page/d", "page/e"];
    for (const key of keys)
      await client.send(new PutObjectCommand({ Bucket: "kiln-artifacts", Key: key, Body: key }));

    const listed: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await client.send(
        new ListObjectsV2Command({
          Bucket: "kiln-artifacts",
          Prefix: "page/",
          MaxKeys: 2,
          ContinuationToken: token,
        }),
      );
      listed.push(...(page.Contents ?? []).map((object) => object.Key ?? ""));
      token = page.NextContinuationToken;
      pages += 1;
    } while (token !== undefined);

    expect(listed).toEqual(keys);
    expect(pages).toBe(3);
  });

  it("keeps serving and retries when the event consumer fails", async () => {
    const failingDir = await mkdtemp(join(tmpdir(), "kiln-s3-failing-"));
    const log: string[] = [];
    let calls = 0;
    const failing = await startS3({
      stateDir: failingDir,
      log: (line) => log.push(line),
      onObjectCreated: async () => {
        calls += 1;
        throw new Error("consumer down");
      },
    });
    const failingClient = new S3Client({
      endpoint: failing.url,
      region: "us-east-1",
      credentials: localCredentials,
      forcePathStyle: true,
    });
    try {
      await failing.ensureBucket("b");
      await failingClient.send(new PutObjectCommand({ Bucket: "b", Key: "k", Body: "x" }));
      await failing.settled();
      const head = await failingClient.send(new HeadObjectCommand({ Bucket: "b", Key: "k" }));

      expect(calls).toBe(3);
      expect(log.at(-1)).toMatch(/consumer down — dropped/);
      expect(head.ContentLength).toBe(1);
    } finally {
      failingClient.destroy();
      await failing.close();
      await rm(failingDir, { recursive: true, force: true });
    }
  });
});
