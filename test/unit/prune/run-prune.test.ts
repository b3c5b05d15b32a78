import { describe, expect, it } from "vitest";
import { type Deployment, deploymentSchema } from "../../../core/deployment.ts";
import { PruneAbortedError, TransientAwsError, UnknownServiceError } from "../../../core/errors.ts";
import { runPrune } from "../../../core/prune/run-prune.ts";
import { type FakeWorld, fakeDeps, image, now, scanFor, serviceConfig } from "./prune-fixtures.ts";

const schedule = { kind: "schedule" as const };

function deployment(id: string, fields: Partial<Deployment>): Deployment {
  return deploymentSchema.parse({
    id,
    service: "web",
    status: "BAKING",
    trigger: { kind: "s3" },
    requestedAt: now.toISOString(),
    updatedAt: now.toISOString(),
    ...fields,
  });
}

/** web keeps 2 deployed images: running (newest), two more deployed, one old rejected image. */
function world(): FakeWorld & { running: string; newer: string; old: string; rejected: string } {
  const web = serviceConfig("web", { keepImages: 2, minAgeDays: 7, failedImageDays: 2 }, [
    "web-team@example.com",
  ]);
  const running = image("web", { ageDays: 10 });
  const newer = image("web", { ageDays: 20 });
  const old = image("web", { ageDays: 30 });
  const rejected = image("web", { ageDays: 5, status: "rejected" });
  return {
    configs: [web],
    images: [running, newer, old, rejected],
    scan: scanFor([web], { web: running.imageId }),
    running: running.imageId,
    newer: newer.imageId,
    old: old.imageId,
    rejected: rejected.imageId,
  };
}

