/**
 * Which of Kiln's images a prune run removes, and why every other one stays. Pure: plain data in,
 * a decision out, so the safety rules can be checked exhaustively by property tests.
 *
 * Protections (referenced, pinned, in-flight, not settled, unknown service) are absolute: no
 * retention rule can override them. Retention then keeps each service's newest N deployed images
 * and anything younger than its minimum age; rejected and failed images get the shorter age.
 */
import { kilnTag } from "../deploy/tags.ts";
import type { ImageInfo } from "../ports.ts";
import type { ServiceConfig } from "../service-config.ts";
import type { KeepReason, KeptImage } from "./prune-run.ts";

export type Retention = ServiceConfig["retention"];

/** Something that launches or runs an image: a launch template version, an instance. */
export interface ImageReference {
  imageId: string;
  /** Where the reference was found, for people: `launch template lt-… version 3`, `instance i-…`. */
  source: string;
}

export interface ImagePin {
  imageId: string;
  service: string;
  pin: "last-known-good" | "previous-image";
}

/** A deployment that holds or waits for its service's lock, with every image it names. */
export interface InFlightDeployment {
  deploymentId: string;
  service: string;
  status: string;
  imageIds: string[];
}

export interface PruneInputs {
  /** Kiln-managed images, in any order, possibly listed twice across pages. */
  images: ImageInfo[];
  references: ImageReference[];
  pins: ImagePin[];
  inFlight: InFlightDeployment[];
  /** Retention of every registered service; images of any other service are kept. */
  retention: Record<string, Retention>;
  /** Consider only this service's images. */
  scope?: string | undefined;
}

export interface PruneCandidate {
  imageId: string;
  service: string;
  name: string;
  createdAt?: string | undefined;
  snapshotIds: string[];
  /** Why retention lets it go. */
  why: string;
}

export interface PruneSelection {
  remove: PruneCandidate[];
  keep: KeptImage[];
}

const dayMs = 24 * 60 * 60 * 1000;
const maxSourcesShown = 5;

type ImageClass = "deployed" | "rejected" | "failed" | "undeployed" | "unsettled";

function classify(image: ImageInfo): ImageClass {
  if (image.state === "failed" || image.state === "invalid") return "failed";
  if (image.state !== "available") return "unsettled";
  const status = image.tags[kilnTag.imageStatus];
  if (status === "rejected") return "rejected";
  if (status === "deployed") return "deployed";
  return "undeployed";
}

const classWords: Record<Exclude<ImageClass, "unsettled">, string> = {
  deployed: "deployed image",
  rejected: "rejected image",
  failed: "failed image",
  undeployed: "image never deployed",
};

function serviceOf(image: ImageInfo): string {
  return image.tags[kilnTag.service] ?? "";
}

