/** Builders and in-memory ports for the prune tests. */
import { kilnTag } from "../../../core/deploy/tags.ts";
import type { Deployment } from "../../../core/deployment.ts";
import type {
  ImageInfo,
  ImageInventory,
  ImageRemoval,
  Notification,
  Notifier,
  ReferenceScan,
  ReferenceScanner,
  ServiceState,
} from "../../../core/ports.ts";
import type { PruneRun, PruneRunSummary } from "../../../core/prune/prune-run.ts";
import type { PruneDeps } from "../../../core/prune/run-prune.ts";
import type { Retention } from "../../../core/prune/selection.ts";
import { type ServiceConfig, serviceConfigSchema } from "../../../core/service-config.ts";

export const now = new Date("2030-06-15T12:00:00.000Z");
const dayMs = 86_400_000;

/** An ISO time `days` before `now`. */
export function daysAgo(days: number): string {
  return new Date(now.getTime() - days * dayMs).toISOString();
}

let counter = 0;

/** A Kiln image of `service`: available, deployed, 30 days old unless told otherwise. */
export function image(
  service: string,
  fields: Partial<Omit<ImageInfo, "tags">> & {
    status?: "deployed" | "rejected" | null;
    ageDays?: number;
    tags?: Record<string, string>;
  } = {},
): ImageInfo {
  counter += 1;
  const imageId = fields.imageId ?? `ami-${counter.toString(16).padStart(17, "0")}`;
  const status = fields.status === undefined ? "deployed" : fields.status;
  return {
    imageId,
    name: fields.name ?? `kiln-${service}-${imageId}`,
    state: fields.state ?? "available",
    createdAt: "createdAt" in fields ? fields.createdAt : daysAgo(fields.ageDays ?? 30),
    tags: {
      [kilnTag.managed]: "true",
      ...(service ? { [kilnTag.service]: service } : {}),
      ...(status ? { [kilnTag.imageStatus]: status } : {}),
      ...fields.tags,
    },
    snapshotIds: fields.snapshotIds ?? [`snap-${imageId.slice(4)}`],
  };
}

export function retention(fields: Partial<Retention> = {}): Retention {
  return { keepImages: 2, minAgeDays: 7, failedImageDays: 2, ...fields };
}

/** A registered service's config with the given retention. */
export function serviceConfig(
  name: string,
  fields: Partial<Retention> = {},
  emails: string[] = [],
): ServiceConfig {
  const hex = Buffer.from(name).toString("hex").padEnd(17, "0").slice(0, 17);
  return serviceConfigSchema.parse({
    name,
    group: { name: `${name}-group`, launchTemplateId: `lt-${hex}` },
    baseImageId: "ami-0000000000000ba5e",
    retention: retention(fields),
    notifications: { slack: true, emails },
  });
}

/** A scan in which each config's group launches version 1 of its template, running `imageOf[service]`. */
export function scanFor(configs: ServiceConfig[], imageOf: Record<string, string>): ReferenceScan {
  return {
    groups: configs.map((config) => ({
      groupName: config.group.name,
      launchTemplates: [{ launchTemplateId: config.group.launchTemplateId, version: "1" }],
      instanceIds: [`i-${config.name}`],
    })),
    templateVersions: Object.fromEntries(
      configs.map((config) => [
        config.group.launchTemplateId,
        [
          {
            launchTemplateId: config.group.launchTemplateId,
            versionNumber: 1,
            isDefault: true,
            imageId: imageOf[config.name],
          },
        ],
      ]),
    ),
    instances: configs.map((config) => ({
      instanceId: `i-${config.name}`,
      imageId: imageOf[config.name],
      state: "running" as const,
    })),
  };
}

export interface FakeWorld {
  configs: ServiceConfig[];
  images: ImageInfo[];
  scan: ReferenceScan;
  states?: Record<string, Omit<ServiceState, "service">>;
  deployments?: Deployment[];
}

/** In-memory ports over a world, recording what the use case did to it. */
export function fakeDeps(world: FakeWorld) {
  const removed: string[] = [];
  const recorded: PruneRun[] = [];
  const sent: Notification[] = [];
  const failures: Partial<
    Record<"listConfigs" | "getState" | "get" | "listManaged" | "scan" | "remove", Error>
  > = {};
  const failIf = (what: keyof typeof failures) => {
    const failure = failures[what];
    if (failure) throw failure;
  };
  const inventory: ImageInventory = {
    async listManaged() {
      failIf("listManaged");
      return world.images.filter((candidate) => !removed.includes(candidate.imageId));
    },
    async remove(target): Promise<ImageRemoval> {
      failIf("remove");
      removed.push(target.imageId);
      return {
        imageId: target.imageId,
        deregistered: true,
        deletedSnapshotIds: target.snapshotIds,
        keptSnapshots: [],
      };
    },
  };
  const scanner: ReferenceScanner = {
    async scan() {
      failIf("scan");
      return world.scan;
    },
  };
  const notifier: Notifier = {
    async send(notification) {
      sent.push(notification);
      return [];
    },
  };
  const deps: PruneDeps = {
    services: {
      async listConfigs() {
        failIf("listConfigs");
        return world.configs;
      },
      async getState(service) {
        failIf("getState");
        return { service, ...world.states?.[service] };
      },
    },
    history: {
      async get(id) {
        failIf("get");
        return world.deployments?.find((deployment) => deployment.id === id);
      },
    },
    inventory,
    scanner,
    audit: {
      async record(run) {
        recorded.push(run);
      },
      async get(runId) {
        return recorded.find((run) => run.runId === runId);
      },
      async list() {
        return { items: recorded.map((run): PruneRunSummary => run) };
      },
    },
    notifier,
    clock: { now: () => now },
  };
  return { deps, removed, recorded, sent, failures };
}
