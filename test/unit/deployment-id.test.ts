import { describe, expect, it } from "vitest";
import { deploymentSchema } from "../../core/deployment.ts";
import { deploymentIdForObject, deploymentIdForRequest } from "../../core/deployment-id.ts";

const object = {
  bucket: "kiln-artifacts",
  key: "artifacts/hello-service/1.2.3.tgz",
  etag: '"9b2cf535f27731c974343645a3985328"',
};

describe("deploymentIdForObject", () => {
  it("gives the same id for the same object every time", () => {
    expect(deploymentIdForObject({ ...object })).toBe(deploymentIdForObject({ ...object }));
  });

  it("is d- and 24 base-36 characters: a valid deployment id and Step Functions execution name", () => {
    const id = deploymentIdForObject(object);

    expect(id).toMatch(/^d-[0-9a-z]{24}$/);
    expect(deploymentSchema.shape.id.safeParse(id).success).toBe(true);
  });

  it("reads an ETag the same with or without its quotes (S3 events omit them, HeadObject keeps them)", () => {
    expect(deploymentIdForObject({ ...object, etag: "9b2cf535f27731c974343645a3985328" })).toBe(
      deploymentIdForObject(object),
    );
  });

  it.each([
    [
      "another ETag (the key overwritten in an unversioned bucket)",
      { ...object, etag: '"0cc175b9c0f1b6a831c399e269772661"' },
    ],
    [
      "a version id (the key overwritten in a versioned bucket)",
      { ...object, versionId: "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY" },
    ],
    ["another key", { ...object, key: "artifacts/hello-service/1.2.4.tgz" }],
    ["another bucket", { ...object, bucket: "other-artifacts" }],
    ["an API idempotency key", { ...object, idempotencyKey: "redeploy-1" }],
  ])("differs for %s", (_case, other) => {
    expect(deploymentIdForObject(other)).not.toBe(deploymentIdForObject(object));
  });

  it("identifies a versioned object by its version id alone, whatever its ETag", () => {
    const versioned = { ...object, versionId: "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY" };

    expect(deploymentIdForObject({ ...versioned, etag: '"0cc175b9c0f1b6a831c399e269772661"' })).toBe(
      deploymentIdForObject(versioned),
    );
  });

  it("differs for two versions of the same key", () => {
    const first = deploymentIdForObject({ ...object, versionId: "v1" });

    expect(deploymentIdForObject({ ...object, versionId: "v2" })).not.toBe(first);
  });
});

describe("deploymentIdForRequest", () => {
  it("gives the same id for the same kind and idempotency key", () => {
    expect(deploymentIdForRequest("rollback", "k-1")).toBe(deploymentIdForRequest("rollback", "k-1"));
  });

  it.each([
    ["another idempotency key", deploymentIdForRequest("rollback", "k-2")],
    ["another kind", deploymentIdForRequest("redeploy", "k-1")],
  ])("differs for %s", (_case, other) => {
    expect(other).not.toBe(deploymentIdForRequest("rollback", "k-1"));
  });
});
