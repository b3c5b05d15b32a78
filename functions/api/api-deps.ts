/** What the operator API's routes read and change through, built once per cold start. */
import type { ArtifactLimits } from "../../core/artifact-inspection.ts";
import type {
  ArtifactStore,
  ArtifactUploads,
  Clock,
  DeploymentHistory,
  GroupInstances,
  ImageCatalog,
  Notifier,
  ScalingGroups,
  ServiceImages,
  ServiceRegistry,
  WorkflowStarter,
} from "../../core/ports.ts";
import type { PruneDeps } from "../../core/prune/run-prune.ts";
import { artifactLimits, leaseMs, optionalEnv, requireEnv } from "../environment.ts";
import * as wire from "../wiring.ts";

export interface ApiDeps {
  history: DeploymentHistory;
  services: ServiceRegistry;
  workflow: WorkflowStarter;
  leaseMs: number;
  artifacts: ArtifactStore;
  uploads: ArtifactUploads;
  notifier: Notifier;
  clock: Clock;
  limits: ArtifactLimits;
  images: Pick<ImageCatalog, "describe">;
  serviceImages: ServiceImages;
  groupInstances: GroupInstances;
  groups: Pick<ScalingGroups, "describeGroup">;
  prune: PruneDeps;
  bucket: string;
  /** Upload URLs live five minutes: enough to start an upload, little use to anyone who finds one later. */
  uploadUrlSeconds: number;
  dashboardUrl?: string | undefined;
}

/** The API's dependencies from the function's environment. */
export function apiDepsFromEnvironment(): ApiDeps {
  const history = wire.history();
  const services = wire.services();
  const notifier = wire.notifier();
  const clock = wire.clock();
  const dashboardUrl = optionalEnv("KILN_DASHBOARD_URL");
  return {
    history,
    services,
    workflow: wire.workflow(),
    leaseMs: leaseMs(),
    artifacts: wire.artifacts(),
    uploads: wire.artifactUploads(),
    notifier,
    clock,
    limits: artifactLimits(),
    images: wire.images(),
    serviceImages: wire.serviceImages(),
    groupInstances: wire.groupInstances(),
    groups: wire.groups(),
    prune: {
      services,
      history,
      inventory: wire.imageInventory(),
      scanner: wire.referenceScanner(),
      audit: wire.pruneAudit(),
      notifier,
      clock,
      dashboardUrl,
    },
    bucket: requireEnv("KILN_ARTIFACT_BUCKET"),
    uploadUrlSeconds: 300,
    dashboardUrl,
  };
}