function createdAtMs(image: ImageInfo): number | undefined {
  if (image.createdAt === undefined) return undefined;
  const ms = Date.parse(image.createdAt);
  return Number.isNaN(ms) ? undefined : ms;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One image per id; if pages disagree about an image, the choice does not depend on their order. */
function distinctImages(images: ImageInfo[]): ImageInfo[] {
  const byId = new Map<string, { image: ImageInfo; key: string }>();
  for (const image of images) {
    const key = JSON.stringify(image, Object.keys(image).sort());
    const seen = byId.get(image.imageId);
    if (seen === undefined || key < seen.key) byId.set(image.imageId, { image, key });
  }
  return [...byId.values()].map((entry) => entry.image).sort((a, b) => compareText(a.imageId, b.imageId));
}

function groupBy<T>(items: T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(keyOf(item), [...(groups.get(keyOf(item)) ?? []), item]);
  return groups;
}

function listSources(sources: string[]): string {
  const distinct = [...new Set(sources)].sort(compareText);
  const shown = distinct.slice(0, maxSourcesShown).join(", ");
  return distinct.length > maxSourcesShown ? `${shown} and ${distinct.length - maxSourcesShown} more` : shown;
}

/** The ids of each service's newest `keepImages` deployed images (newest first, ties by id). */
function newestDeployed(images: ImageInfo[], retention: Record<string, Retention>): Set<string> {
  const newest = new Set<string>();
  const deployed = images.filter(
    (image) => classify(image) === "deployed" && createdAtMs(image) !== undefined,
  );
  for (const [service, ofService] of groupBy(deployed, serviceOf)) {
    const keep = retention[service]?.keepImages;
    if (keep === undefined) continue;
    const ranked = [...ofService].sort(
      (a, b) => (createdAtMs(b) ?? 0) - (createdAtMs(a) ?? 0) || compareText(b.imageId, a.imageId),
    );
    for (const image of ranked.slice(0, keep)) newest.add(image.imageId);
  }
  return newest;
}

function formatDays(days: number): string {
  const rounded = Math.round(days * 10) / 10;
  return `${rounded} day${rounded === 1 ? "" : "s"}`;
}

/** Splits Kiln's images into those to remove and those to keep, each kept one with its reasons. */
export function selectImagesToPrune(inputs: PruneInputs, now: Date): PruneSelection {
  const images = distinctImages(inputs.images).filter(
    (image) => inputs.scope === undefined || serviceOf(image) === inputs.scope,
  );
  const referencedBy = groupBy(inputs.references, (reference) => reference.imageId);
  const pinnedAs = groupBy(inputs.pins, (pin) => pin.imageId);
  const inFlightByImage = new Map<string, InFlightDeployment[]>();
  for (const deployment of inputs.inFlight) {
    for (const imageId of new Set(deployment.imageIds))
      inFlightByImage.set(imageId, [...(inFlightByImage.get(imageId) ?? []), deployment]);
  }
  const inFlightById = groupBy(inputs.inFlight, (deployment) => deployment.deploymentId);
  const newest = newestDeployed(images, inputs.retention);

  const remove: PruneCandidate[] = [];
  const keep: KeptImage[] = [];
  for (const image of images) {
    const service = serviceOf(image);
    const reasons: KeepReason[] = [];

    const references = referencedBy.get(image.imageId);
    if (references)
      reasons.push({ code: "referenced", detail: `used by ${listSources(references.map((r) => r.source))}` });

    const pins = pinnedAs.get(image.imageId);
    if (pins)
      reasons.push({
        code: "pinned",
        detail: listSources(pins.map((pin) => `${pin.pin} of ${pin.service}`)),
      });

    // The image's own deployment tag covers the moment between CreateImage and the record naming it.
    const bakedBy = inFlightById.get(image.tags[kilnTag.deploymentId] ?? "") ?? [];
    const deployments = [...(inFlightByImage.get(image.imageId) ?? []), ...bakedBy];
    if (deployments.length > 0) {
      reasons.push({
        code: "in-flight",
        detail: listSources(
          deployments.map((d) => `deployment ${d.deploymentId} (${d.status}) of ${d.service}`),
        ),
      });
    }

    const kind = classify(image);
    if (kind === "unsettled") reasons.push({ code: "not-settled", detail: `image is ${image.state}` });

    const retention = inputs.retention[service];
    if (retention === undefined) {
      const detail = service === "" ? `no ${kilnTag.service} tag` : `service "${service}" is not registered`;
      reasons.push({ code: "unregistered-service", detail });
    }

    const created = createdAtMs(image);
    if (retention !== undefined && kind !== "unsettled") {
      if (newest.has(image.imageId)) {
        reasons.push({
          code: "newest",
          detail: `one of the ${retention.keepImages} newest deployed images of ${service}`,
        });
      }
      const failedKind = kind === "rejected" || kind === "failed";
      const keepDays = failedKind ? retention.failedImageDays : retention.minAgeDays;
      if (created === undefined) {
        reasons.push({
          code: "unknown-age",
          detail: `creation date ${JSON.stringify(image.createdAt ?? null)} cannot be read`,
        });
      } else if (now.getTime() - created < keepDays * dayMs) {
        const age = Math.max(0, now.getTime() - created) / dayMs;
        reasons.push({
          code: "young",
          detail: `${formatDays(age)} old; ${service} keeps ${classWords[kind]}s ${formatDays(keepDays)}`,
        });
      }
    }

    if (reasons.length > 0) {
      keep.push({ imageId: image.imageId, service, reasons });
      continue;
    }
    const kindWords = kind === "unsettled" ? "image" : classWords[kind];
    const age = formatDays((now.getTime() - (created ?? now.getTime())) / dayMs);
    const notNewest = kind === "deployed" ? `, not among the ${retention?.keepImages} newest deployed` : "";
    remove.push({
      imageId: image.imageId,
      service,
      name: image.name,
      createdAt: image.createdAt,
      snapshotIds: [...image.snapshotIds].sort(compareText),
      why: `${kindWords}, ${age} old${notNewest}, not referenced, pinned or in flight`,
    });
  }
  return { remove, keep };
}
