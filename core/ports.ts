/**
 * What the domain needs from the outside world. Adapters in core/aws/ implement these with
 * AWS SDK v3; nothing here knows which cloud (or local cloud) answers.
 */
import type { Readable } from "node:stream";
import type { Deployment, DeploymentChanges, DeploymentStatus, StepName, StepRecord } from "./deployment.ts";
import type { ServiceConfig } from "./service-config.ts";

export interface Page<T> {
  items: T[];
  cursor?: string | undefined;
}

/** Deployment records, keyed by deployment id. */
export interface DeploymentHistory {
  /** Writes a new record; returns the existing one instead when the id is already taken. */
  create(deployment: Deployment): Promise<{ created: boolean; deployment: Deployment }>;
  get(id: string): Promise<Deployment | undefined>;
  /**
   * Moves a deployment to `status` (idempotent when it is already there) and applies `changes`;
   * a status that begins a step (`stepStartedBy`) records the step's start, once.
   * Throws InvalidTransitionError when its current status does not allow the move.
   */
  transition(
    id: string,
    status: DeploymentStatus,
    changes?: DeploymentChanges,
    note?: string,
  ): Promise<Deployment>;
  /**
   * Applies `changes` without a status change, in one write with `steps`: whole step records,
   * each kept only where its step has none yet.
   */
  update(
    id: string,
    changes: DeploymentChanges,
    steps?: Partial<Record<StepName, StepRecord>>,
  ): Promise<Deployment>;
  /** Records a step's start (once) or end. */
  markStep(
    id: string,
    step: StepName,
    phase: "start" | "end",
    details?: { cached?: boolean; note?: string },
  ): Promise<void>;
  listByService(
    service: string,
    options: { limit: number; cursor?: string | undefined },
  ): Promise<Page<Deployment>>;
  listRecent(options: { limit: number; cursor?: string | undefined }): Promise<Page<Deployment>>;
}

export interface PinnedImage {
  imageId: string;
  deploymentId: string;
  launchTemplateVersion?: string | undefined;
  pinnedAt: string;
}

/** A service's serialisation state: who holds the lock, who waits, which images are pinned. */
export interface ServiceState {
  service: string;
  activeDeploymentId?: string | undefined;
  leaseExpiresAt?: string | undefined;
  queuedDeploymentId?: string | undefined;
  lastKnownGood?: PinnedImage | undefined;
  previousImage?: PinnedImage | undefined;
}

/** Registered services and their locks, queues and pins (single-item conditional writes). */
export interface ServiceRegistry {
  getConfig(service: string): Promise<ServiceConfig | undefined>;
  putConfig(config: ServiceConfig): Promise<void>;
  listConfigs(): Promise<ServiceConfig[]>;
  getState(service: string): Promise<ServiceState>;
  /**
   * Takes the service's lock for `deploymentId` unless another live holder has it (re-taking it
   * is fine). Returns the service's state as the lock was taken, or undefined when it was not.
   */
  acquireLock(service: string, deploymentId: string, leaseMs: number): Promise<ServiceState | undefined>;
  /**
   * Makes `deploymentId` the queue head unless a newer request (by `requestedAt`) is already
   * there. Returns the id that will not run: the older head it displaced, or `deploymentId`
   * itself when it is the older one.
   */
  enqueue(
    service: string,
    deploymentId: string,
    requestedAt: string,
  ): Promise<{ displaced?: string | undefined }>;
  /** Moves the queue head into the lock when the lock is free or expired; returns the promoted id. */
  promoteQueued(service: string, leaseMs: number): Promise<string | undefined>;
  /** Removes `deploymentId` from the queue head if it is there. */
  dequeue(service: string, deploymentId: string): Promise<boolean>;
  /** Releases the lock if `deploymentId` holds it. */
  releaseLock(service: string, deploymentId: string): Promise<void>;
  /** Pins a new last-known-good image; the old one becomes the previous image. */
  pinLastKnownGood(service: string, image: PinnedImage): Promise<void>;
}

