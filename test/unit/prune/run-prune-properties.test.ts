/**
 * Properties of a whole prune run over random fleets: launch templates with many versions,
 * groups on `$Latest`, `$Default` or a number, instances in every state, pins and deployment
 * histories. Nothing in use is ever deleted, and a failed or short look-up deletes nothing.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { kilnTag } from "../../../core/deploy/tags.ts";
import { type Deployment, deploymentSchema } from "../../../core/deployment.ts";
import { PruneAbortedError, TransientAwsError } from "../../../core/errors.ts";
import type { ImageInfo, InstanceState, ReferenceScan, ServiceState } from "../../../core/ports.ts";
import { runPrune } from "../../../core/prune/run-prune.ts";
import type { ServiceConfig } from "../../../core/service-config.ts";
import { type FakeWorld, fakeDeps, image, now, serviceConfig } from "./prune-fixtures.ts";

const services = ["web", "api", "worker"] as const;
const instanceStates: InstanceState[] = [
  "pending",
  "running",
  "stopping",
  "stopped",
  "shutting-down",
  "terminated",
];

interface RandomFleet extends FakeWorld {
  states: Record<string, Omit<ServiceState, "service">>;
  deployments: Deployment[];
}

const deploymentIdOf = (index: number) => `d-${String(index).padStart(22, "0")}`;

const fleetArb: fc.Arbitrary<RandomFleet> = fc
  .record({
    retention: fc.array(
      fc.record({
        keepImages: fc.integer({ min: 1, max: 4 }),
        minAgeDays: fc.integer({ min: 0, max: 20 }),
        failedImageDays: fc.integer({ min: 0, max: 5 }),
      }),
      { minLength: 3, maxLength: 3 },
    ),
    images: fc.array(
      fc.record({
        service: fc.constantFrom(...services, "ghost"),
        status: fc.constantFrom("deployed" as const, "rejected" as const, null),
        ageDays: fc.integer({ min: 0, max: 60 }),
        bakedBy: fc.option(fc.integer({ min: 0, max: 25 }), { nil: undefined, freq: 5 }),
      }),
      { minLength: 1, maxLength: 40 },
    ),
  })
  .chain(({ retention, images: imageFields }) => {
    const configs: ServiceConfig[] = services.map((name, index) => serviceConfig(name, retention[index]));
    const images: ImageInfo[] = imageFields.map((fields) =>
      image(fields.service, {
        status: fields.status,
        ageDays: fields.ageDays,
        tags: fields.bakedBy === undefined ? {} : { [kilnTag.deploymentId]: deploymentIdOf(fields.bakedBy) },
      }),
    );
    const anyImage = fc.constantFrom(...images.map((entry) => entry.imageId), "ami-0000000000000ba5e");
    const group = fc.record({
      versions: fc.array(anyImage, { minLength: 1, maxLength: 6 }),
      named: fc.constantFrom("$Latest", "$Default", "number"),
      defaultIndex: fc.nat(),
      currentIndex: fc.nat(),
      instances: fc.array(fc.record({ imageId: anyImage, state: fc.constantFrom(...instanceStates) }), {
        maxLength: 3,
      }),
    });
    const state = fc.record({
      lastKnownGood: fc.option(anyImage, { nil: undefined }),
      previousImage: fc.option(anyImage, { nil: undefined }),
      active: fc.option(
        fc.record({
          index: fc.integer({ min: 0, max: 5 }),
          imageId: fc.option(anyImage, { nil: undefined }),
          previousImageId: fc.option(anyImage, { nil: undefined }),
        }),
        { nil: undefined },
      ),
      queued: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    });
    return fc
      .record({
        groups: fc.array(group, { minLength: 3, maxLength: 3 }),
        states: fc.array(state, { minLength: 3, maxLength: 3 }),
        strays: fc.array(fc.record({ imageId: anyImage, state: fc.constantFrom(...instanceStates) }), {
          maxLength: 5,
        }),
      })
      .map(({ groups, states, strays }): RandomFleet => {
        const scan: ReferenceScan = { groups: [], templateVersions: {}, instances: [] };
        configs.forEach((config, index) => {
          const spec = groups[index];
          if (!spec) return;
          const templateId = config.group.launchTemplateId;
          const defaultIndex = spec.defaultIndex % spec.versions.length;
          scan.templateVersions[templateId] = spec.versions.map((imageId, position) => ({
            launchTemplateId: templateId,
            versionNumber: position + 1,
            isDefault: position === defaultIndex,
            imageId,
          }));
          const version =
            spec.named === "number" ? String((spec.currentIndex % spec.versions.length) + 1) : spec.named;
          const instanceIds = spec.instances.map((_, position) => `i-${config.name}-${position}`);
          scan.groups.push({
            groupName: config.group.name,
            launchTemplates: [{ launchTemplateId: templateId, version }],
            instanceIds,
          });
          for (const [position, instance] of spec.instances.entries()) {
            scan.instances.push({ instanceId: `i-${config.name}-${position}`, ...instance });
          }
        });
        for (const [position, instance] of strays.entries()) {
          scan.instances.push({ instanceId: `i-stray-${position}`, ...instance });
        }

        const deployments: Deployment[] = [];
        const serviceStates: RandomFleet["states"] = {};
        services.forEach((service, index) => {
          const spec = states[index];
          if (!spec) return;
          const entry: Omit<ServiceState, "service"> = {};
          if (spec.lastKnownGood)
            entry.lastKnownGood = {
              imageId: spec.lastKnownGood,
              deploymentId: "d-pinned",
              pinnedAt: now.toISOString(),
            };
          if (spec.previousImage)
            entry.previousImage = {
              imageId: spec.previousImage,
              deploymentId: "d-before",
              pinnedAt: now.toISOString(),
            };
          if (spec.active) {
            // Deployment ids are unique across services: 10 per service.
            const id = deploymentIdOf(index * 10 + spec.active.index);
            entry.activeDeploymentId = id;
            deployments.push(
              deploymentSchema.parse({
                id,
                service,
                status: "CANARY",
                trigger: { kind: "s3" },
                requestedAt: now.toISOString(),
                updatedAt: now.toISOString(),
                imageId: spec.active.imageId,
                previousImageId: spec.active.previousImageId,
              }),
            );
          }
          if (spec.queued !== undefined)
            entry.queuedDeploymentId = deploymentIdOf(index * 10 + 6 + spec.queued);
          serviceStates[service] = entry;
        });
        return { configs, images, scan, states: serviceStates, deployments };
      });
  });

/** Every image a fleet uses: what a run must never delete. */
function imagesInUse(fleet: RandomFleet): Set<string> {
  const inUse = new Set<string>();
  for (const versions of Object.values(fleet.scan.templateVersions))
    for (const version of versions) if (version.imageId) inUse.add(version.imageId);
  for (const instance of fleet.scan.instances)
    if (instance.state !== "terminated" && instance.imageId) inUse.add(instance.imageId);
  const holders = new Set<string>();
  for (const state of Object.values(fleet.states)) {
    if (state.lastKnownGood) inUse.add(state.lastKnownGood.imageId);
    if (state.previousImage) inUse.add(state.previousImage.imageId);
    if (state.activeDeploymentId) holders.add(state.activeDeploymentId);
    if (state.queuedDeploymentId) holders.add(state.queuedDeploymentId);
  }
  for (const deployment of fleet.deployments.filter((entry) => holders.has(entry.id))) {
    if (deployment.imageId) inUse.add(deployment.imageId);
    if (deployment.previousImageId) inUse.add(deployment.previousImageId);
  }
  for (const entry of fleet.images)
    if (holders.has(entry.tags[kilnTag.deploymentId] ?? "")) inUse.add(entry.imageId);
  return inUse;
}

