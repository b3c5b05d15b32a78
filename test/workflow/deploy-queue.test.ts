import { PutObjectCommand } from "@aws-sdk/client-s3";
import { ListExecutionsCommand, SFNClient } from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packDirectory } from "../../cli/artifact-packing.ts";
import { requestDeployment } from "../../core/request-deployment.ts";
import { artifactLimits } from "../../functions/environment.ts";
import * as wire from "../../functions/wiring.ts";
import { examplesDir, type KilnCloud, startKilnCloud } from "../support/kiln-cloud.ts";

let kiln: KilnCloud;
const sfn = () => new SFNClient({});

beforeAll(async () => {
  kiln = await startKilnCloud();
});

afterAll(async () => {
  await kiln?.stop();
});

async function executionsNamed(name: string): Promise<number> {
  const result = await sfn().send(
    new ListExecutionsCommand({ stateMachineArn: kiln.cloud.stateMachineArn, maxResults: 1000 }),
  );
  return (result.executions ?? []).filter((execution) => execution.name === name).length;
}

describe("deployment requests", () => {
  it("makes one deployment of a duplicated S3 event, however it is delivered", async () => {
    await kiln.registerService("dupes");
    const { key, etag, deploymentId } = await kiln.upload("hello-service", "1.0.0", "dupes");
    const event = {
      Records: [
        {
          eventVersion: "2.1",
          eventSource: "aws:s3",
          eventName: "ObjectCreated:Put",
          eventTime: new Date().toISOString(),
          s3: { bucket: { name: kiln.bucket }, object: { key, eTag: etag } },
        },
      ],
    };

    // The bucket delivered it once; deliver it twice more at once, and upload the same bytes again.
    await kiln.waitFor(deploymentId, () => true);
    const outcomes = await Promise.all([
      kiln.cloud.functions.invoke("onArtifact", event),
      kiln.cloud.functions.invoke("onArtifact", event),
    ]);
    const again = await kiln.upload("hello-service", "1.0.0", "dupes");
    const deployment = await kiln.waitFor(deploymentId);

    expect(again.deploymentId).toBe(deploymentId);
    expect(outcomes.flat()).toEqual([
      expect.objectContaining({ deploymentId, duplicate: true }),
      expect.objectContaining({ deploymentId, duplicate: true }),
    ]);
    expect(deployment.status).toBe("SUCCEEDED");
    expect(await executionsNamed(deploymentId)).toBe(1);
    expect(await kiln.liveInstances({ "kiln:deployment-id": deploymentId })).toEqual([]);
    expect((await kiln.group("dupes")).version).toBe(deployment.launchTemplateVersion);
    const { items } = await kiln.history.listByService("dupes", { limit: 10 });
    expect(items.map((item) => item.id)).toEqual([deploymentId]);
  });

  it("runs one of three rapid uploads, supersedes one, and runs the newest next", async () => {
    await kiln.bootstrap("rapid", "hello-service", "1.0.0", 1);
    const first = await kiln.upload("hello-service", "1.1.0", "rapid");
    const second = await kiln.upload("hello-service", "1.2.0", "rapid");
    const third = await kiln.upload("hello-service", "1.3.0", "rapid");

    const newest = await kiln.waitFor(third.deploymentId, undefined, 120_000);
    const older = [await kiln.history.get(first.deploymentId), await kiln.history.get(second.deploymentId)];

    expect(newest.status).toBe("SUCCEEDED");
    expect(older.map((deployment) => deployment?.status).sort()).toEqual(["SUCCEEDED", "SUPERSEDED"]);
    const superseded = older.find((deployment) => deployment?.status === "SUPERSEDED");
    const ran = older.find((deployment) => deployment?.status === "SUCCEEDED");
    expect(superseded?.supersededBy).toBe(third.deploymentId);
    expect(superseded?.timeline.map((entry) => entry.status)).toEqual(["QUEUED", "SUPERSEDED"]);
    expect(await executionsNamed(superseded?.id ?? "")).toBe(0);
    // The newest waited for the one that ran, then ran itself.
    expect(Date.parse(newest.steps.prepare?.startedAt ?? "")).toBeGreaterThanOrEqual(
      Date.parse(ran?.endedAt ?? ""),
    );
    expect(newest.timeline.map((entry) => entry.status).slice(0, 2)).toEqual(["QUEUED", "PENDING"]);
    expect((await kiln.group("rapid")).version).toBe(newest.launchTemplateVersion);
    expect(await kiln.answers("rapid")).toEqual(["hello from rapid 1.3.0"]);
    expect(await kiln.liveInstances({ "kiln:service": "rapid", "kiln:role": "canary" })).toEqual([]);
    expect(await kiln.liveInstances({ "kiln:service": "rapid", "kiln:role": "builder" })).toEqual([]);
    expect((await kiln.services.getState("rapid")).queuedDeploymentId).toBeUndefined();
  });

  it("skips the bake when the same content was already baked on the same base image", async () => {
    const baked = await kiln.bootstrap("cached", "hello-service", "1.0.0", 1);
    const launchesBefore =
      kiln.cloud.stats.functions().find((fn) => fn.name === "launchBuilder")?.invocations ?? 0;
    const deps = {
      ...wire.queueDeps(),
      artifacts: wire.artifacts(),
      notifier: wire.notifier(),
      clock: wire.clock(),
      limits: artifactLimits(),
    };

    // Deploying the same object again (an operator's redeploy) is a new request with its own key.
    const { deployment: requested } = await requestDeployment(deps, {
      bucket: kiln.bucket,
      key: baked.artifact?.key ?? "",
      idempotencyKey: "redeploy-1",
      trigger: { kind: "api", by: "test" },
    });
    const deployment = await kiln.waitFor(requested.id);

    expect(deployment.id).not.toBe(baked.id);
    expect(deployment.status).toBe("SUCCEEDED");
    expect(deployment.steps.bake).toMatchObject({ cached: true });
    expect(deployment.builderInstanceId).toBeUndefined();
    expect(deployment.imageId).toBe(baked.imageId);
    expect(deployment.timeline.map((entry) => entry.status)).toEqual([
      "QUEUED",
      "PENDING",
      "CANARY",
      "ROLLING",
      "SUCCEEDED",
    ]);
    expect(kiln.cloud.stats.functions().find((fn) => fn.name === "launchBuilder")?.invocations ?? 0).toBe(
      launchesBefore,
    );
    expect((await kiln.group("cached")).version).toBe(deployment.launchTemplateVersion);
    expect(await kiln.liveInstances({ "kiln:deployment-id": deployment.id })).toEqual([]);
  });

  it("rejects an artifact for a service that is not registered, launching nothing", async () => {
    const { body, key } = await packDirectory(`${examplesDir}hello-service`, {
      service: "nobody-home",
      version: "1.0.0",
    });
    const put = await kiln.s3.send(new PutObjectCommand({ Bucket: kiln.bucket, Key: key, Body: body }));
    const { deploymentIdForObject } = await import("../../core/deployment-id.ts");
    const id = deploymentIdForObject({ bucket: kiln.bucket, key, etag: put.ETag });

    const deployment = await kiln.waitFor(id);

    expect(deployment.status).toBe("REJECTED");
    expect(deployment.error?.message).toBe(
      'service "nobody-home" is not registered: register it before deploying it',
    );
    expect(await executionsNamed(id)).toBe(0);
  });
});
