/**
 * Image pruning end to end on the local cloud: over 200 images of several services, some in use
 * by a serving group, by launch template versions that are not the current one, by a standalone
 * instance, pinned, or part of a deployment in flight. A run with a failing look-up deletes
 * nothing; a dry run lists exactly what a live run then removes, snapshots included; the group
 * keeps serving; aged images go once they are old enough; a second run removes nothing.
 */
import { UpdateAutoScalingGroupCommand } from "@aws-sdk/client-auto-scaling";
import {
  CreateImageCommand,
  CreateLaunchTemplateVersionCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
  RunInstancesCommand,
  StopInstancesCommand,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoPruneAudit } from "../../core/aws/dynamo-prune-audit.ts";
import { kilnTag } from "../../core/deploy/tags.ts";
import { deploymentSchema } from "../../core/deployment.ts";
import { type PruneRun, pruneRunSummarySchema } from "../../core/prune/prune-run.ts";
import { runPrune } from "../../core/prune/run-prune.ts";
import { serviceConfigSchema } from "../../core/service-config.ts";
import * as wire from "../../functions/wiring.ts";
import { listSlackMessages } from "../../local/notification-sinks/slack-webhook.ts";
import { type KilnCloud, startKilnCloud } from "../support/kiln-cloud.ts";

let kiln: KilnCloud;
let audit: DynamoPruneAudit;

type Status = "deployed" | "rejected" | undefined;

/** The images the test made, by service, in creation order (so newest last). */
const made: Record<string, Array<{ imageId: string; status: Status }>> = {};
let alphaDeployed = "";
let unmanaged: string[] = [];
const protectedIds: Record<string, string> = {};
let inFlightDeploymentId = "";

const retention = {
  alpha: { keepImages: 3, minAgeDays: 0, failedImageDays: 0 },
  beta: { keepImages: 5, minAgeDays: 0, failedImageDays: 0 },
  gamma: { keepImages: 2, minAgeDays: 7, failedImageDays: 2 },
};

