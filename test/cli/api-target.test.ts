/**
 * How the CLI finds the operator API and proves who calls it: the local cloud's token, an
 * explicit URL, or SigV4 for a deployed stage — and that its SigV4 signature is the one AWS
 * computes, checked against the algorithm written out independently here.
 */
import { createHash, createHmac } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { resolveApiTarget } from "../../cli/api-client.ts";
import { regionOfApiUrl, signedHeaders } from "../../cli/request-signing.ts";
import { type LocalCloudInfo, writeLocalCloudInfo } from "../../local/endpoints.ts";

let stateDir: string;

beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "kiln-target-"));
});

/** A state folder that looks like a running local cloud's (this process stands in for it). */
async function runningCloud(httpApi: string): Promise<string> {
  const tokenFile = join(stateDir, "api-token");
  await writeFile(tokenFile, "local-secret\n", { mode: 0o600 });
  await writeFile(join(stateDir, "cloud.pid"), `${process.pid}\n`);
  const endpoint = "http://127.0.0.1:1";
  const info: LocalCloudInfo = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    stateDir,
    ports: "ephemeral",
    endpoints: {
      s3: endpoint,
      dynamodb: endpoint,
      stepFunctions: endpoint,
      ec2: endpoint,
      autoScaling: endpoint,
      httpApi,
      slack: endpoint,
      ses: endpoint,
    },
    slackWebhookUrl: endpoint,
    env: { KILN_API_TOKEN_FILE: tokenFile },
    baseImageId: "ami-0123456789abcdef0",
    stateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:kiln-deploy",
    outboxDir: stateDir,
    slackMessagesDir: stateDir,
  };
  await writeLocalCloudInfo(info);
  return tokenFile;
}

describe("resolveApiTarget", () => {
  it("uses the running local cloud's API and its token when nothing else is said", async () => {
    await runningCloud("http://127.0.0.1:4571");

    const target = await resolveApiTarget({ stateDir, env: {} });

    expect(target).toEqual({ url: "http://127.0.0.1:4571", auth: { kind: "bearer", token: "local-secret" } });
  });

  it("prefers --api over KILN_API_URL, and KILN_API_TOKEN over the local token", async () => {
    await runningCloud("http://127.0.0.1:4571");

    const target = await resolveApiTarget({
      api: "http://127.0.0.1:4571/",
      stateDir,
      env: { KILN_API_URL: "http://127.0.0.1:9999", KILN_API_TOKEN: "from-env" },
    });

    expect(target).toEqual({ url: "http://127.0.0.1:4571", auth: { kind: "bearer", token: "from-env" } });
  });

  it("signs for a deployed stage, in the region its URL names", async () => {
    const target = await resolveApiTarget({
      api: "https://a1b2c3.execute-api.eu-west-1.amazonaws.com",
      stateDir,
      env: { AWS_REGION: "us-east-1" },
    });

    expect(target.auth).toMatchObject({ kind: "sigv4", region: "eu-west-1" });
  });

  it.each([
    [{}, {}, "no API to talk to"],
    [{ api: "http://127.0.0.1:4571" }, {}, "no local cloud runs on"],
    [{ api: "https://kiln.example.com" }, {}, "cannot tell the region"],
  ])("explains what is missing (%j, env %j)", async (options, env, message) => {
    await expect(resolveApiTarget({ ...options, stateDir, env })).rejects.toThrow(message);
  });
});

describe("SigV4 signing", () => {
  const credentials = async () => ({
    accessKeyId: "AKIDEXAMPLE",
    secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    sessionToken: "session-token",
  });

  const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();
  const sha256 = (data: string) => createHash("sha256").update(data).digest("hex");

  it("produces the signature AWS expects for execute-api", async () => {
    const url = "https://a1b2c3.execute-api.eu-west-1.amazonaws.com/services/web/rollback?b=2&a=1";
    const body = '{"imageId":"ami-0123456789abcdef0"}';
    const headers = await signedHeaders(
      { method: "POST", url, headers: { "content-type": "application/json" }, body },
      "eu-west-1",
      credentials,
      new Date("2026-03-02T09:00:00Z"),
    );

    expect(headers["x-amz-date"]).toBe("20260302T090000Z");
    expect(headers["x-amz-security-token"]).toBe("session-token");
    const match =
      /^AWS4-HMAC-SHA256 Credential=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
        headers.authorization ?? "",
      );
    expect(match?.[1]).toBe("AKIDEXAMPLE/20260302/eu-west-1/execute-api/aws4_request");
    const signedNames = (match?.[2] ?? "").split(";");
    expect(signedNames).toEqual(
      expect.arrayContaining(["content-type", "host", "x-amz-date", "x-amz-security-token"]),
    );

    // The algorithm as AWS documents it (canonical request → string to sign → derived key).
    const lowered = Object.fromEntries(
      Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]),
    );
    const canonicalRequest = [
      "POST",
      "/services/web/rollback",
      "a=1&b=2",
      ...signedNames.map((name) => `${name}:${String(lowered[name]).trim()}`),
      "",
      signedNames.join(";"),
      sha256(body),
    ].join("\n");
    const stringToSign = [
      "AWS4-HMAC-SHA256",
      "20260302T090000Z",
      "20260302/eu-west-1/execute-api/aws4_request",
      sha256(canonicalRequest),
    ].join("\n");
    const key = hmac(
      hmac(
        hmac(hmac("AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20260302"), "eu-west-1"),
        "execute-api",
      ),
      "aws4_request",
    );
    expect(match?.[3]).toBe(createHmac("sha256", key).update(stringToSign).digest("hex"));
  });

  it.each([
    ["https://a1b2c3.execute-api.ap-southeast-2.amazonaws.com", "ap-southeast-2"],
    ["https://kiln.example.com", undefined],
  ])("reads the region of %s", (url, region) => {
    expect(regionOfApiUrl(url)).toBe(region);
  });
});
