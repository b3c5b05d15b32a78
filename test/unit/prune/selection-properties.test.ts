/**
 * Properties of the selection over random fleets: whatever the images, references, pins,
 * deployments and retention, nothing protected is selected, the newest N stay, and the decision
 * depends neither on the order images arrive in nor on how the inventory pages them.
 */
import { DescribeImagesCommand, type DescribeImagesCommandInput, EC2Client } from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Ec2ImageInventory } from "../../../core/aws/ec2-image-inventory.ts";
import { kilnTag } from "../../../core/deploy/tags.ts";
import type { ImageInfo } from "../../../core/ports.ts";
import { type PruneInputs, selectImagesToPrune } from "../../../core/prune/selection.ts";
import { now } from "./prune-fixtures.ts";

const registered = ["web", "api", "worker"] as const;
const deploymentIds = ["d-one", "d-two", "d-three"];
const hourMs = 3_600_000;

const imageFieldsArb = fc.record({
  service: fc.constantFrom("web", "api", "worker", "ghost", ""),
  status: fc.constantFrom("deployed", "deployed", "rejected", undefined),
  state: fc.constantFrom("available", "available", "available", "pending", "failed", "invalid"),
  // Hours old, to land on both sides of day-based limits; sometimes no date at all.
  ageHours: fc.option(fc.integer({ min: -2, max: 24 * 60 }), { nil: undefined, freq: 12 }),
  snapshots: fc.integer({ min: 0, max: 2 }),
  bakedBy: fc.option(fc.constantFrom(...deploymentIds), { nil: undefined, freq: 4 }),
});

const retentionArb = fc.record({
  keepImages: fc.integer({ min: 1, max: 6 }),
  minAgeDays: fc.integer({ min: 0, max: 30 }),
  failedImageDays: fc.integer({ min: 0, max: 10 }),
});

type ImageFields = typeof imageFieldsArb extends fc.Arbitrary<infer T> ? T : never;

function toImage(fields: ImageFields, id: number): ImageInfo {
  const imageId = `ami-${id.toString(16).padStart(17, "0")}`;
  return {
    imageId,
    name: `kiln-${imageId}`,
    state: fields.state,
    createdAt:
      fields.ageHours === undefined
        ? undefined
        : new Date(now.getTime() - fields.ageHours * hourMs).toISOString(),
    tags: {
      [kilnTag.managed]: "true",
      ...(fields.service ? { [kilnTag.service]: fields.service } : {}),
      ...(fields.status ? { [kilnTag.imageStatus]: fields.status } : {}),
      ...(fields.bakedBy ? { [kilnTag.deploymentId]: fields.bakedBy } : {}),
    },
    snapshotIds: Array.from({ length: fields.snapshots }, (_, index) => `snap-${id.toString(16)}-${index}`),
  };
}

const inputsArb: fc.Arbitrary<PruneInputs> = fc
  .uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), { maxLength: 60 })
  .chain((ids) =>
    fc.tuple(fc.constant(ids), fc.array(imageFieldsArb, { minLength: ids.length, maxLength: ids.length })),
  )
  .map(([ids, fields]) => fields.map((entry, index) => toImage(entry, ids[index] ?? 0)))
  .chain((images) => {
    const imageIds = images.map((entry) => entry.imageId);
    const someId = imageIds.length > 0 ? fc.constantFrom(...imageIds) : fc.constant("ami-00000000000000000");
    return fc.record({
      images: fc.constant(images),
      references: fc.array(
        fc.record({
          imageId: fc.oneof(someId, fc.constant("ami-0000000000000base")),
          source: fc.constantFrom("instance i-1", "launch template lt-1 version 4"),
        }),
        { maxLength: 10 },
      ),
      pins: fc.array(
        fc.record({
          imageId: someId,
          service: fc.constantFrom(...registered),
          pin: fc.constantFrom("last-known-good" as const, "previous-image" as const),
        }),
        { maxLength: 6 },
      ),
      inFlight: fc.array(
        fc.record({
          deploymentId: fc.constantFrom(...deploymentIds),
          service: fc.constantFrom(...registered),
          status: fc.constantFrom("BAKING", "CANARY", "ROLLING", "QUEUED"),
          imageIds: fc.array(someId, { maxLength: 2 }),
        }),
        { maxLength: 3 },
      ),
      retention: fc.record({ web: retentionArb, api: retentionArb, worker: retentionArb }),
      scope: fc.option(fc.constantFrom(...registered, "ghost"), { nil: undefined, freq: 3 }),
    });
  });

