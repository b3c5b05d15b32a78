/**
 * The operator use cases behind the API on in-memory fakes: the cases an end-to-end run cannot
 * stage on demand (a deployment promoted between two reads, a lock held without an execution,
 * a deployment caught mid-roll) and the rules for choosing a rollback's image.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { prepareDeployment } from "../../core/deploy/prepare.ts";
import { kilnTag } from "../../core/deploy/tags.ts";
import type { Deployment, DeploymentStatus } from "../../core/deployment.ts";
import { ConflictError, InvalidInputError, ResourceNotFoundError } from "../../core/errors.ts";
import { cancelDeployment } from "../../core/operations/cancel-deployment.ts";
import { listDeployments } from "../../core/operations/deployment-queries.ts";
import { rollBackService } from "../../core/operations/roll-back-service.ts";
import { deploymentView } from "../../core/operations/views.ts";
import { executionInputFor } from "../../core/service-queue.ts";
import { type FakeKiln, fakeKiln } from "../fakes/fake-kiln.ts";
import { aDeployment, aManifest, anExecutionInput, aServiceConfig } from "../fakes/test-data.ts";

let kiln: FakeKiln;
const service = "hello-service";

beforeEach(async () => {
  kiln = fakeKiln();
  await kiln.services.putConfig(aServiceConfig());
});

/** A recorded deployment of `version`, requested `minute` minutes past nine. */
async function recorded(
  version: string,
  status: DeploymentStatus,
  minute: number,
  extra: Partial<Deployment> = {},
) {
  const input = anExecutionInput({ manifest: aManifest({ version }) });
  const at = `2026-03-02T09:${String(minute).padStart(2, "0")}:00.000Z`;
  const deployment = aDeployment(input, { status, requestedAt: at, updatedAt: at, ...extra });
  await kiln.history.create(deployment);
  return deployment;
}

/** An image baked by `deployment`, as the bake tags it. */
function bakedImage(deployment: Deployment, extraTags: Record<string, string> = {}) {
  return kiln.images.add({
    name: `kiln-${deployment.service}-${deployment.version}`,
    createdAt: deployment.requestedAt,
    tags: {
      [kilnTag.managed]: "true",
      [kilnTag.service]: deployment.service,
      [kilnTag.version]: deployment.version ?? "",
      [kilnTag.deploymentId]: deployment.id,
      ...extraTags,
    },
  });
}

describe("listDeployments", () => {
  it("fills a filtered page across several history pages and continues exactly where it stopped", async () => {
    const statuses: DeploymentStatus[] = [
      "SUCCEEDED",
      "FAILED",
      "FAILED",
      "SUCCEEDED",
      "FAILED",
      "SUCCEEDED",
      "FAILED",
    ];
    const made = await Promise.all(
      statuses.map((status, minute) => recorded(`1.0.${minute}`, status, minute)),
    );
    const failedNewestFirst = made
      .filter((deployment) => deployment.status === "FAILED")
      .map((deployment) => deployment.id)
      .reverse();

    const first = await listDeployments(kiln, { statuses: ["FAILED"], limit: 3 });
    const second = await listDeployments(kiln, { statuses: ["FAILED"], limit: 3, cursor: first.cursor });

    expect(first.items.map((deployment) => deployment.id)).toEqual(failedNewestFirst.slice(0, 3));
    expect(second.items.map((deployment) => deployment.id)).toEqual(failedNewestFirst.slice(3));
    expect(second.cursor).toBeUndefined();
  });

  it("refuses another listing's cursor and a cursor it never issued", async () => {
    await recorded("1.0.0", "SUCCEEDED", 0);
    await recorded("1.0.1", "SUCCEEDED", 1);
    const page = await listDeployments(kiln, { service, limit: 1 });

    await expect(listDeployments(kiln, { limit: 1, cursor: page.cursor })).rejects.toThrow(InvalidInputError);
    await expect(listDeployments(kiln, { limit: 1, cursor: "bm90IGEgY3Vyc29y" })).rejects.toThrow(
      InvalidInputError,
    );
  });
});