async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms`);
}

async function instanceState(instanceId: string): Promise<string | undefined> {
  const result = await kiln.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return result.Reservations?.[0]?.Instances?.[0]?.State?.Name;
}

async function launch(imageId: string): Promise<string> {
  const result = await kiln.ec2.send(
    new RunInstancesCommand({ ImageId: imageId, InstanceType: "t3.micro", MinCount: 1, MaxCount: 1 }),
  );
  const instanceId = result.Instances?.[0]?.InstanceId ?? "";
  await waitUntil(`${instanceId} running`, async () =>
    (await instanceState(instanceId)) === "running" ? true : undefined,
  );
  return instanceId;
}

/** Every image of the account: id → its snapshot ids. */
async function allImages(): Promise<Map<string, string[]>> {
  const images = new Map<string, string[]>();
  let token: string | undefined;
  do {
    const page = await kiln.ec2.send(
      new DescribeImagesCommand({ Owners: ["self"], MaxResults: 1000, NextToken: token }),
    );
    for (const image of page.Images ?? []) {
      images.set(
        image.ImageId ?? "",
        (image.BlockDeviceMappings ?? []).flatMap((mapping) =>
          mapping.Ebs?.SnapshotId ? [mapping.Ebs.SnapshotId] : [],
        ),
      );
    }
    token = page.NextToken;
  } while (token);
  return images;
}

async function allSnapshots(): Promise<Set<string>> {
  const ids = new Set<string>();
  let token: string | undefined;
  do {
    const page = await kiln.ec2.send(
      new DescribeSnapshotsCommand({ OwnerIds: ["self"], MaxResults: 1000, NextToken: token }),
    );
    for (const snapshot of page.Snapshots ?? []) ids.add(snapshot.SnapshotId ?? "");
    token = page.NextToken;
  } while (token);
  return ids;
}

/** Creates one image of the stopped source instance per status, tagged as Kiln tags its bakes. */
async function bake(source: string, service: string, statuses: Status[], managed = true): Promise<string[]> {
  const ids: string[] = [];
  for (const status of statuses) {
    const tags = [
      ...(managed ? [{ Key: kilnTag.managed, Value: "true" }] : []),
      { Key: kilnTag.service, Value: service },
      ...(status ? [{ Key: kilnTag.imageStatus, Value: status }] : []),
    ];
    const result = await kiln.ec2.send(
      new CreateImageCommand({
        InstanceId: source,
        Name: `bulk-${service}-${managed ? "" : "unmanaged-"}${ids.length}`,
        NoReboot: true,
        TagSpecifications: [
          { ResourceType: "image", Tags: tags },
          { ResourceType: "snapshot", Tags: tags },
        ],
      }),
    );
    ids.push(result.ImageId ?? "");
  }
  if (managed)
    made[service] = [
      ...(made[service] ?? []),
      ...ids.map((imageId, index) => ({ imageId, status: statuses[index] })),
    ];
  return ids;
}

/** Every tenth image rejected, every tenth never deployed, the rest deployed. */
function statuses(count: number): Status[] {
  return Array.from({ length: count }, (_, index) =>
    index % 10 === 3 ? "rejected" : index % 10 === 7 ? undefined : "deployed",
  );
}

const nth = (service: string, index: number) => made[service]?.[index]?.imageId ?? "";

/** The newest `count` deployed images the test made for a service. */
function newestDeployed(service: string, count: number): string[] {
  return (made[service] ?? [])
    .filter((image) => image.status === "deployed")
    .slice(-count)
    .map((image) => image.imageId);
}

async function setRetention(service: string, fields: (typeof retention)[keyof typeof retention]) {
  const config = await kiln.services.getConfig(service);
  if (!config) throw new Error(`${service} is not registered`);
  await kiln.services.putConfig(serviceConfigSchema.parse({ ...config, retention: fields }));
}

/** The full record of the run a pruneImages invocation answered with. */
async function recorded(answer: unknown): Promise<PruneRun> {
  const { runId } = pruneRunSummarySchema.parse(answer);
  const run = await audit.get(runId);
  if (!run) throw new Error(`prune run ${runId} was not recorded`);
  return run;
}

beforeAll(async () => {
  kiln = await startKilnCloud();
  audit = new DynamoPruneAudit(kiln.cloud.env.KILN_TABLE_NAME ?? "kiln");

  // alpha: a real deployment, so a group serves from a Kiln image that is pinned and referenced.
  const deployment = await kiln.bootstrap("alpha", "hello-service", "1.0.0", 2);
  alphaDeployed = deployment.imageId ?? "";
  const { launchTemplateId: betaTemplate } = await kiln.registerService("beta");
  await kiln.registerService("gamma");
  for (const [service, fields] of Object.entries(retention)) await setRetention(service, fields);

  const source = await launch(kiln.cloud.baseImageId);
  await kiln.ec2.send(new StopInstancesCommand({ InstanceIds: [source] }));
  await waitUntil("source stopped", async () =>
    (await instanceState(source)) === "stopped" ? true : undefined,
  );
  await bake(source, "alpha", statuses(80));
  await bake(source, "beta", statuses(70));
  await bake(source, "gamma", statuses(60));
  await bake(source, "ghost", statuses(5));
  unmanaged = await bake(source, "alpha", statuses(5), false);
  await waitUntil("every image available", async () => {
    const pending = await kiln.ec2.send(
      new DescribeImagesCommand({ Owners: ["self"], Filters: [{ Name: "state", Values: ["pending"] }] }),
    );
    return (pending.Images ?? []).length === 0 ? true : undefined;
  });

  // alpha: an old image in a template version that is neither the default nor the group's.
  const alphaConfig = await kiln.services.getConfig("alpha");
  protectedIds.alphaTemplateVersion = nth("alpha", 6);
  await kiln.ec2.send(
    new CreateLaunchTemplateVersionCommand({
      LaunchTemplateId: alphaConfig?.group.launchTemplateId,
      SourceVersion: "1",
      LaunchTemplateData: { ImageId: protectedIds.alphaTemplateVersion },
    }),
  );
  // beta: the group runs template version 2; version 3 names another old image.
  protectedIds.betaCurrent = nth("beta", 4);
  protectedIds.betaOtherVersion = nth("beta", 9);
  for (const imageId of [protectedIds.betaCurrent, protectedIds.betaOtherVersion]) {
    await kiln.ec2.send(
      new CreateLaunchTemplateVersionCommand({
        LaunchTemplateId: betaTemplate,
        SourceVersion: "1",
        LaunchTemplateData: { ImageId: imageId },
      }),
    );
  }
  await kiln.autoScaling.send(
    new UpdateAutoScalingGroupCommand({
      AutoScalingGroupName: "beta",
      LaunchTemplate: { LaunchTemplateId: betaTemplate, Version: "2" },
    }),
  );
  // beta: a deployment holds the lock with an old image.
  protectedIds.betaInFlight = nth("beta", 14);
  const at = new Date().toISOString();
  const inFlight = deploymentSchema.parse({
    id: "d-prunee2einflightdeploy1",
    service: "beta",
    status: "BAKING",
    trigger: { kind: "api", by: "prune e2e" },
    requestedAt: at,
    updatedAt: at,
    imageId: protectedIds.betaInFlight,
  });
  inFlightDeploymentId = inFlight.id;
  await kiln.history.create(inFlight);
  await kiln.services.acquireLock("beta", inFlight.id, 3_600_000);
  // gamma: a previous image and a last-known-good, and an instance of another image outside any group.
  protectedIds.gammaPrevious = nth("gamma", 9);
  protectedIds.gammaLastKnownGood = nth("gamma", 19);
  for (const imageId of [protectedIds.gammaPrevious, protectedIds.gammaLastKnownGood]) {
    await kiln.services.pinLastKnownGood("gamma", {
      imageId,
      deploymentId: "d-prunee2epinnedimages01",
      pinnedAt: at,
    });
  }
  protectedIds.gammaInstance = nth("gamma", 2);
  await launch(protectedIds.gammaInstance);
}, 300_000);

afterAll(async () => {
  await kiln?.stop();
});

describe("image pruning on the local cloud", () => {
  it("starts from over 200 images across several services", async () => {
    const images = await allImages();
    expect(images.size).toBeGreaterThanOrEqual(220);
    expect(Object.values(made).flat().length).toBe(215);
  });

  it("aborts a run whose launch template look-up fails, deleting nothing and saying why", async () => {
    const before = await allImages();
    // More failures than the SDK's retries: the look-up fails for good.
    kiln.cloud.faults.add({
      operation: "ec2:DescribeLaunchTemplateVersions",
      kind: "fail",
      code: "InternalError",
      times: 10,
    });
    const failure = await kiln.cloud.functions.invoke("pruneImages", {}).catch((error: unknown) => error);
    kiln.cloud.faults.clear();

    expect(failure).toMatchObject({ name: "PruneAbortedError" });
    expect(await allImages()).toEqual(before);
    const [latest] = (await audit.list({ limit: 1 })).items;
    expect(latest?.outcome).toBe("ABORTED");
    expect(latest?.abortReasons.join(" ")).toContain("DescribeLaunchTemplateVersions");
    expect(latest?.counts.removed).toBe(0);
  });

  let planned: string[] = [];

  it("lists in a dry run what would go and why the rest stays, deleting nothing", async () => {
    const before = await allImages();
    const run = await recorded(await kiln.cloud.functions.invoke("pruneImages", { dryRun: true }));

    expect(await allImages()).toEqual(before);
    expect(run.outcome).toBe("COMPLETED");
    expect(run.dryRun).toBe(true);
    planned = run.removals.map((removal) => removal.imageId).sort();
    expect(run.removals.every((removal) => removal.status === "planned")).toBe(true);
    const reasons = (imageId: string) =>
      run.kept.find((kept) => kept.imageId === imageId)?.reasons.map((reason) => reason.code);
    expect(reasons(alphaDeployed)).toEqual(expect.arrayContaining(["referenced", "pinned"]));
    expect(reasons(protectedIds.alphaTemplateVersion ?? "")).toEqual(["referenced"]);
    expect(reasons(protectedIds.betaCurrent ?? "")).toEqual(["referenced"]);
    expect(reasons(protectedIds.betaOtherVersion ?? "")).toEqual(["referenced"]);
    expect(reasons(protectedIds.betaInFlight ?? "")).toEqual(["in-flight"]);
    expect(reasons(protectedIds.gammaLastKnownGood ?? "")).toEqual(["pinned", "young"]);
    expect(reasons(protectedIds.gammaInstance ?? "")).toEqual(["referenced", "young"]);
    expect(reasons(made.ghost?.[0]?.imageId ?? "")).toEqual(["unregistered-service"]);
    for (const imageId of unmanaged) expect(reasons(imageId)).toBeUndefined();
  });

  it("removes exactly those images and their snapshots, and the group keeps serving", async () => {
    const answersBefore = await kiln.answers("alpha");
    expect(answersBefore).toEqual(["hello from alpha 1.0.0", "hello from alpha 1.0.0"]);
    const before = await allImages();

    // The local scheduler runs the function as the CronV2 schedule does on AWS.
    await kiln.cloud.runPrune();
    const run = await recorded((await audit.list({ limit: 1 })).items[0]);

    const keptAlpha = new Set([
      ...newestDeployed("alpha", 3),
      alphaDeployed,
      protectedIds.alphaTemplateVersion,
    ]);
    const keptBeta = new Set([
      ...newestDeployed("beta", 5),
      protectedIds.betaCurrent,
      protectedIds.betaOtherVersion,
      protectedIds.betaInFlight,
    ]);
    const expected = [
      ...(made.alpha ?? []).filter((image) => !keptAlpha.has(image.imageId)),
      ...(made.beta ?? []).filter((image) => !keptBeta.has(image.imageId)),
    ]
      .map((image) => image.imageId)
      .sort();
    const removed = run.removals
      .filter((removal) => removal.status === "removed")
      .map((removal) => removal.imageId)
      .sort();
    expect(run.outcome).toBe("COMPLETED");
    expect(removed).toEqual(expected);
    expect(removed).toEqual(planned);
    expect(run.trigger.kind).toBe("schedule");

    const after = await allImages();
    const snapshots = await allSnapshots();
    for (const imageId of removed) {
      expect(after.has(imageId)).toBe(false);
      for (const snapshotId of before.get(imageId) ?? [])
        expect(snapshots.has(snapshotId), snapshotId).toBe(false);
    }
    expect(after.size).toBe(before.size - removed.length);
    for (const [imageId, snapshotIds] of after)
      for (const snapshotId of snapshotIds)
        expect(snapshots.has(snapshotId), `${imageId} ${snapshotId}`).toBe(true);
    expect(run.counts.snapshotsDeleted).toBe(
      removed.reduce((sum, imageId) => sum + (before.get(imageId)?.length ?? 0), 0),
    );

    expect(await kiln.answers("alpha")).toEqual(answersBefore);
    const group = await kiln.group("alpha");
    expect(
      group.instances.filter((instance) => instance.state === "InService" && instance.health === "Healthy"),
    ).toHaveLength(2);

    await kiln.cloud.settled();
    const messages = await listSlackMessages(kiln.cloud.stateDir);
    expect(JSON.stringify(messages.at(-1)?.message)).toContain(
      `Image prune: ${removed.length} images removed`,
    );
  });

  it("removes a service's images once they are older than its minimum age, keeping pins and images in use", async () => {
    const tenDaysLater = new Date(Date.now() + 10 * 86_400_000);
    const deps = {
      services: wire.services(),
      history: wire.history(),
      inventory: wire.imageInventory(),
      scanner: wire.referenceScanner(),
      audit,
      notifier: wire.notifier(),
      clock: { now: () => tenDaysLater },
    };
    const run = await runPrune(deps, {
      dryRun: false,
      service: "gamma",
      trigger: { kind: "api", by: "prune e2e" },
    });

    const keptGamma = new Set([
      ...newestDeployed("gamma", 2),
      protectedIds.gammaPrevious,
      protectedIds.gammaLastKnownGood,
      protectedIds.gammaInstance,
    ]);
    const expected = (made.gamma ?? [])
      .filter((image) => !keptGamma.has(image.imageId))
      .map((image) => image.imageId)
      .sort();
    expect(
      run.removals
        .filter((removal) => removal.status === "removed")
        .map((removal) => removal.imageId)
        .sort(),
    ).toEqual(expected);
    expect(run.kept.map((kept) => kept.imageId).sort()).toEqual([...keptGamma].sort());
    const after = await allImages();
    for (const imageId of keptGamma) expect(after.has(imageId ?? "")).toBe(true);
  });

  it("removes nothing on a second run", async () => {
    const before = await allImages();
    const run = await recorded(await kiln.cloud.functions.invoke("pruneImages", {}));
    expect(run.outcome).toBe("COMPLETED");
    expect(run.removals).toEqual([]);
    expect(await allImages()).toEqual(before);
    // Everything managed that is left is kept, each with a reason.
    expect(run.kept.length).toBe(run.counts.images);
    expect(run.kept.every((kept) => kept.reasons.length > 0)).toBe(true);
    const state = await kiln.services.getState("beta");
    expect(state.activeDeploymentId).toBe(inFlightDeploymentId);
  });
});
