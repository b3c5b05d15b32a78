import { readFile } from "node:fs/promises";
import { beforeEach, describe, expect, it } from "vitest";
import { deploymentIdForObject } from "../../core/deployment-id.ts";
import { type DeploymentRequest, requestDeployment } from "../../core/request-deployment.ts";
import { type FakeKiln, fakeKiln } from "../fakes/fake-kiln.ts";
import {
  aManifest,
  artifactKey,
  aServiceConfig,
  bucket,
  packArtifact,
  sha256Of,
} from "../fakes/test-data.ts";
import {
  corpusLimits,
  corpusPath,
  corpusService,
  hostileArtifacts,
  validArtifacts,
} from "../fixtures/artifacts/corpus.ts";

const minute = 60_000;

describe("requestDeployment", () => {
  let kiln: FakeKiln;

  /** Uploads an artifact of hello-service at `version` and returns the S3 event's request. */
  async function upload(
    version: string,
    manifest: unknown = aManifest({ version }),
  ): Promise<DeploymentRequest> {
    const key = artifactKey("hello-service", version);
    const etag = kiln.artifacts.put(bucket, key, await packArtifact(manifest));
    return { bucket, key, etag: etag.replaceAll('"', ""), trigger: { kind: "s3", by: "AWS:uploader" } };
  }

  beforeEach(async () => {
    kiln = fakeKiln();
    await kiln.services.putConfig(aServiceConfig());
  });

  it("starts a valid artifact at once: PENDING, holding the service's lock, with its execution started", async () => {
    const request = await upload("1.0.0");
    const bytes = await readFileOf(kiln, request);

    const { deployment, duplicate } = await requestDeployment(kiln, request);

    expect(duplicate).toBe(false);
    expect(deployment).toMatchObject({
      id: deploymentIdForObject(request),
      service: "hello-service",
      version: "1.0.0",
      status: "PENDING",
      artifact: { bucket, key: request.key, sha256: sha256Of(bytes), size: bytes.length },
    });
    expect((await kiln.services.getState("hello-service")).activeDeploymentId).toBe(deployment.id);
    expect(kiln.workflow.started()).toEqual([deployment.id]);
    expect(kiln.workflow.executions.get(deployment.id)?.input).toEqual({
      deploymentId: deployment.id,
      service: "hello-service",
      version: "1.0.0",
      artifact: deployment.artifact,
      manifest: aManifest({ version: "1.0.0" }),
    });
  });

  it("records the timeline QUEUED then PENDING for a deployment that started at once", async () => {
    const request = await upload("1.0.0");

    const { deployment } = await requestDeployment(kiln, request);

    expect((await kiln.history.get(deployment.id))?.timeline.map((entry) => entry.status)).toEqual([
      "QUEUED",
      "PENDING",
    ]);
  });

  it("returns the same deployment for a duplicate request and starts no second execution", async () => {
    const request = await upload("1.0.0");
    const first = await requestDeployment(kiln, request);

    const second = await requestDeployment(kiln, request);

    expect(second.duplicate).toBe(true);
    expect(second.deployment.id).toBe(first.deployment.id);
    expect(kiln.history.all()).toHaveLength(1);
    expect(kiln.workflow.started()).toEqual([first.deployment.id]);
  });

  it("answers a duplicate of a deployment already baking from its record, without reading the artifact or starting anything", async () => {
    const request = await upload("1.0.0");
    const first = await requestDeployment(kiln, request);
    await kiln.history.transition(first.deployment.id, "BAKING");
    const startsBefore = kiln.workflow.startCalls.length;
    const opensBefore = kiln.artifacts.opened;

    const second = await requestDeployment(kiln, request);

    expect(second).toMatchObject({
      duplicate: true,
      deployment: { id: first.deployment.id, status: "BAKING" },
    });
    expect(kiln.workflow.startCalls).toHaveLength(startsBefore);
    expect(kiln.artifacts.opened).toBe(opensBefore);
  });

  it("queues a second request while another deployment of the service holds the lock", async () => {
    const running = await requestDeployment(kiln, await upload("1.0.0"));
    kiln.clock.advance(minute);

    const { deployment } = await requestDeployment(kiln, await upload("1.1.0"));

    expect(deployment.status).toBe("QUEUED");
    const state = await kiln.services.getState("hello-service");
    expect(state).toMatchObject({
      activeDeploymentId: running.deployment.id,
      queuedDeploymentId: deployment.id,
    });
    expect(kiln.workflow.started()).toEqual([running.deployment.id]);
  });

  it("supersedes the queued request with a third one, recording which one superseded it", async () => {
    const running = await requestDeployment(kiln, await upload("1.0.0"));
    kiln.clock.advance(minute);
    const second = await requestDeployment(kiln, await upload("1.1.0"));
    kiln.clock.advance(minute);

    const third = await requestDeployment(kiln, await upload("1.2.0"));

    expect(third.deployment.status).toBe("QUEUED");
    const superseded = await kiln.history.get(second.deployment.id);
    expect(superseded).toMatchObject({ status: "SUPERSEDED", supersededBy: third.deployment.id });
    expect(superseded?.endedAt).toBe(kiln.clock.now().toISOString());
    expect((await kiln.services.getState("hello-service")).queuedDeploymentId).toBe(third.deployment.id);
    expect(kiln.workflow.started()).toEqual([running.deployment.id]);
  });

  it("supersedes an older request that arrives after a newer one already waits (a redelivered event)", async () => {
    await requestDeployment(kiln, await upload("1.0.0"));
    kiln.clock.advance(minute);
    const olderRequest = await upload("1.1.0");
    // The first delivery recorded the older request, then its function died before queueing it.
    const olderId = deploymentIdForObject(olderRequest);
    const crashingQueue = Object.assign(Object.create(kiln.services), {
      enqueue: failing("function timed out"),
    });
    await expect(requestDeployment({ ...kiln, services: crashingQueue }, olderRequest)).rejects.toThrow(
      "function timed out",
    );
    kiln.clock.advance(minute);
    const newer = await requestDeployment(kiln, await upload("1.2.0"));

    const redelivered = await requestDeployment(kiln, olderRequest);

    expect(redelivered.deployment).toMatchObject({ id: olderId, status: "SUPERSEDED" });
    expect((await kiln.services.getState("hello-service")).queuedDeploymentId).toBe(newer.deployment.id);
    expect((await kiln.history.get(newer.deployment.id))?.status).toBe("QUEUED");
  });

  it("rejects an artifact of an unregistered service, tells people why and starts nothing", async () => {
    const key = artifactKey("other-service", "1.0.0");
    kiln.artifacts.put(
      bucket,
      key,
      await packArtifact(aManifest({ service: "other-service", version: "1.0.0" })),
    );

    const { deployment } = await requestDeployment(kiln, { bucket, key, trigger: { kind: "s3" } });

    expect(deployment).toMatchObject({
      service: "other-service",
      status: "REJECTED",
      error: {
        name: "UnknownServiceError",
        message: 'service "other-service" is not registered: register it before deploying it',
      },
    });
    expect(deployment.endedAt).toBeDefined();
    expect(kiln.notifier.sent).toMatchObject([
      { kind: "REJECTED", service: "other-service", title: "other-service 1.0.0 artifact rejected" },
    ]);
    expect(kiln.workflow.started()).toEqual([]);
    expect((await kiln.services.getState("other-service")).activeDeploymentId).toBeUndefined();
  });

  it("rejects a hostile artifact with the inspection's reason and starts nothing", async () => {
    const hostile = hostileArtifacts.find((artifact) => artifact.file === "path-traversal.tgz");
    const key = artifactKey("hello-service", "1.0.0");
    kiln.artifacts.put(bucket, key, await readFile(corpusPath(hostile?.file ?? "")));

    const { deployment } = await requestDeployment(kiln, { bucket, key, trigger: { kind: "s3" } });

    expect(deployment.status).toBe("REJECTED");
    expect(deployment.error).toMatchObject({
      name: "ArtifactRejectedError",
      message: expect.stringContaining(hostile?.reason ?? "?"),
    });
    expect(kiln.notifier.kinds()).toEqual(["REJECTED"]);
    expect(kiln.workflow.started()).toEqual([]);
  });

  it.each(hostileArtifacts.map((artifact) => [artifact.file, artifact]))(
    "rejects the corpus artifact %s with its reason, launching nothing",
    async (_file, artifact) => {
      await kiln.services.putConfig(aServiceConfig({ name: corpusService }));
      kiln.artifacts.put(bucket, artifact.key, await readFile(corpusPath(artifact.file)));

      const { deployment } = await requestDeployment(
        { ...kiln, limits: corpusLimits },
        { bucket, key: artifact.key, trigger: { kind: "s3" } },
      );

      expect(deployment.status).toBe("REJECTED");
      expect(deployment.error?.message).toContain(artifact.reason);
      expect(kiln.workflow.started()).toEqual([]);
      expect(kiln.notifier.kinds()).toEqual(["REJECTED"]);
    },
  );

  it.each(validArtifacts.map((artifact) => [artifact.file, artifact]))(
    "starts the valid corpus artifact %s",
    async (_file, artifact) => {
      await kiln.services.putConfig(aServiceConfig({ name: corpusService }));
      kiln.artifacts.put(bucket, artifact.key, await readFile(corpusPath(artifact.file)));

      const { deployment } = await requestDeployment(
        { ...kiln, limits: corpusLimits },
        { bucket, key: artifact.key, trigger: { kind: "s3" } },
      );

      expect(deployment).toMatchObject({
        status: "PENDING",
        service: corpusService,
        version: artifact.version,
      });
      expect(kiln.workflow.started()).toEqual([deployment.id]);
    },
  );

  it.each([
    [
      "names another service",
      aManifest({ service: "other-service", version: "1.0.0" }),
      'kiln.json names service "other-service" but the artifact was uploaded under "hello-service"',
    ],
    [
      "names another version",
      aManifest({ version: "2.0.0" }),
      'kiln.json names version "2.0.0" but the artifact key says "1.0.0"',
    ],
  ])("rejects an artifact whose manifest %s than its key", async (_case, manifest, message) => {
    const request = await upload("1.0.0", manifest);

    const { deployment } = await requestDeployment(kiln, request);

    expect(deployment).toMatchObject({ status: "REJECTED", error: { message } });
    expect(kiln.workflow.started()).toEqual([]);
  });

  it("rejects an object that is not under artifacts/<service>/<version>.tgz", async () => {
    kiln.artifacts.put(bucket, "uploads/hello.tgz", await packArtifact(aManifest()));

    const { deployment } = await requestDeployment(kiln, {
      bucket,
      key: "uploads/hello.tgz",
      trigger: { kind: "s3" },
    });

    expect(deployment).toMatchObject({
      service: "unknown",
      status: "REJECTED",
      error: {
        message: '"uploads/hello.tgz" is not an artifact key: expected artifacts/<service>/<version>.tgz',
      },
    });
  });

  it("rejects an object that no longer exists", async () => {
    const key = artifactKey("hello-service", "1.0.0");

    const { deployment } = await requestDeployment(kiln, { bucket, key, trigger: { kind: "s3" } });

    expect(deployment).toMatchObject({
      status: "REJECTED",
      error: { message: `s3://${bucket}/${key} does not exist` },
    });
  });

  it.each([
    ["a service name with capitals", "artifacts/Hello_Service/1.0.0.tgz"],
    ["a version with a space", "artifacts/hello-service/1.0 beta.tgz"],
  ])(
    "rejects an artifact uploaded under a key with %s, rather than failing to record it",
    async (_case, key) => {
      kiln.artifacts.put(bucket, key, await packArtifact(aManifest()));

      const outcome = await requestDeployment(kiln, { bucket, key, trigger: { kind: "s3" } });

      expect(outcome.deployment.status).toBe("REJECTED");
      expect(kiln.notifier.kinds()).toEqual(["REJECTED"]);
    },
  );

  it("notifies a rejection once when S3 delivers the event twice", async () => {
    const request = await upload("1.0.0", aManifest({ version: "9.9.9" }));
    await requestDeployment(kiln, request);

    const again = await requestDeployment(kiln, request);

    expect(again).toMatchObject({ duplicate: true, deployment: { status: "REJECTED" } });
    expect(kiln.notifier.kinds()).toEqual(["REJECTED"]);
  });
});

function failing(message: string) {
  return async () => {
    throw new Error(message);
  };
}

async function readFileOf(kiln: FakeKiln, request: DeploymentRequest): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await kiln.artifacts.open(request.bucket, request.key))
    chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