describe("deploymentView", () => {
  it.each([
    ["FAILED", "failed"],
    ["CANCELLED", "cancelled"],
    ["CANARY", "running"],
  ] as const)(
    "marks the step a %s deployment stopped in as %s and the steps after it",
    async (status, state) => {
      const deployment = await recorded("1.0.0", status, 0, {
        steps: {
          prepare: { startedAt: "2026-03-02T09:00:01.000Z", endedAt: "2026-03-02T09:00:02.000Z" },
          bake: { startedAt: "2026-03-02T09:00:02.000Z", endedAt: "2026-03-02T09:00:02.000Z", cached: true },
          canary: { startedAt: "2026-03-02T09:00:03.000Z" },
        },
      });

      const view = deploymentView(deployment);

      const after = status === "CANARY" ? "pending" : "not-run";
      expect(view.stepTimeline.map((step) => step.state)).toEqual([
        "succeeded",
        "cached",
        state,
        after,
        after,
      ]);
      expect(view.stepTimeline[0]?.durationMs).toBe(1000);
    },
  );
});

describe("cancelDeployment", () => {
  it("refuses a deployment that is rolling its group, and leaves its execution running", async () => {
    const rolling = await recorded("1.0.0", "ROLLING", 0);
    await kiln.workflow.start(rolling.id, {});

    await expect(cancelDeployment(kiln, rolling.id)).rejects.toThrow(ConflictError);
    expect(kiln.workflow.executions.get(rolling.id)?.status).toBe("RUNNING");
  });

  it("stops a running deployment's execution and leaves the recording to its ending", async () => {
    const baking = await recorded("1.0.0", "BAKING", 0);
    await kiln.workflow.start(baking.id, {});

    const outcome = await cancelDeployment(kiln, baking.id, "ana");

    expect(outcome.stopping).toBe(true);
    expect(kiln.workflow.executions.get(baking.id)).toMatchObject({
      status: "ABORTED",
      cause: "cancelled by ana",
    });
    expect((await kiln.history.get(baking.id))?.status).toBe("BAKING");
  });

  it("cancels a queued deployment promoted into the lock but not yet started, and hands the lock on", async () => {
    const promoted = await recorded("1.0.0", "QUEUED", 0);
    const waiting = await recorded("1.0.1", "QUEUED", 1);
    kiln.services.seedState(service, {
      activeDeploymentId: promoted.id,
      queuedDeploymentId: waiting.id,
      queuedRequestedAt: waiting.requestedAt,
    });

    const outcome = await cancelDeployment(kiln, promoted.id);

    expect(outcome).toMatchObject({ stopping: false, deployment: { status: "CANCELLED" } });
    expect(kiln.workflow.started()).toEqual([waiting.id]);
    expect((await kiln.services.getState(service)).activeDeploymentId).toBe(waiting.id);
    expect(kiln.notifier.kinds()).toEqual(["CANCELLED"]);
  });

  it("records CANCELLED itself for a deployment holding the lock without an execution", async () => {
    const stranded = await recorded("1.0.0", "PENDING", 0);
    kiln.services.seedState(service, { activeDeploymentId: stranded.id });

    const outcome = await cancelDeployment(kiln, stranded.id);

    expect(outcome).toMatchObject({ stopping: false, deployment: { status: "CANCELLED" } });
    expect((await kiln.services.getState(service)).activeDeploymentId).toBeUndefined();
  });
});

