/**
 * Everything the emulator knows, as one JSON document at `<stateDir>/ec2/state.json`. The file is
 * read back through these schemas (it may be from an older run or edited by hand), and written
 * atomically after each mutation so a crash leaves either the old or the new state.
 */
import { randomUUID } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import * as z from "zod";

export const tagSchema = z.object({ key: z.string(), value: z.string() });
export type Tag = z.infer<typeof tagSchema>;

export const stateReasonSchema = z.object({ code: z.string(), message: z.string() });
export type StateReason = z.infer<typeof stateReasonSchema>;

export const instanceStateNames = [
  "pending",
  "running",
  "shutting-down",
  "terminated",
  "stopping",
  "stopped",
] as const;
export const instanceStateNameSchema = z.enum(instanceStateNames);
export type InstanceStateName = z.infer<typeof instanceStateNameSchema>;

export const metadataOptionsSchema = z.object({
  httpTokens: z.string(),
  httpEndpoint: z.string(),
  httpPutResponseHopLimit: z.number().int(),
  instanceMetadataTags: z.string(),
});
export type MetadataOptions = z.infer<typeof metadataOptionsSchema>;

export const volumeSchema = z.object({
  volumeId: z.string(),
  deviceName: z.string(),
  size: z.number().int(),
  volumeType: z.string(),
  encrypted: z.boolean(),
  kmsKeyId: z.string().optional(),
  deleteOnTermination: z.boolean(),
  snapshotId: z.string().optional(),
  createTime: z.string(),
  tags: z.array(tagSchema),
});
export type Volume = z.infer<typeof volumeSchema>;

export const processGroupSchema = z.object({ pgid: z.number().int().positive(), name: z.string() });
export type ProcessGroupRecord = z.infer<typeof processGroupSchema>;

export const instanceSchema = z.object({
  instanceId: z.string(),
  reservationId: z.string(),
  imageId: z.string(),
  instanceType: z.string(),
  state: instanceStateNameSchema,
  stateReason: stateReasonSchema.optional(),
  stateTransitionReason: z.string(),
  privateIpAddress: z.string().optional(),
  launchTime: z.string(),
  availabilityZone: z.string(),
  amiLaunchIndex: z.number().int(),
  tags: z.array(tagSchema),
  metadataOptions: metadataOptionsSchema,
  volumes: z.array(volumeSchema),
  iamInstanceProfile: z.object({ arn: z.string(), id: z.string() }).optional(),
  securityGroupIds: z.array(z.string()),
  subnetId: z.string().optional(),
  clientToken: z.string().optional(),
  userData: z.string().optional(),
  userDataStarted: z.boolean(),
  shutdownBehavior: z.enum(["stop", "terminate"]),
  processGroups: z.array(processGroupSchema),
});
export type Instance = z.infer<typeof instanceSchema>;

export const imageBlockDeviceSchema = z.object({
  deviceName: z.string(),
  snapshotId: z.string(),
  volumeSize: z.number().int(),
  volumeType: z.string(),
  encrypted: z.boolean(),
  kmsKeyId: z.string().optional(),
  deleteOnTermination: z.boolean(),
});
export type ImageBlockDevice = z.infer<typeof imageBlockDeviceSchema>;

export const imageSchema = z.object({
  imageId: z.string(),
  name: z.string(),
  description: z.string().optional(),
  state: z.enum(["pending", "available", "failed"]),
  stateReason: stateReasonSchema.optional(),
  creationDate: z.string(),
  sourceInstanceId: z.string().optional(),
  tags: z.array(tagSchema),
  blockDevices: z.array(imageBlockDeviceSchema),
  /** Whether the root folder is complete; a pending image whose copy never finished is redone. */
  rootCopied: z.boolean(),
  /** The CreateImage request, named by the image's state-change events. */
  requestId: z.string().optional(),
});
export type Image = z.infer<typeof imageSchema>;

export const snapshotSchema = z.object({
  snapshotId: z.string(),
  volumeId: z.string(),
  volumeSize: z.number().int(),
  encrypted: z.boolean(),
  kmsKeyId: z.string().optional(),
  state: z.enum(["pending", "completed", "error"]),
  stateMessage: z.string().optional(),
  startTime: z.string(),
  description: z.string(),
  tags: z.array(tagSchema),
});
export type Snapshot = z.infer<typeof snapshotSchema>;

