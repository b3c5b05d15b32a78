import { describe, expect, it } from "vitest";
import { kilnTag } from "../../../core/deploy/tags.ts";
import type { ImageInfo } from "../../../core/ports.ts";
import { type PruneInputs, selectImagesToPrune } from "../../../core/prune/selection.ts";
import { image, now, retention } from "./prune-fixtures.ts";

function select(images: ImageInfo[], extra: Partial<PruneInputs> = {}) {
  return selectImagesToPrune(
    { images, references: [], pins: [], inFlight: [], retention: { web: retention() }, ...extra },
    now,
  );
}

const removedIds = (result: ReturnType<typeof select>) => result.remove.map((candidate) => candidate.imageId);
const reasonsOf = (result: ReturnType<typeof select>, imageId: string) =>
  result.keep.find((kept) => kept.imageId === imageId)?.reasons.map((reason) => reason.code);

describe("selectImagesToPrune", () => {
  it("keeps the newest N deployed images of a service and removes older ones past the minimum age", () => {
    const images = [10, 20, 30, 40].map((ageDays) => image("web", { ageDays }));
    const result = select(images);
    expect(removedIds(result)).toEqual([images[2]?.imageId, images[3]?.imageId].sort());
    expect(reasonsOf(result, images[0]?.imageId ?? "")).toEqual(["newest"]);
    expect(reasonsOf(result, images[1]?.imageId ?? "")).toEqual(["newest"]);
  });

  it("keeps images younger than the minimum age even beyond the newest N", () => {
    const images = [1, 2, 3, 4].map((ageDays) => image("web", { ageDays }));
    const result = select(images);
    expect(result.remove).toEqual([]);
    expect(reasonsOf(result, images[3]?.imageId ?? "")).toEqual(["young"]);
  });

  it("removes rejected and failed images after the shorter failed-image retention", () => {
    const rejected = image("web", { status: "rejected", ageDays: 3 });
    const failed = image("web", { status: null, state: "failed", ageDays: 3 });
    const freshRejected = image("web", { status: "rejected", ageDays: 1 });
    const result = select([rejected, failed, freshRejected]);
    expect(removedIds(result)).toEqual([rejected.imageId, failed.imageId].sort());
    expect(reasonsOf(result, freshRejected.imageId)).toEqual(["young"]);
  });

  it("does not count rejected or never-deployed images among the newest N", () => {
    const deployed = [40, 50, 60].map((ageDays) => image("web", { ageDays }));
    const newerRejected = image("web", { status: "rejected", ageDays: 30 });
    const newerUndeployed = image("web", { status: null, ageDays: 30 });
    const result = select([...deployed, newerRejected, newerUndeployed]);
    expect(reasonsOf(result, deployed[0]?.imageId ?? "")).toEqual(["newest"]);
    expect(reasonsOf(result, deployed[1]?.imageId ?? "")).toEqual(["newest"]);
    expect(removedIds(result)).toEqual(
      [deployed[2]?.imageId, newerRejected.imageId, newerUndeployed.imageId].sort(),
    );
  });

  it("keeps a referenced image whatever its age or rank, naming every reference", () => {
    const old = image("web", { ageDays: 400, status: "rejected" });
    const newer = [1, 2].map((ageDays) => image("web", { ageDays }));
    const result = select([old, ...newer], {
      references: [
        { imageId: old.imageId, source: "instance i-2" },
        { imageId: old.imageId, source: "launch template lt-1 version 3" },
      ],
    });
    expect(result.remove).toEqual([]);
    const kept = result.keep.find((entry) => entry.imageId === old.imageId);
    expect(kept?.reasons).toEqual([
      { code: "referenced", detail: "used by instance i-2, launch template lt-1 version 3" },
    ]);
  });

  it("lists a referenced image's reasons with `referenced` first", () => {
    const young = image("web", { ageDays: 1 });
    const result = select([young], { references: [{ imageId: young.imageId, source: "instance i-1" }] });
    expect(reasonsOf(result, young.imageId)).toEqual(["referenced", "newest", "young"]);
  });

  it("keeps the last-known-good and the previous image", () => {
    const images = [10, 20, 30, 40].map((ageDays) => image("web", { ageDays }));
    const result = select(images, {
      pins: [
        { imageId: images[2]?.imageId ?? "", service: "web", pin: "last-known-good" },
        { imageId: images[3]?.imageId ?? "", service: "web", pin: "previous-image" },
      ],
    });
    expect(result.remove).toEqual([]);
    expect(result.keep.find((kept) => kept.imageId === images[3]?.imageId)?.reasons).toEqual([
      { code: "pinned", detail: "previous-image of web" },
    ]);
  });

  it("keeps images of in-flight deployments, by the record's image ids and by the image's own deployment tag", () => {
    const named = image("web", { ageDays: 90, status: null });
    const justBaked = image("web", {
      ageDays: 90,
      status: null,
      tags: { [kilnTag.deploymentId]: "d-baking" },
    });
    const result = select([named, justBaked, ...[1, 2].map((ageDays) => image("web", { ageDays }))], {
      inFlight: [
        { deploymentId: "d-rolling", service: "web", status: "ROLLING", imageIds: [named.imageId] },
        { deploymentId: "d-baking", service: "web", status: "BAKING", imageIds: [] },
      ],
    });
    expect(result.remove).toEqual([]);
    expect(reasonsOf(result, named.imageId)).toEqual(["in-flight"]);
    expect(result.keep.find((kept) => kept.imageId === justBaked.imageId)?.reasons[0]?.detail).toBe(
      "deployment d-baking (BAKING) of web",
    );
  });

  it("keeps images of unregistered services and images without a service tag", () => {
    const orphan = image("gone", { ageDays: 400 });
    const untagged = image("", { ageDays: 400 });
    const result = select([orphan, untagged]);
    expect(result.remove).toEqual([]);
    expect(result.keep.map((kept) => kept.reasons)).toEqual(
      [
        {
          id: orphan.imageId,
          reasons: [{ code: "unregistered-service", detail: 'service "gone" is not registered' }],
        },
        { id: untagged.imageId, reasons: [{ code: "unregistered-service", detail: "no kiln:service tag" }] },
      ]
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((entry) => entry.reasons),
    );
  });

  it("keeps images still being created and images whose age cannot be read", () => {
    const pending = image("web", { state: "pending", status: null, ageDays: 90 });
    const undated = image("web", { createdAt: undefined, status: "rejected" });
    const garbled = image("web", { createdAt: "yesterday", status: "rejected" });
    const result = select([pending, undated, garbled]);
    expect(result.remove).toEqual([]);
    expect(reasonsOf(result, pending.imageId)).toEqual(["not-settled"]);
    expect(reasonsOf(result, undated.imageId)).toEqual(["unknown-age"]);
    expect(reasonsOf(result, garbled.imageId)).toEqual(["unknown-age"]);
  });

  it("considers only the scoped service's images", () => {
    const web = image("web", { ageDays: 90, status: "rejected" });
    const api = image("api", { ageDays: 90, status: "rejected" });
    const result = select([web, api], { retention: { web: retention(), api: retention() }, scope: "api" });
    expect(removedIds(result)).toEqual([api.imageId]);
    expect(result.keep).toEqual([]);
  });

  it("decides once for an image listed twice", () => {
    const old = image("web", { ageDays: 90, status: "rejected" });
    const result = select([old, { ...old }]);
    expect(removedIds(result)).toEqual([old.imageId]);
  });

  it("says why an image goes and names its snapshots", () => {
    const old = image("web", { ageDays: 30, status: "rejected", snapshotIds: ["snap-b", "snap-a"] });
    const [candidate] = select([old]).remove;
    expect(candidate).toMatchObject({
      imageId: old.imageId,
      service: "web",
      snapshotIds: ["snap-a", "snap-b"],
    });
    expect(candidate?.why).toBe("rejected image, 30 days old, not referenced, pinned or in flight");
  });
});
