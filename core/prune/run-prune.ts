/**
 * The prune use case: read everything that may use an image, decide, delete, record, tell people.
 *
 * Every look-up happens before the first deletion, and any failure or shortfall aborts the whole
 * run with nothing deleted (docs/decisions/0006-prune-safety.md). Pins and deployments are read
 * a second time right before deleting, so a deployment that started during the scan is seen.
 */
import { randomBytes } from "node:crypto";
import { PruneAbortedError, UnknownServiceError } from "../errors.ts";
import type {
  Clock,
  DeploymentHistory,
  ImageInfo,
  ImageInventory,
  Notifier,
  PruneAudit,
  ReferenceScanner,
  ServiceRegistry,
} from "../ports.ts";
import type { ServiceConfig } from "../service-config.ts";
import { pruneNotification } from "./prune-notification.ts";
import type { ImageRemovalRecord, KeptImage, PruneRun, PruneTrigger } from "./prune-run.ts";
import { collectReferences, type ManagedGroup } from "./reference-check.ts";
import {
  type ImagePin,
  type InFlightDeployment,
  type PruneCandidate,
  selectImagesToPrune,
} from "./selection.ts";

export interface PruneDeps {
  services: Pick<ServiceRegistry, "listConfigs" | "getState">;
  history: Pick<DeploymentHistory, "get">;
  inventory: ImageInventory;
  scanner: ReferenceScanner;
  audit: PruneAudit;
  notifier: Notifier;
  clock: Clock;
  dashboardUrl?: string | undefined;
}

export interface PruneRequest {
  /** List what would go, delete nothing. */
  dryRun: boolean;
  /** Prune only this service's images (references are still read for every managed group). */
  service?: string | undefined;
  trigger: PruneTrigger;
}

export interface PruneLimits {
  /** At most this many images are removed per run, oldest first; the rest wait for the next run. */
  maxRemovals: number;
  /** Removals started at once. */
  concurrency: number;
  /** Milliseconds left before the function is stopped; no removal starts within `reserveMs` of it. */
  timeLeftMs: () => number;
  reserveMs: number;
}

export const defaultPruneLimits: PruneLimits = {
  maxRemovals: 500,
  concurrency: 4,
  timeLeftMs: () => Number.POSITIVE_INFINITY,
  reserveMs: 30_000,
};

interface Protections {
  pins: ImagePin[];
  inFlight: InFlightDeployment[];
}

