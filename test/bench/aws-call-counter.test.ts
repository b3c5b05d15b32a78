/**
 * The benchmark's count of Kiln's AWS calls (figure 3): requests that leave Kiln's default
 * clients, and not the URL a presigner builds through the same client without sending it.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AwsCallCounter } from "../../bench/aws-call-counter.ts";
import { s3Client } from "../../core/aws/clients.ts";
import { S3ArtifactStore } from "../../core/aws/s3-artifact-store.ts";

describe("Kiln's AWS call count", () => {
  let server: Server;
  let requests = 0;

  beforeAll(async () => {
    // An S3 endpoint that has every object: a HEAD answers 200.
    server = createServer((request, response) => {
      requests += 1;
      request.resume();
      response.writeHead(200, { "content-length": "0", etag: '"e"' }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    // The default clients read their endpoint and credentials from the environment once.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "kiln-local",
      AWS_SECRET_ACCESS_KEY: "kiln-local-secret",
    });
  });

  afterAll(async () => {
    s3Client().destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it("counts a request sent, and not a presigned URL", async () => {
    const counter = new AwsCallCounter();
    counter.attach();
    const store = new S3ArtifactStore(s3Client());

    const url = await store.presignDownload("kiln-artifacts", "artifacts/web/1.0.0.tgz", 900);
    const afterPresign = counter.snapshot();
    await s3Client().send(
      new HeadObjectCommand({ Bucket: "kiln-artifacts", Key: "artifacts/web/1.0.0.tgz" }),
    );

    expect(url).toContain("X-Amz-Signature=");
    expect(afterPresign).toEqual({});
    expect(requests).toBe(1);
    expect(counter.snapshot()).toEqual({ "s3:HeadObject": 1 });
  });
});