describe("runPrune", () => {
  it("lists what would go in a dry run, deletes nothing, records and notifies the preview", async () => {
    const w = world();
    const { deps, removed, recorded, sent } = fakeDeps(w);
    const run = await runPrune(deps, { dryRun: true, trigger: { kind: "api", by: "ops@example.com" } });
    expect(removed).toEqual([]);
    expect(run.outcome).toBe("COMPLETED");
    expect(run.removals.map((removal) => [removal.imageId, removal.status])).toEqual(
      [
        [w.old, "planned"],
        [w.rejected, "planned"],
      ].sort(),
    );
    expect(run.kept.map((kept) => kept.imageId).sort()).toEqual([w.running, w.newer].sort());
    expect(recorded).toEqual([run]);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.kind).toBe("PRUNED");
    expect(sent[0]?.title).toBe("Image prune preview: 2 images would be removed");
    // Nothing was removed, so no team is emailed about it.
    expect(sent[0]?.emails).toEqual([]);
  });

  it("removes the selected images in a live run and records removed and kept images with reasons", async () => {
    const w = world();
    const { deps, removed, recorded, sent } = fakeDeps(w);
    const run = await runPrune(deps, { dryRun: false, trigger: schedule });
    expect(removed.sort()).toEqual([w.old, w.rejected].sort());
    expect(run.counts).toEqual({
      images: 4,
      selected: 2,
      removed: 2,
      snapshotsDeleted: 2,
      kept: 2,
      errors: 0,
    });
    expect(run.kept.find((kept) => kept.imageId === w.running)?.reasons.map((reason) => reason.code)).toEqual(
      ["referenced", "newest"],
    );
    expect(run.kept.find((kept) => kept.imageId === w.newer)?.reasons.map((reason) => reason.code)).toEqual([
      "newest",
    ]);
    expect(recorded[0]?.removals.every((removal) => removal.status === "removed")).toBe(true);
    expect(sent[0]?.title).toBe("Image prune: 2 images removed");
    expect(sent[0]?.emails).toEqual(["web-team@example.com"]);
  });

  it("removes nothing on a second run", async () => {
    const w = world();
    const { deps, removed } = fakeDeps(w);
    await runPrune(deps, { dryRun: false, trigger: schedule });
    const second = await runPrune(deps, { dryRun: false, trigger: schedule });
    expect(second.removals).toEqual([]);
    expect(removed).toHaveLength(2);
  });

  it("keeps the images pinned in the service's state and those of its active and queued deployments", async () => {
    const w = world();
    const baking = deployment("d-0000000000000000000baking", { status: "BAKING", imageId: w.rejected });
    const queued = deployment("d-0000000000000000000queued", { status: "QUEUED" });
    const { deps, removed } = fakeDeps({
      ...w,
      states: {
        web: {
          lastKnownGood: { imageId: w.old, deploymentId: "d-x", pinnedAt: now.toISOString() },
          activeDeploymentId: baking.id,
          queuedDeploymentId: queued.id,
        },
      },
      deployments: [baking, queued],
    });
    const run = await runPrune(deps, { dryRun: false, trigger: schedule });
    expect(removed).toEqual([]);
    expect(run.kept.find((kept) => kept.imageId === w.old)?.reasons).toEqual([
      { code: "pinned", detail: "last-known-good of web" },
    ]);
    expect(run.kept.find((kept) => kept.imageId === w.rejected)?.reasons[0]).toEqual({
      code: "in-flight",
      detail: `deployment ${baking.id} (BAKING) of web`,
    });
  });

  it("re-reads pins right before deleting and keeps an image pinned while the scan ran", async () => {
    const w = world();
    const fake = fakeDeps(w);
    let reads = 0;
    fake.deps.services.getState = async (service) => {
      reads += 1;
      // The first read is the scan's; by the second, a rollback has pinned the old image.
      return reads === 1
        ? { service }
        : { service, lastKnownGood: { imageId: w.old, deploymentId: "d-x", pinnedAt: now.toISOString() } };
    };
    const run = await runPrune(fake.deps, { dryRun: false, trigger: schedule });
    expect(fake.removed).toEqual([w.rejected]);
    expect(run.kept.find((kept) => kept.imageId === w.old)?.reasons[0]?.code).toBe("pinned");
  });

  it.each([["listConfigs"], ["listManaged"], ["scan"], ["getState"], ["get"]] as const)(
    "aborts without deleting anything when %s fails, and records and notifies why",
    async (failing) => {
      const w = world();
      const active = deployment("d-0000000000000000000active", { status: "ROLLING" });
      const fake = fakeDeps({
        ...w,
        states: { web: { activeDeploymentId: active.id } },
        deployments: [active],
      });
      fake.failures[failing] = new TransientAwsError("InternalError: try again");
      const attempt = runPrune(fake.deps, { dryRun: false, trigger: schedule });
      await expect(attempt).rejects.toBeInstanceOf(PruneAbortedError);
      expect(fake.removed).toEqual([]);
      expect(fake.recorded).toHaveLength(1);
      expect(fake.recorded[0]?.outcome).toBe("ABORTED");
      expect(fake.recorded[0]?.abortReasons.join(" ")).toContain(
        "TransientAwsError: InternalError: try again",
      );
      expect(fake.sent[0]?.title).toBe("Image prune aborted: nothing was deleted");
    },
  );

  it("aborts without deleting anything when the scan returns fewer references than the groups imply", async () => {
    const w = world();
    const scan = { ...w.scan, templateVersions: {} };
    const fake = fakeDeps({ ...w, scan });
    const error = await runPrune(fake.deps, { dryRun: false, trigger: schedule }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(PruneAbortedError);
    expect(error instanceof PruneAbortedError ? error.reasons : []).toContain(
      `launch template ${w.configs[0]?.group.launchTemplateId} of group "web-group" of web returned no versions`,
    );
    expect(fake.removed).toEqual([]);
    expect(fake.sent[0]?.fields.find((field) => field.label === "Aborted because")?.value).toContain(
      "returned no versions",
    );
  });

  it("removes at most the run's limit, oldest first, and keeps the rest as deferred", async () => {
    const w = world();
    const fake = fakeDeps(w);
    const run = await runPrune(fake.deps, { dryRun: false, trigger: schedule }, { maxRemovals: 1 });
    expect(fake.removed).toEqual([w.old]);
    expect(run.kept.find((kept) => kept.imageId === w.rejected)?.reasons).toEqual([
      { code: "deferred", detail: "over this run's limit of 1 removals" },
    ]);
  });

  it("starts no removal once the function is about to run out of time", async () => {
    const w = world();
    const fake = fakeDeps(w);
    const run = await runPrune(
      fake.deps,
      { dryRun: false, trigger: schedule },
      { timeLeftMs: () => 5_000, reserveMs: 30_000 },
    );
    expect(fake.removed).toEqual([]);
    expect(
      run.kept
        .filter((kept) => kept.reasons[0]?.code === "deferred")
        .map((kept) => kept.imageId)
        .sort(),
    ).toEqual([w.old, w.rejected].sort());
  });

  it("records a failed removal as an error and goes on with the others", async () => {
    const w = world();
    const fake = fakeDeps(w);
    const remove = fake.deps.inventory.remove.bind(fake.deps.inventory);
    fake.deps.inventory.remove = async (target) => {
      if (target.imageId === w.old) throw new Error("UnauthorizedOperation: not allowed");
      return remove(target);
    };
    const run = await runPrune(fake.deps, { dryRun: false, trigger: schedule });
    expect(run.outcome).toBe("COMPLETED_WITH_ERRORS");
    expect(fake.removed).toEqual([w.rejected]);
    expect(run.errors).toEqual([{ imageId: w.old, message: "Error: UnauthorizedOperation: not allowed" }]);
    expect(fake.sent[0]?.title).toBe("Image prune: 1 image removed, 1 error");
  });

  it("limits a run to one service", async () => {
    const w = world();
    const api = serviceConfig("api", { keepImages: 1, minAgeDays: 0 });
    const apiOld = image("api", { ageDays: 40 });
    const apiNew = image("api", { ageDays: 1 });
    const fake = fakeDeps({
      ...w,
      configs: [...w.configs, api],
      images: [...w.images, apiOld, apiNew],
      scan: scanFor([...w.configs, api], { web: w.running, api: apiNew.imageId }),
    });
    const run = await runPrune(fake.deps, { dryRun: false, service: "api", trigger: schedule });
    expect(fake.removed).toEqual([apiOld.imageId]);
    expect(run.service).toBe("api");
    expect(run.kept.map((kept) => kept.imageId)).toEqual([apiNew.imageId]);
  });

  it("refuses a run limited to a service that is not registered", async () => {
    const fake = fakeDeps(world());
    await expect(
      runPrune(fake.deps, { dryRun: true, service: "nope", trigger: schedule }),
    ).rejects.toBeInstanceOf(UnknownServiceError);
    expect(fake.recorded).toEqual([]);
  });
});