export interface ArtifactObject {
  bucket: string;
  key: string;
  size: number;
  etag?: string | undefined;
  versionId?: string | undefined;
}

export interface ArtifactStore {
  /** Metadata of an artifact object (of one version of it); undefined when it does not exist. */
  head(bucket: string, key: string, versionId?: string): Promise<ArtifactObject | undefined>;
  open(bucket: string, key: string, versionId?: string): Promise<Readable>;
  /** A short-lived GET URL the builder downloads the artifact with. */
  presignDownload(bucket: string, key: string, expiresSeconds: number, versionId?: string): Promise<string>;
}

export type InstanceRole = "builder" | "canary";

export type InstanceState = "pending" | "running" | "stopping" | "stopped" | "shutting-down" | "terminated";

export interface InstanceInfo {
  instanceId: string;
  state: InstanceState;
  privateIp?: string | undefined;
  launchedAt?: string | undefined;
  stateReason?: string | undefined;
}

export interface LaunchBuilderRequest {
  deploymentId: string;
  service: string;
  version: string;
  baseImageId: string;
  instanceType: string;
  subnetId?: string | undefined;
  securityGroupIds: string[];
  userData: string;
  tags: Record<string, string>;
}

export interface LaunchCanaryRequest {
  deploymentId: string;
  service: string;
  imageId: string;
  launchTemplateId: string;
  launchTemplateVersion: string;
  /** A subnet of the group: its launch template usually names none, the group supplies them. */
  subnetId?: string | undefined;
  tags: Record<string, string>;
}

/** Builder and canary instances, launched idempotently per deployment. */
export interface Fleet {
  launchBuilder(request: LaunchBuilderRequest): Promise<InstanceInfo>;
  launchCanary(request: LaunchCanaryRequest): Promise<InstanceInfo>;
  describe(instanceId: string): Promise<InstanceInfo | undefined>;
  consoleOutput(instanceId: string): Promise<string>;
  /** Every not-yet-terminated instance Kiln launched for a deployment, optionally of one role. */
  findForDeployment(deploymentId: string, role?: InstanceRole): Promise<InstanceInfo[]>;
  terminate(instanceIds: string[]): Promise<void>;
}

export type ImageState = "pending" | "available" | "failed" | "invalid" | "deregistered" | "other";

export interface ImageInfo {
  imageId: string;
  name: string;
  state: ImageState;
  stateReason?: string | undefined;
  createdAt?: string | undefined;
  tags: Record<string, string>;
  snapshotIds: string[];
}

export interface ImageCatalog {
  /** Creates an image from a stopped builder; a retry with the same name returns the same image. */
  createFromInstance(request: {
    instanceId: string;
    name: string;
    tags: Record<string, string>;
  }): Promise<string>;
  describe(imageId: string): Promise<ImageInfo | undefined>;
  /** An available, not rejected image baked from the same inputs. */
  findByCacheKey(cacheKey: string): Promise<ImageInfo | undefined>;
  tag(imageId: string, tags: Record<string, string>): Promise<void>;
}

export interface GroupInfo {
  name: string;
  launchTemplateId: string;
  /** The version exactly as the group names it: a number, `$Latest` or `$Default`. */
  launchTemplateVersion: string;
  desiredCapacity: number;
  /** The subnets the group launches into (its VPCZoneIdentifier). */
  subnetIds: string[];
}

export type RefreshStatus = "RUNNING" | "SUCCEEDED" | "ROLLING_BACK" | "ROLLED_BACK" | "FAILED";

export interface RefreshInfo {
  refreshId: string;
  status: RefreshStatus;
  percentComplete: number;
  reason?: string | undefined;
}

export interface RolloutPreferences {
  minHealthyPercentage: number;
  instanceWarmupSeconds: number;
  skipMatching: boolean;
  autoRollback: boolean;
}