describe("rollBackService", () => {
  async function twoReleases() {
    const older = await recorded("1.0.0", "SUCCEEDED", 0);
    const newer = await recorded("1.1.0", "SUCCEEDED", 5);
    const olderImage = bakedImage(older, { [kilnTag.imageStatus]: "deployed" });
    const newerImage = bakedImage(newer, { [kilnTag.imageStatus]: "deployed" });
    await kiln.history.update(older.id, { imageId: olderImage.imageId });
    await kiln.history.update(newer.id, { imageId: newerImage.imageId });
    const pin = (imageId: string, deploymentId: string) => ({
      imageId,
      deploymentId,
      pinnedAt: "2026-03-02T10:00:00.000Z",
    });
    kiln.services.seedState(service, {
      lastKnownGood: pin(newerImage.imageId, newer.id),
      previousImage: pin(olderImage.imageId, older.id),
    });
    return { older, newer, olderImage, newerImage };
  }

  it("deploys the image pinned before the last-known-good one by default, with that release's artifact", async () => {
    const { older, olderImage } = await twoReleases();

    const { deployment } = await rollBackService(kiln, { service, by: "ana" });

    expect(deployment).toMatchObject({
      status: "PENDING",
      version: "1.0.0",
      trigger: { kind: "rollback", by: "ana" },
      imageId: olderImage.imageId,
      rollbackTo: { imageId: olderImage.imageId, deploymentId: older.id },
      artifact: older.artifact,
    });
    expect(executionInputFor(deployment).rollbackTo).toEqual({
      imageId: olderImage.imageId,
      deploymentId: older.id,
    });
    expect(kiln.workflow.started()).toEqual([deployment.id]);
  });

  it("waits in the queue behind a running deployment like any other", async () => {
    await twoReleases();
    const running = await recorded("1.2.0", "BAKING", 9);
    kiln.services.seedState(service, {
      ...(await kiln.services.getState(service)),
      activeDeploymentId: running.id,
    });

    const { deployment } = await rollBackService(kiln, { service });

    expect(deployment.status).toBe("QUEUED");
    expect((await kiln.services.getState(service)).queuedDeploymentId).toBe(deployment.id);
  });

  it("refuses with nothing before the last-known-good image", async () => {
    const only = await recorded("1.0.0", "SUCCEEDED", 0);
    kiln.services.seedState(service, {
      lastKnownGood: { imageId: "ami-1", deploymentId: only.id, pinnedAt: only.requestedAt },
    });

    await expect(rollBackService(kiln, { service })).rejects.toThrow(/only one successful release/);
  });

  it("refuses an image a canary rejected, another service's image, and one that is gone", async () => {
    const { older } = await twoReleases();
    const rejected = bakedImage(older, { [kilnTag.imageStatus]: "rejected" });
    const foreign = bakedImage({ ...older, service: "other-service" });

    await expect(rollBackService(kiln, { service, imageId: rejected.imageId })).rejects.toThrow(
      ConflictError,
    );
    await expect(rollBackService(kiln, { service, imageId: foreign.imageId })).rejects.toThrow(
      InvalidInputError,
    );
    await expect(rollBackService(kiln, { service, imageId: "ami-0ffffffffffffffff" })).rejects.toThrow(
      ResourceNotFoundError,
    );
  });

  it("refuses a deployment that did not succeed as a target", async () => {
    const failed = await recorded("0.9.0", "FAILED", 0);

    await expect(rollBackService(kiln, { service, deploymentId: failed.id })).rejects.toThrow(/ended FAILED/);
  });
});

describe("prepareDeployment for a rollback", () => {
  it("takes the rollback's image as a cache hit and records the bake as skipped", async () => {
    const older = await recorded("1.0.0", "SUCCEEDED", 0);
    const image = bakedImage(older);
    const input = anExecutionInput({ rollbackTo: { imageId: image.imageId, deploymentId: older.id } });
    await kiln.history.create(aDeployment(input));

    const plan = await prepareDeployment(kiln, input);

    expect(plan.cachedImageId).toBe(image.imageId);
    const recordedSteps = (await kiln.history.get(input.deploymentId))?.steps;
    expect(recordedSteps?.bake).toMatchObject({ cached: true, note: `rollback: reusing ${image.imageId}` });
  });

  it("fails when the rollback's image is no longer available", async () => {
    const input = anExecutionInput({
      rollbackTo: { imageId: "ami-0ffffffffffffffff", deploymentId: "d-000000000000000000000000" },
    });
    await kiln.history.create(aDeployment(input));

    await expect(prepareDeployment(kiln, input)).rejects.toThrow(ResourceNotFoundError);
  });
});
