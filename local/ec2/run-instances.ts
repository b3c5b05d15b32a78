/**
 * RunInstances: the launch parameters, laid over a launch template's data when one is named,
 * become instance records that boot in the background. A client token makes a retried launch
 * return the first reservation instead of launching again.
 */
import { createHash } from "node:crypto";
import * as z from "zod";
import { fingerprintOf, previousCreation, rememberCreation } from "./client-tokens.ts";
import { ACCOUNT_ID, type ActionHandler, type Ec2Context } from "./context.ts";
import { Ec2Error, missingParameter } from "./errors.ts";
import { newId } from "./ids.ts";
import { findImage } from "./images.ts";
import { DEFAULT_INSTANCE_TYPE, instanceTypeSpec } from "./instance-types.ts";
import { renderReservations } from "./instances.ts";
import { allocatePrivateIp } from "./ip-allocator.ts";
import { checkUserData, launchDataParams, overlayLaunchData, toLaunchData } from "./launch-data.ts";
import { findLaunchTemplate, resolveVersion } from "./launch-templates.ts";
import { parseParams, queryInt } from "./query-params.ts";
import type { Image, Instance, LaunchTemplateData, Tag, Volume } from "./state.ts";
import { checkTagSpecifications, mergeTags, tagsFor } from "./tags.ts";

/** How many instances one request may launch: this is one machine. */
const INSTANCE_LIMIT = 20;

const runInstancesParams = launchDataParams.extend({
  MinCount: queryInt,
  MaxCount: queryInt,
  ClientToken: z.string().max(64).optional(),
  SubnetId: z.string().optional(),
  LaunchTemplate: z
    .object({
      LaunchTemplateId: z.string().optional(),
      LaunchTemplateName: z.string().optional(),
      Version: z.string().optional(),
    })
    .optional(),
});

interface Launch {
  data: LaunchTemplateData;
  templateTags: Tag[];
}

function resolveLaunch(context: Ec2Context, request: z.infer<typeof runInstancesParams>): Launch {
  const explicit = toLaunchData(request);
  if (request.LaunchTemplate === undefined) return { data: explicit, templateTags: [] };
  const template = findLaunchTemplate(context.state, {
    launchTemplateId: request.LaunchTemplate.LaunchTemplateId,
    launchTemplateName: request.LaunchTemplate.LaunchTemplateName,
  });
  const version = resolveVersion(template, request.LaunchTemplate.Version);
  return {
    data: overlayLaunchData(version.data, explicit),
    // AWS marks instances launched from a template with these system tags.
    templateTags: [
      { key: "aws:ec2launchtemplate:id", value: template.launchTemplateId },
      { key: "aws:ec2launchtemplate:version", value: String(version.versionNumber) },
    ],
  };
}

function launchableImage(context: Ec2Context, imageId: string | undefined): Image {
  if (imageId === undefined) throw missingParameter("ImageId");
  const image = findImage(context.state, imageId);
  if (image.state !== "available")
    throw new Ec2Error("InvalidAMIID.Unavailable", `AMI '${imageId}' is ${image.state}, and cannot be run`);
  return image;
}

function instanceProfile(spec: LaunchTemplateData["iamInstanceProfile"]): Instance["iamInstanceProfile"] {
  if (spec === undefined) return undefined;
  const arn = spec.arn ?? `arn:aws:iam::${ACCOUNT_ID}:instance-profile/${spec.name ?? ""}`;
  const id = `AIPA${createHash("sha256").update(arn).digest("hex").slice(0, 17).toUpperCase()}`;
  return { arn, id };
}

function volumesFor(image: Image, data: LaunchTemplateData, tags: Tag[], now: string): Volume[] {
  const mappings = data.blockDeviceMappings ?? [];
  const fromImage = image.blockDevices.flatMap((device): Volume[] => {
    const mapping = mappings.find((candidate) => candidate.deviceName === device.deviceName);
    if (mapping?.noDevice !== undefined) return [];
    const ebs = mapping?.ebs ?? {};
    return [
      {
        volumeId: newId("vol"),
        deviceName: device.deviceName,
        size: Math.max(ebs.volumeSize ?? device.volumeSize, device.volumeSize),
        volumeType: ebs.volumeType ?? device.volumeType,
        encrypted: ebs.encrypted ?? device.encrypted,
        kmsKeyId: ebs.kmsKeyId ?? device.kmsKeyId,
        deleteOnTermination: ebs.deleteOnTermination ?? device.deleteOnTermination,
        snapshotId: device.snapshotId,
        createTime: now,
        tags,
      },
    ];
  });
  const extra = mappings.flatMap((mapping): Volume[] => {
    if (mapping.ebs === undefined || mapping.deviceName === undefined) return [];
    if (image.blockDevices.some((device) => device.deviceName === mapping.deviceName)) return [];
    return [
      {
        volumeId: newId("vol"),
        deviceName: mapping.deviceName,
        size: mapping.ebs.volumeSize ?? 8,
        volumeType: mapping.ebs.volumeType ?? "gp3",
        encrypted: mapping.ebs.encrypted ?? false,
        kmsKeyId: mapping.ebs.kmsKeyId,
        deleteOnTermination: mapping.ebs.deleteOnTermination ?? true,
        snapshotId: mapping.ebs.snapshotId,
        createTime: now,
        tags,
      },
    ];
  });
  return [...fromImage, ...extra];
}