/** Launch templates and the auto-scaling group a service runs in. */
export interface ScalingGroups {
  describeGroup(name: string): Promise<GroupInfo>;
  /** The number `$Latest` or `$Default` stands for in a launch template. */
  resolveTemplateVersion(launchTemplateId: string, version: string): Promise<string>;
  /** Creates a template version using `imageId`, based on `sourceVersion`; idempotent per token. */
  createTemplateVersion(request: {
    launchTemplateId: string;
    sourceVersion: string;
    imageId: string;
    description: string;
    clientToken: string;
  }): Promise<string>;
  /** Points the group at an exact template version. */
  setGroupTemplateVersion(groupName: string, launchTemplateId: string, version: string): Promise<void>;
  /** Starts a refresh towards `version`; adopts a refresh already running towards the same version. */
  startRefresh(request: {
    groupName: string;
    launchTemplateId: string;
    version: string;
    preferences: RolloutPreferences;
  }): Promise<string>;
  describeRefresh(groupName: string, refreshId: string): Promise<RefreshInfo>;
  /** Rolls back a refresh still in progress; false when there is none to roll back. */
  rollbackRefresh(groupName: string): Promise<boolean>;
}

export interface WorkflowStarter {
  /** Starts the deploy workflow named by the deployment id; a repeated start is not an error. */
  start(deploymentId: string, input: unknown): Promise<void>;
  /** Stops a running execution; false when it is not running. */
  stop(deploymentId: string, cause: string): Promise<boolean>;
}

/** A deploy workflow paused on a slow AWS operation, as the watcher registry keeps it. */
export interface Watcher {
  /** The Step Functions task token that resumes the workflow. */
  taskToken: string;
  /** What the workflow waits for; names the check that decides whether the wait is over. */
  kind: string;
  /** The workflow's state when it started waiting: the check's input. */
  state: unknown;
  /** When the registry may forget the watcher (the workflow has long moved on by then). */
  expiresAt: Date;
}

/** Who waits on which AWS resource (an instance, an image, an instance refresh). */
export interface WatcherRegistry {
  /** Registers the watcher of a resource, replacing an earlier one. */
  put(resource: string, watcher: Watcher): Promise<void>;
  get(resource: string): Promise<Watcher | undefined>;
  /** Removes the watcher if it still holds `taskToken`; true for the one caller that did. */
  claim(resource: string, taskToken: string): Promise<boolean>;
}

/** Resumes a workflow paused on a task token. */
export interface TaskCallbacks {
  /** Hands the task its result; false when the task is no longer waiting (timed out, answered). */
  succeed(taskToken: string, output: unknown): Promise<boolean>;
}

export interface HealthProbe {
  /**
   * HTTP GETs of `url` until one answers 2xx or `retryForMs` has passed since the first (0: a
   * single GET). Each GET waits `timeoutMs` for its answer. The verdict is the last answer's, with
   * how many GETs it took: a healthy answer after unhealthy ones does not follow a healthy one.
   */
  check(
    url: string,
    options: { timeoutMs: number; retryForMs: number },
  ): Promise<{ healthy: boolean; detail: string; attempts: number }>;
}

export type NotificationKind =
  | "STARTED"
  | "SUCCEEDED"
  | "FAILED"
  | "ROLLED_BACK"
  | "REJECTED"
  | "CANCELLED"
  | "PRUNED";

export interface Notification {
  kind: NotificationKind;
  service: string;
  title: string;
  deployment?: Deployment | undefined;
  /** Facts to show, in order: label → value. */
  fields: Array<{ label: string; value: string }>;
  link?: string | undefined;
  emails: string[];
  slack: boolean;
}