/** `pr-<utc time>-<random>`: sortable by time, unique per run. */
export function newPruneRunId(at: Date): string {
  const time = at
    .toISOString()
    .replace(/\.\d+Z$/, "")
    .replace(/[-:]/g, "")
    .replace("T", "-");
  return `pr-${time}-${randomBytes(4).toString("hex")}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Each service's pinned images, and every deployment holding or waiting for its lock. */
async function readProtections(
  deps: Pick<PruneDeps, "services" | "history">,
  configs: ServiceConfig[],
): Promise<Protections> {
  const perService = await Promise.all(
    configs.map(async ({ name: service }) => {
      const state = await deps.services.getState(service);
      const pins: ImagePin[] = [];
      if (state.lastKnownGood)
        pins.push({ imageId: state.lastKnownGood.imageId, service, pin: "last-known-good" });
      if (state.previousImage)
        pins.push({ imageId: state.previousImage.imageId, service, pin: "previous-image" });
      const ids = [state.activeDeploymentId, state.queuedDeploymentId].filter(
        (id): id is string => id !== undefined,
      );
      const inFlight = await Promise.all(
        ids.map(async (deploymentId): Promise<InFlightDeployment> => {
          const deployment = await deps.history.get(deploymentId);
          const imageIds = [deployment?.imageId, deployment?.previousImageId].filter(
            (id): id is string => id !== undefined,
          );
          return { deploymentId, service, status: deployment?.status ?? "UNKNOWN", imageIds };
        }),
      );
      return { pins, inFlight };
    }),
  );
  return {
    pins: perService.flatMap((entry) => entry.pins),
    inFlight: perService.flatMap((entry) => entry.inFlight),
  };
}

interface Gathered {
  images: ImageInfo[];
  references: ReturnType<typeof collectReferences>["references"];
  protections: Protections;
}

/** Reads images, references, pins and deployments; returns why the run must stop, if it must. */
async function gather(
  deps: PruneDeps,
  configs: ServiceConfig[],
): Promise<{ gathered?: Gathered; problems: string[]; imagesSeen: number }> {
  const groups: ManagedGroup[] = configs.map((config) => ({
    service: config.name,
    groupName: config.group.name,
    launchTemplateId: config.group.launchTemplateId,
  }));
  const [images, scan, protections] = await Promise.allSettled([
    deps.inventory.listManaged(),
    deps.scanner.scan(groups.map(({ groupName, launchTemplateId }) => ({ groupName, launchTemplateId }))),
    readProtections(deps, configs),
  ]);
  const problems: string[] = [];
  if (images.status === "rejected") problems.push(`listing images failed: ${messageOf(images.reason)}`);
  if (scan.status === "rejected")
    problems.push(`reading launch templates and instances failed: ${messageOf(scan.reason)}`);
  if (protections.status === "rejected")
    problems.push(`reading pins and deployments failed: ${messageOf(protections.reason)}`);
  const imagesSeen = images.status === "fulfilled" ? images.value.length : 0;
  if (images.status !== "fulfilled" || scan.status !== "fulfilled" || protections.status !== "fulfilled")
    return { problems, imagesSeen };
  const check = collectReferences(scan.value, groups);
  if (check.problems.length > 0) return { problems: check.problems, imagesSeen };
  return {
    gathered: { images: images.value, references: check.references, protections: protections.value },
    problems: [],
    imagesSeen,
  };
}

function byAge(a: PruneCandidate, b: PruneCandidate): number {
  return (a.createdAt ?? "").localeCompare(b.createdAt ?? "") || a.imageId.localeCompare(b.imageId);
}

/** Removes candidates a few at a time until done or out of time; what was not started is returned. */
async function removeAll(
  inventory: ImageInventory,
  candidates: PruneCandidate[],
  limits: PruneLimits,
): Promise<{ removals: ImageRemovalRecord[]; notStarted: PruneCandidate[] }> {
  const removals: ImageRemovalRecord[] = [];
  const queue = [...candidates];
  const notStarted: PruneCandidate[] = [];
  const worker = async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      if (limits.timeLeftMs() < limits.reserveMs) {
        notStarted.push(next, ...queue.splice(0));
        return;
      }
      const base = {
        imageId: next.imageId,
        service: next.service,
        name: next.name,
        createdAt: next.createdAt,
        why: next.why,
        snapshotIds: next.snapshotIds,
      };
      try {
        const removed = await inventory.remove({ imageId: next.imageId, snapshotIds: next.snapshotIds });
        const left = removed.keptSnapshots
          .map((snapshot) => `${snapshot.snapshotId} left: ${snapshot.reason}`)
          .join("; ");
        removals.push({
          ...base,
          status: "removed",
          deletedSnapshotIds: removed.deletedSnapshotIds,
          ...(left ? { detail: left } : {}),
        });
      } catch (error) {
        removals.push({ ...base, status: "failed", deletedSnapshotIds: [], detail: messageOf(error) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limits.concurrency) }, worker));
  return { removals: removals.sort((a, b) => a.imageId.localeCompare(b.imageId)), notStarted };
}

function deferred(candidates: PruneCandidate[], why: string): KeptImage[] {
  return candidates.map((candidate) => ({
    imageId: candidate.imageId,
    service: candidate.service,
    reasons: [{ code: "deferred", detail: why }],
  }));
}

/**
 * Runs one prune: a dry run lists what would go; a live run deletes it. Records and notifies every
 * run; throws PruneAbortedError (after recording it) when a look-up failed or came back short.
 */
export async function runPrune(
  deps: PruneDeps,
  request: PruneRequest,
  limitOverrides: Partial<PruneLimits> = {},
): Promise<PruneRun> {
  const limits = { ...defaultPruneLimits, ...limitOverrides };
  const startedAt = deps.clock.now();
  const runId = newPruneRunId(startedAt);
  let configs: ServiceConfig[] = [];
  let configsError: unknown;
  try {
    configs = await deps.services.listConfigs();
  } catch (error) {
    configsError = error;
  }
  if (
    configsError === undefined &&
    request.service !== undefined &&
    !configs.some((config) => config.name === request.service)
  ) {
    throw new UnknownServiceError(`service "${request.service}" is not registered`);
  }
  const base = {
    runId,
    startedAt: startedAt.toISOString(),
    trigger: request.trigger,
    dryRun: request.dryRun,
    service: request.service,
  };

  const finish = async (run: Omit<PruneRun, "endedAt">): Promise<PruneRun> => {
    const complete: PruneRun = { ...run, endedAt: deps.clock.now().toISOString() };
    let recordError: unknown;
    try {
      await deps.audit.record(complete);
    } catch (error) {
      recordError = error;
    }
    const told =
      recordError === undefined
        ? complete
        : {
            ...complete,
            errors: [
              ...complete.errors,
              { message: `the run could not be recorded: ${messageOf(recordError)}` },
            ],
          };
    await deps.notifier.send(pruneNotification(told, configs, deps.dashboardUrl));
    if (recordError !== undefined) throw recordError;
    return complete;
  };

  const abort = async (reasons: string[], imagesSeen: number): Promise<never> => {
    await finish({
      ...base,
      outcome: "ABORTED",
      abortReasons: reasons,
      counts: {
        images: imagesSeen,
        selected: 0,
        removed: 0,
        snapshotsDeleted: 0,
        kept: 0,
        errors: reasons.length,
      },
      errors: reasons.map((message) => ({ message })),
      removals: [],
      kept: [],
    });
    throw new PruneAbortedError(runId, reasons);
  };

  if (configsError !== undefined)
    return abort([`listing the registered services failed: ${messageOf(configsError)}`], 0);
  const { gathered, problems, imagesSeen } = await gather(deps, configs);
  if (!gathered) return abort(problems, imagesSeen);

  const retention = Object.fromEntries(configs.map((config) => [config.name, config.retention]));
  const select = (protections: Protections) =>
    selectImagesToPrune(
      {
        images: gathered.images,
        references: gathered.references,
        ...protections,
        retention,
        scope: request.service,
      },
      startedAt,
    );
  let selection = select(gathered.protections);

  if (!request.dryRun && selection.remove.length > 0) {
    // A deployment may have started, or pinned an image, while the scan ran.
    let fresh: Protections;
    try {
      fresh = await readProtections(deps, configs);
    } catch (error) {
      return abort(
        [`re-reading pins and deployments before deleting failed: ${messageOf(error)}`],
        imagesSeen,
      );
    }
    selection = select({
      pins: [...gathered.protections.pins, ...fresh.pins],
      inFlight: [...gathered.protections.inFlight, ...fresh.inFlight],
    });
  }

  const ordered = [...selection.remove].sort(byAge);
  const thisRun = ordered.slice(0, limits.maxRemovals);
  const overLimit = deferred(
    ordered.slice(limits.maxRemovals),
    `over this run's limit of ${limits.maxRemovals} removals`,
  );

  let removals: ImageRemovalRecord[];
  let outOfTime: KeptImage[] = [];
  if (request.dryRun) {
    removals = thisRun.map((candidate) => ({
      ...candidate,
      status: "planned" as const,
      deletedSnapshotIds: [],
    }));
  } else {
    const result = await removeAll(deps.inventory, thisRun, limits);
    removals = result.removals;
    outOfTime = deferred(result.notStarted, "the run ran out of time before reaching it");
  }

  const kept = [...selection.keep, ...overLimit, ...outOfTime].sort((a, b) =>
    a.imageId.localeCompare(b.imageId),
  );
  const errors = removals
    .filter((removal) => removal.status === "failed")
    .map((removal) => ({ imageId: removal.imageId, message: removal.detail ?? "failed" }));
  const removedCount = removals.filter((removal) => removal.status === "removed").length;
  return finish({
    ...base,
    outcome: errors.length > 0 ? "COMPLETED_WITH_ERRORS" : "COMPLETED",
    abortReasons: [],
    counts: {
      images: selection.keep.length + selection.remove.length,
      selected: removals.length,
      removed: removedCount,
      snapshotsDeleted: removals.reduce((sum, removal) => sum + removal.deletedSnapshotIds.length, 0),
      kept: kept.length,
      errors: errors.length,
    },
    errors,
    removals,
    kept,
  });
}