function createdMs(image: ImageInfo): number | undefined {
  const ms = image.createdAt === undefined ? Number.NaN : Date.parse(image.createdAt);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The newest N deployed, available, dated images of each registered service, computed independently. */
function newestDeployed(inputs: PruneInputs): Set<string> {
  const ids = new Set<string>();
  for (const service of registered) {
    const deployed = inputs.images
      .filter(
        (entry) => entry.tags[kilnTag.service] === service && entry.tags[kilnTag.imageStatus] === "deployed",
      )
      .filter((entry) => entry.state === "available" && createdMs(entry) !== undefined)
      .sort((a, b) => (createdMs(b) ?? 0) - (createdMs(a) ?? 0) || (b.imageId < a.imageId ? -1 : 1));
    for (const entry of deployed.slice(0, inputs.retention[service]?.keepImages ?? 0)) ids.add(entry.imageId);
  }
  return ids;
}

function shuffled<T>(items: T[], seed: number): T[] {
  const copy = [...items];
  let state = seed >>> 0 || 1;
  for (let index = copy.length - 1; index > 0; index -= 1) {
    state = (state * 1_103_515_245 + 12_345) >>> 0;
    const other = state % (index + 1);
    [copy[index], copy[other]] = [copy[other] as T, copy[index] as T];
  }
  return copy;
}

describe("selectImagesToPrune properties", () => {
  it("never selects an image that is referenced, pinned or part of an in-flight deployment", () => {
    fc.assert(
      fc.property(inputsArb, (inputs) => {
        const protectedIds = new Set([
          ...inputs.references.map((reference) => reference.imageId),
          ...inputs.pins.map((pin) => pin.imageId),
          ...inputs.inFlight.flatMap((deployment) => deployment.imageIds),
        ]);
        const inFlightIds = new Set(inputs.inFlight.map((deployment) => deployment.deploymentId));
        for (const candidate of selectImagesToPrune(inputs, now).remove) {
          expect(protectedIds.has(candidate.imageId)).toBe(false);
          const bakedBy = inputs.images.find((entry) => entry.imageId === candidate.imageId)?.tags[
            kilnTag.deploymentId
          ];
          expect(bakedBy !== undefined && inFlightIds.has(bakedBy)).toBe(false);
        }
      }),
      { numRuns: 400 },
    );
  });

  it("never selects an image younger than its minimum age, undated, unsettled or of an unregistered service", () => {
    fc.assert(
      fc.property(inputsArb, (inputs) => {
        for (const candidate of selectImagesToPrune(inputs, now).remove) {
          const source = inputs.images.find((entry) => entry.imageId === candidate.imageId);
          expect(source).toBeDefined();
          if (!source) continue;
          const retention = inputs.retention[source.tags[kilnTag.service] ?? ""];
          expect(retention).toBeDefined();
          expect(["available", "failed", "invalid"]).toContain(source.state);
          const failed = source.state !== "available" || source.tags[kilnTag.imageStatus] === "rejected";
          const keepDays = failed ? (retention?.failedImageDays ?? 0) : (retention?.minAgeDays ?? 0);
          const created = createdMs(source);
          expect(created).toBeDefined();
          expect(now.getTime() - (created ?? now.getTime())).toBeGreaterThanOrEqual(keepDays * 24 * hourMs);
        }
      }),
      { numRuns: 400 },
    );
  });

  it("always keeps the newest N deployed images of every service", () => {
    fc.assert(
      fc.property(inputsArb, (inputs) => {
        const newest = newestDeployed(inputs);
        const result = selectImagesToPrune(inputs, now);
        for (const candidate of result.remove) expect(newest.has(candidate.imageId)).toBe(false);
        for (const kept of result.keep.filter((entry) => newest.has(entry.imageId))) {
          expect(kept.reasons.map((reason) => reason.code)).toContain("newest");
        }
      }),
      { numRuns: 400 },
    );
  });

  it("decides about every image in scope exactly once, each kept one with a reason, `referenced` first", () => {
    fc.assert(
      fc.property(inputsArb, (inputs) => {
        const result = selectImagesToPrune(inputs, now);
        const inScope = inputs.images.filter(
          (entry) => inputs.scope === undefined || entry.tags[kilnTag.service] === inputs.scope,
        );
        const decided = [
          ...result.remove.map((entry) => entry.imageId),
          ...result.keep.map((entry) => entry.imageId),
        ];
        expect(decided.sort()).toEqual(inScope.map((entry) => entry.imageId).sort());
        const referenced = new Set(inputs.references.map((reference) => reference.imageId));
        for (const kept of result.keep) {
          expect(kept.reasons.length).toBeGreaterThan(0);
          if (referenced.has(kept.imageId)) expect(kept.reasons[0]?.code).toBe("referenced");
        }
      }),
      { numRuns: 300 },
    );
  });

  it("does not depend on the order of images, references, pins and deployments, nor on images listed twice", () => {
    fc.assert(
      fc.property(inputsArb, fc.integer(), (inputs, seed) => {
        const reordered: PruneInputs = {
          ...inputs,
          images: shuffled([...inputs.images, ...inputs.images.slice(0, Math.abs(seed) % 5)], seed),
          references: shuffled(inputs.references, seed + 1),
          pins: shuffled(inputs.pins, seed + 2),
          inFlight: shuffled(inputs.inFlight, seed + 3).map((deployment) => ({
            ...deployment,
            imageIds: shuffled(deployment.imageIds, seed),
          })),
        };
        expect(selectImagesToPrune(reordered, now)).toEqual(selectImagesToPrune(inputs, now));
      }),
      { numRuns: 300 },
    );
  });

  it("does not depend on the page size the inventory reads images with", async () => {
    await fc.assert(
      fc.asyncProperty(
        inputsArb,
        fc.integer({ min: 1, max: 25 }),
        fc.integer(),
        async (inputs, pageSize, seed) => {
          // The "server" lists in its own order and pages by position, as EC2 does.
          const listing = shuffled(inputs.images, seed);
          const ec2 = new EC2Client({ region: "us-east-1" });
          const mock = mockClient(ec2);
          mock.on(DescribeImagesCommand).callsFake((input: DescribeImagesCommandInput) => {
            const start = input.NextToken ? Number(input.NextToken) : 0;
            const size = input.MaxResults ?? 1000;
            const page = listing.slice(start, start + size).map((entry) => ({
              ImageId: entry.imageId,
              Name: entry.name,
              State: entry.state,
              CreationDate: entry.createdAt,
              Tags: Object.entries(entry.tags).map(([Key, Value]) => ({ Key, Value })),
              BlockDeviceMappings: entry.snapshotIds.map((SnapshotId) => ({
                DeviceName: "/dev/xvda",
                Ebs: { SnapshotId },
              })),
            }));
            return {
              Images: page,
              NextToken: start + size < listing.length ? String(start + size) : undefined,
            };
          });
          const images = await new Ec2ImageInventory(ec2, { pageSize }).listManaged();
          expect(mock.commandCalls(DescribeImagesCommand).length).toBe(
            Math.max(1, Math.ceil(listing.length / pageSize)),
          );
          expect(selectImagesToPrune({ ...inputs, images }, now)).toEqual(selectImagesToPrune(inputs, now));
          mock.restore();
        },
      ),
      { numRuns: 150 },
    );
  });
});