export interface Notifier {
  /** Delivers to every channel the notification names; never throws for a delivery failure. */
  send(notification: Notification): Promise<Array<{ channel: string; delivered: boolean; detail?: string }>>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

// Image pruning (core/prune/; docs/decisions/0006-prune-safety.md). The run record's types live
// with their schema in core/prune/prune-run.ts.
type PruneRun = import("./prune/prune-run.ts").PruneRun;
type PruneRunSummary = import("./prune/prune-run.ts").PruneRunSummary;

/** What removing one image did: snapshots another image still uses are left in place. */
export interface ImageRemoval {
  imageId: string;
  /** False when the image was already gone. */
  deregistered: boolean;
  deletedSnapshotIds: string[];
  keptSnapshots: Array<{ snapshotId: string; reason: string }>;
}

/** Every image Kiln baked, and their removal. */
export interface ImageInventory {
  /** Every image of this account tagged `kiln:managed=true`, read page by page to the end. */
  listManaged(): Promise<ImageInfo[]>;
  /** Deregisters the image and deletes its snapshots; an image or snapshot already gone is not an error. */
  remove(image: { imageId: string; snapshotIds: string[] }): Promise<ImageRemoval>;
}

/** A launch template version, as far as pruning cares: the image it launches. */
export interface TemplateVersionImage {
  launchTemplateId: string;
  versionNumber: number;
  isDefault: boolean;
  /** An image id, an SSM parameter (`resolve:ssm:…`), or undefined when the version names none. */
  imageId?: string | undefined;
}

/** What an auto-scaling group launches from and runs. */
export interface GroupReferences {
  groupName: string;
  /** Each launch template the group launches from, with the version exactly as the group names it. */
  launchTemplates: Array<{ launchTemplateId: string; version: string }>;
  /** The instances the group lists. */
  instanceIds: string[];
}

export interface InstanceImage {
  instanceId: string;
  imageId?: string | undefined;
  state: InstanceState;
}

/** Everything that may be using an image, read in full before anything is deleted. */
export interface ReferenceScan {
  /** The groups asked for that exist. */
  groups: GroupReferences[];
  /** Every version of every launch template scanned, by template id ([] when a template listed none). */
  templateVersions: Record<string, TemplateVersionImage[]>;
  /** Every instance not yet terminated, and each group instance the listing missed, in its current state. */
  instances: InstanceImage[];
}

/** Reads what uses images: the managed groups, every version of their launch templates, every instance. */
export interface ReferenceScanner {
  /** Throws when any look-up fails: a partial scan must never be mistaken for a complete one. */
  scan(targets: Array<{ groupName: string; launchTemplateId: string }>): Promise<ReferenceScan>;
}

/** The audit trail of prune runs. */
export interface PruneAudit {
  record(run: PruneRun): Promise<void>;
  get(runId: string): Promise<PruneRun | undefined>;
  /** Runs newest first, without their per-image lists. */
  list(options: { limit: number; cursor?: string | undefined }): Promise<Page<PruneRunSummary>>;
}

// Operator surfaces (core/operations/): uploads, a service's images and instances.

/** Short-lived upload URLs for artifacts. */
export interface ArtifactUploads {
  /** A presigned PUT URL for `key`, valid for `expiresSeconds`. */
  presignUpload(bucket: string, key: string, expiresSeconds: number): Promise<string>;
}

/** The images Kiln baked for one service, found by their tags. */
export interface ServiceImages {
  /** Every image tagged `kiln:managed=true` and `kiln:service=<service>`, in any state. */
  list(service: string): Promise<ImageInfo[]>;
}

export interface GroupInstance {
  instanceId: string;
  /** Auto Scaling's lifecycle state: `Pending`, `InService`, `Terminating`, … */
  lifecycleState: string;
  /** `Healthy` or `Unhealthy`, as Auto Scaling sees it. */
  healthStatus: string;
  launchTemplateVersion?: string | undefined;
  /** The image the instance was launched from; undefined when EC2 no longer lists it. */
  imageId?: string | undefined;
  state?: InstanceState | undefined;
  privateIp?: string | undefined;
  launchedAt?: string | undefined;
}

export interface GroupSnapshot {
  name: string;
  desiredCapacity: number;
  /** The template version exactly as the group names it. */
  launchTemplateVersion?: string | undefined;
  instances: GroupInstance[];
}

/** What an auto-scaling group runs right now, read-only. */
export interface GroupInstances {
  /** Throws ResourceNotFoundError when the group does not exist. */
  snapshot(groupName: string): Promise<GroupSnapshot>;
}