describe("runPrune properties", () => {
  it("never deletes an image used by a template version, a live instance, a pin or a deployment holding or awaiting a lock", async () => {
    let removedTotal = 0;
    await fc.assert(
      fc.asyncProperty(fleetArb, async (fleet) => {
        const fake = fakeDeps(fleet);
        const run = await runPrune(fake.deps, { dryRun: false, trigger: { kind: "schedule" } });
        const inUse = imagesInUse(fleet);
        for (const imageId of fake.removed) expect(inUse.has(imageId)).toBe(false);
        expect(run.outcome).toBe("COMPLETED");
        removedTotal += fake.removed.length;
      }),
      { numRuns: 250 },
    );
    // The fleets are such that runs do delete: the property is not vacuously true.
    expect(removedTotal).toBeGreaterThan(0);
  });

  it("deletes nothing when any look-up fails", async () => {
    const failing = fc.constantFrom(
      "listConfigs" as const,
      "listManaged" as const,
      "scan" as const,
      "getState" as const,
      "get" as const,
    );
    await fc.assert(
      fc.asyncProperty(fleetArb, failing, async (fleet, which) => {
        const fake = fakeDeps(fleet);
        fake.failures[which] = new TransientAwsError(`${which} failed`);
        const outcome = await runPrune(fake.deps, { dryRun: false, trigger: { kind: "schedule" } }).catch(
          (error: unknown) => error,
        );
        // A look-up nobody needed (no deployment to read) may not fail the run; any that ran must abort it.
        if (!(outcome instanceof PruneAbortedError)) expect(which).toBe("get");
        else expect(fake.recorded[0]?.outcome).toBe("ABORTED");
        if (outcome instanceof PruneAbortedError) expect(fake.removed).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it("deletes nothing when the scan comes back short of what a managed group implies", async () => {
    const shortfall = fc.constantFrom("no-group" as const, "no-versions" as const, "no-instance" as const);
    await fc.assert(
      fc.asyncProperty(fleetArb, shortfall, fc.constantFrom(...services), async (fleet, kind, service) => {
        const config = fleet.configs.find((entry) => entry.name === service);
        if (!config) return;
        const group = fleet.scan.groups.find((entry) => entry.groupName === config.group.name);
        const scan: ReferenceScan = {
          groups:
            kind === "no-group" ? fleet.scan.groups.filter((entry) => entry !== group) : fleet.scan.groups,
          templateVersions:
            kind === "no-versions"
              ? { ...fleet.scan.templateVersions, [config.group.launchTemplateId]: [] }
              : fleet.scan.templateVersions,
          instances:
            kind === "no-instance"
              ? fleet.scan.instances.filter((entry) => !group?.instanceIds.includes(entry.instanceId))
              : fleet.scan.instances,
        };
        // A group without instances has nothing to lose from the listing.
        if (kind === "no-instance" && (group?.instanceIds.length ?? 0) === 0) return;
        const fake = fakeDeps({ ...fleet, scan });
        await expect(
          runPrune(fake.deps, { dryRun: false, trigger: { kind: "schedule" } }),
        ).rejects.toBeInstanceOf(PruneAbortedError);
        expect(fake.removed).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