export const launchTemplateEbsSchema = z.object({
  encrypted: z.boolean().optional(),
  deleteOnTermination: z.boolean().optional(),
  iops: z.number().int().optional(),
  kmsKeyId: z.string().optional(),
  snapshotId: z.string().optional(),
  volumeSize: z.number().int().optional(),
  volumeType: z.string().optional(),
  throughput: z.number().int().optional(),
});
export const blockDeviceMappingSchema = z.object({
  deviceName: z.string().optional(),
  noDevice: z.string().optional(),
  ebs: launchTemplateEbsSchema.optional(),
});
export type BlockDeviceMapping = z.infer<typeof blockDeviceMappingSchema>;

export const launchTemplateDataSchema = z.object({
  imageId: z.string().optional(),
  instanceType: z.string().optional(),
  keyName: z.string().optional(),
  userData: z.string().optional(),
  ebsOptimized: z.boolean().optional(),
  disableApiTermination: z.boolean().optional(),
  instanceInitiatedShutdownBehavior: z.string().optional(),
  iamInstanceProfile: z.object({ arn: z.string().optional(), name: z.string().optional() }).optional(),
  securityGroupIds: z.array(z.string()).optional(),
  securityGroups: z.array(z.string()).optional(),
  tagSpecifications: z.array(z.object({ resourceType: z.string(), tags: z.array(tagSchema) })).optional(),
  metadataOptions: z
    .object({
      httpTokens: z.string().optional(),
      httpEndpoint: z.string().optional(),
      httpPutResponseHopLimit: z.number().int().optional(),
      instanceMetadataTags: z.string().optional(),
    })
    .optional(),
  blockDeviceMappings: z.array(blockDeviceMappingSchema).optional(),
  monitoring: z.object({ enabled: z.boolean() }).optional(),
});
export type LaunchTemplateData = z.infer<typeof launchTemplateDataSchema>;

export const launchTemplateVersionSchema = z.object({
  versionNumber: z.number().int().positive(),
  description: z.string().optional(),
  createTime: z.string(),
  data: launchTemplateDataSchema,
});
export type LaunchTemplateVersion = z.infer<typeof launchTemplateVersionSchema>;

export const launchTemplateSchema = z.object({
  launchTemplateId: z.string(),
  launchTemplateName: z.string(),
  createTime: z.string(),
  defaultVersion: z.number().int().positive(),
  latestVersion: z.number().int().positive(),
  tags: z.array(tagSchema),
  versions: z.array(launchTemplateVersionSchema),
});
export type LaunchTemplate = z.infer<typeof launchTemplateSchema>;

export const clientTokenSchema = z.object({ fingerprint: z.string(), resourceId: z.string() });

export const ec2StateSchema = z.object({
  version: z.literal(1),
  instances: z.record(z.string(), instanceSchema),
  images: z.record(z.string(), imageSchema),
  snapshots: z.record(z.string(), snapshotSchema),
  launchTemplates: z.record(z.string(), launchTemplateSchema),
  /** `<Action>:<token>` → what the first request created, so a retry returns it again. */
  clientTokens: z.record(z.string(), clientTokenSchema),
  /** Private IP → the instance holding it; released when the instance is terminated. */
  ipAllocations: z.record(z.string(), z.string()),
});
export type Ec2State = z.infer<typeof ec2StateSchema>;

/** An empty account. */
export function emptyState(): Ec2State {
  return {
    version: 1,
    instances: {},
    images: {},
    snapshots: {},
    launchTemplates: {},
    clientTokens: {},
    ipAllocations: {},
  };
}

/** Holds the state document and writes it atomically, coalescing bursts of mutations. */
export class StateStore {
  private writing: Promise<void> | undefined;
  private pending: Promise<void> | undefined;

  private constructor(
    readonly file: string,
    readonly state: Ec2State,
  ) {}

  /** Loads the state file, or starts empty when there is none. */
  static async open(file: string): Promise<StateStore> {
    await mkdir(dirname(file), { recursive: true });
    let text: string | undefined;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      if (!(error instanceof Error && "code" in error && error.code === "ENOENT")) throw error;
    }
    const state = text === undefined ? emptyState() : ec2StateSchema.parse(JSON.parse(text));
    return new StateStore(file, state);
  }

  /** Persists the current state; resolves once a write that includes every mutation so far is on disk. */
  save(): Promise<void> {
    if (this.writing === undefined) {
      this.writing = this.write().finally(() => {
        this.writing = undefined;
      });
      return this.writing;
    }
    // A write is under way with an older snapshot: queue exactly one more after it.
    this.pending ??= this.writing
      .catch(() => undefined)
      .then(() => {
        this.pending = undefined;
        return this.save();
      });
    return this.pending;
  }

  private async write(): Promise<void> {
    const tmp = `${this.file}.${randomUUID()}.tmp`;
    await writeFile(tmp, `${JSON.stringify(this.state, null, 2)}\n`);
    await rename(tmp, this.file);
  }
}
