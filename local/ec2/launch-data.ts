/**
 * The launch parameters RunInstances and a launch template's data share (image, type, user data,
 * tags, metadata options, block devices, instance profile, security groups, shutdown behaviour),
 * parsed from either request into one shape, `LaunchTemplateData`.
 */
import * as z from "zod";
import { Ec2Error } from "./errors.ts";
import {
  queryBool,
  queryInt,
  queryList,
  tagSpecificationListSchema,
  toTagSpecifications,
} from "./query-params.ts";
import type { BlockDeviceMapping, LaunchTemplateData } from "./state.ts";
import { mergeTags } from "./tags.ts";

const USER_DATA_LIMIT = 16384;

const ebsParams = z.object({
  Encrypted: queryBool.optional(),
  DeleteOnTermination: queryBool.optional(),
  Iops: queryInt.optional(),
  KmsKeyId: z.string().optional(),
  SnapshotId: z.string().optional(),
  VolumeSize: queryInt.pipe(z.number().int().min(1).max(65536)).optional(),
  VolumeType: z.enum(["standard", "io1", "io2", "gp2", "sc1", "st1", "gp3"]).optional(),
  Throughput: queryInt.optional(),
});

export const blockDeviceMappingParams = queryList(
  z.object({
    DeviceName: z.string().optional(),
    NoDevice: z.string().optional(),
    VirtualName: z.string().optional(),
    Ebs: ebsParams.optional(),
  }),
);

/** Block device mappings from request parameters. */
export function toBlockDeviceMappings(
  parsed: z.infer<typeof blockDeviceMappingParams> | undefined,
): BlockDeviceMapping[] | undefined {
  return parsed?.map((mapping) => ({
    deviceName: mapping.DeviceName,
    noDevice: mapping.NoDevice,
    ebs:
      mapping.Ebs === undefined
        ? undefined
        : {
            encrypted: mapping.Ebs.Encrypted,
            deleteOnTermination: mapping.Ebs.DeleteOnTermination,
            iops: mapping.Ebs.Iops,
            kmsKeyId: mapping.Ebs.KmsKeyId,
            snapshotId: mapping.Ebs.SnapshotId,
            volumeSize: mapping.Ebs.VolumeSize,
            volumeType: mapping.Ebs.VolumeType,
            throughput: mapping.Ebs.Throughput,
          },
  }));
}

const userDataParam = z
  .string()
  .regex(/^[A-Za-z0-9+/\r\n]*={0,2}[\r\n]*$/, "Invalid BASE64 encoding of user data.")
  .refine(
    (text) => Buffer.from(text, "base64").length <= USER_DATA_LIMIT,
    `User data is limited to ${USER_DATA_LIMIT} bytes`,
  );

/** The launch parameters as they appear in RunInstances and in `LaunchTemplateData.*`. */
export const launchDataParams = z.object({
  ImageId: z.string().optional(),
  InstanceType: z.string().optional(),
  KeyName: z.string().optional(),
  UserData: userDataParam.optional(),
  EbsOptimized: queryBool.optional(),
  DisableApiTermination: queryBool.optional(),
  InstanceInitiatedShutdownBehavior: z.enum(["stop", "terminate"]).optional(),
  IamInstanceProfile: z.object({ Arn: z.string().optional(), Name: z.string().optional() }).optional(),
  SecurityGroupId: queryList(z.string()).optional(),
  SecurityGroup: queryList(z.string()).optional(),
  TagSpecification: tagSpecificationListSchema.optional(),
  MetadataOptions: z
    .object({
      HttpTokens: z.enum(["optional", "required"]).optional(),
      HttpEndpoint: z.enum(["enabled", "disabled"]).optional(),
      HttpPutResponseHopLimit: queryInt.pipe(z.number().int().min(1).max(64)).optional(),
      InstanceMetadataTags: z.enum(["enabled", "disabled"]).optional(),
    })
    .optional(),
  BlockDeviceMapping: blockDeviceMappingParams.optional(),
  Monitoring: z.object({ Enabled: queryBool }).optional(),
});

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}

/** Launch data from parsed parameters; only what the request set is present. */
export function toLaunchData(parsed: z.infer<typeof launchDataParams>): LaunchTemplateData {
  const metadata = parsed.MetadataOptions;
  return withoutUndefined({
    imageId: parsed.ImageId,
    instanceType: parsed.InstanceType,
    keyName: parsed.KeyName,
    userData: parsed.UserData,
    ebsOptimized: parsed.EbsOptimized,
    disableApiTermination: parsed.DisableApiTermination,
    instanceInitiatedShutdownBehavior: parsed.InstanceInitiatedShutdownBehavior,
    iamInstanceProfile:
      parsed.IamInstanceProfile === undefined
        ? undefined
        : withoutUndefined({ arn: parsed.IamInstanceProfile.Arn, name: parsed.IamInstanceProfile.Name }),
    securityGroupIds: parsed.SecurityGroupId,
    securityGroups: parsed.SecurityGroup,
    tagSpecifications:
      parsed.TagSpecification === undefined ? undefined : toTagSpecifications(parsed.TagSpecification),
    metadataOptions:
      metadata === undefined
        ? undefined
        : withoutUndefined({
            httpTokens: metadata.HttpTokens,
            httpEndpoint: metadata.HttpEndpoint,
            httpPutResponseHopLimit: metadata.HttpPutResponseHopLimit,
            instanceMetadataTags: metadata.InstanceMetadataTags,
          }),
    blockDeviceMappings: toBlockDeviceMappings(parsed.BlockDeviceMapping),
    monitoring: parsed.Monitoring === undefined ? undefined : { enabled: parsed.Monitoring.Enabled },
  });
}

/**
 * Launch data laid over a base: a field the overlay sets replaces the base's, except tags, which
 * merge per resource type (the overlay's value wins for a key both set), as RunInstances merges
 * a launch template's tags with its own.
 */
export function overlayLaunchData(base: LaunchTemplateData, overlay: LaunchTemplateData): LaunchTemplateData {
  const merged: LaunchTemplateData = { ...base, ...withoutUndefined(overlay) };
  if (base.tagSpecifications !== undefined && overlay.tagSpecifications !== undefined) {
    const types = [
      ...new Set([...base.tagSpecifications, ...overlay.tagSpecifications].map((spec) => spec.resourceType)),
    ];
    merged.tagSpecifications = types.map((resourceType) => ({
      resourceType,
      tags: mergeTags(
        base.tagSpecifications
          ?.filter((spec) => spec.resourceType === resourceType)
          .flatMap((spec) => spec.tags) ?? [],
        overlay.tagSpecifications
          ?.filter((spec) => spec.resourceType === resourceType)
          .flatMap((spec) => spec.tags) ?? [],
      ),
    }));
  }
  return merged;
}

/** Checks the user data a launch would run, wherever it came from. */
export function checkUserData(userData: string | undefined): void {
  if (userData !== undefined && !userDataParam.safeParse(userData).success) {
    throw new Ec2Error("InvalidParameterValue", "Invalid BASE64 encoding of user data.");
  }
}