function countToLaunch(minCount: number, maxCount: number): number {
  if (minCount < 1 || maxCount < 1)
    throw new Ec2Error("InvalidParameterValue", "MinCount and MaxCount must be at least 1");
  if (minCount > maxCount)
    throw new Ec2Error("InvalidParameterValue", "MinCount must be less than or equal to MaxCount");
  if (minCount > INSTANCE_LIMIT) {
    throw new Ec2Error(
      "InstanceLimitExceeded",
      `You have requested more instances (${minCount}) than your current instance limit of ${INSTANCE_LIMIT} allows for the specified instance type.`,
    );
  }
  return Math.min(maxCount, INSTANCE_LIMIT);
}

export const runInstances: ActionHandler = async (context, params) => {
  const request = parseParams(runInstancesParams, params);
  const { state } = context;
  const fingerprint = fingerprintOf(params);
  const previous = previousCreation(state, "RunInstances", request.ClientToken, fingerprint);
  if (previous !== undefined) {
    const members = Object.values(state.instances).filter((instance) => instance.reservationId === previous);
    const [reservation] = renderReservations(members);
    if (reservation !== undefined) return reservation;
  }
  const { data, templateTags } = resolveLaunch(context, request);
  const image = launchableImage(context, data.imageId);
  const instanceType = data.instanceType ?? DEFAULT_INSTANCE_TYPE;
  if (instanceTypeSpec(instanceType) === undefined)
    throw new Ec2Error("InvalidParameterValue", `Invalid value '${instanceType}' for InstanceType.`);
  checkUserData(data.userData);
  const specs = data.tagSpecifications ?? [];
  checkTagSpecifications(specs, [
    "instance",
    "volume",
    "network-interface",
    "spot-instances-request",
    "elastic-gpu",
  ]);
  const count = countToLaunch(request.MinCount, request.MaxCount);
  const reservationId = newId("r");
  const now = new Date().toISOString();
  const instanceTags = mergeTags(tagsFor(specs, "instance"), templateTags);
  const launched: Instance[] = [];
  for (let index = 0; index < count; index += 1) {
    const instanceId = newId("i");
    const instance: Instance = {
      instanceId,
      reservationId,
      imageId: image.imageId,
      instanceType,
      state: "pending",
      stateTransitionReason: "",
      privateIpAddress: allocatePrivateIp(state.ipAllocations, instanceId, context.firstPrivateAddress),
      launchTime: now,
      availabilityZone: `${context.region}a`,
      amiLaunchIndex: index,
      tags: instanceTags,
      metadataOptions: {
        httpTokens: data.metadataOptions?.httpTokens ?? "optional",
        httpEndpoint: data.metadataOptions?.httpEndpoint ?? "enabled",
        httpPutResponseHopLimit: data.metadataOptions?.httpPutResponseHopLimit ?? 1,
        instanceMetadataTags: data.metadataOptions?.instanceMetadataTags ?? "disabled",
      },
      volumes: volumesFor(image, data, tagsFor(specs, "volume"), now),
      iamInstanceProfile: instanceProfile(data.iamInstanceProfile),
      securityGroupIds: data.securityGroupIds ?? [],
      subnetId: request.SubnetId,
      clientToken: request.ClientToken,
      userData: data.userData,
      userDataStarted: false,
      shutdownBehavior: data.instanceInitiatedShutdownBehavior === "terminate" ? "terminate" : "stop",
      processGroups: [],
    };
    state.instances[instanceId] = instance;
    launched.push(instance);
  }
  rememberCreation(state, "RunInstances", request.ClientToken, fingerprint, reservationId);
  // Describe calls see the new instances from now on: their pending events go out in this tick.
  for (const instance of launched) context.lifecycle.announce(instance);
  await context.store.save();
  for (const instance of launched) context.lifecycle.launch(instance);
  const [reservation] = renderReservations(launched);
  return reservation ?? {};
};
