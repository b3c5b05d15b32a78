/** CreateImage, DescribeImages and DeregisterImage. */
import { rm } from "node:fs/promises";
import * as z from "zod";
import { ACCOUNT_ID, type ActionHandler, hostArchitecture } from "./context.ts";
import { Ec2Error, incorrectInstanceState } from "./errors.ts";
import { applyFilters, tagFilterValues } from "./filters.ts";
import { isWellFormedId, newId } from "./ids.ts";
import { findInstance } from "./instances.ts";
import { blockDeviceMappingParams, toBlockDeviceMappings } from "./launch-data.ts";
import { paginate } from "./paging.ts";
import {
  filterListSchema,
  parseParams,
  queryBool,
  queryInt,
  queryList,
  tagSpecificationListSchema,
  toFilters,
  toTagSpecifications,
} from "./query-params.ts";
import type { Ec2State, Image, ImageBlockDevice } from "./state.ts";
import { checkTagSpecifications, renderTags, tagsFor } from "./tags.ts";
import type { XmlObject } from "./xml.ts";

const IMAGE_NAME = /^[a-zA-Z0-9()[\] ./\-'@_]{3,128}$/;

/** An image by id, failing as AWS does for a malformed or unknown id. */
export function findImage(state: Ec2State, imageId: string): Image {
  if (!isWellFormedId("ami", imageId))
    throw new Ec2Error("InvalidAMIID.Malformed", `Invalid id: "${imageId}" (expecting "ami-...")`);
  const image = state.images[imageId];
  if (image === undefined)
    throw new Ec2Error("InvalidAMIID.NotFound", `The image id '[${imageId}]' does not exist`);
  return image;
}

function renderImage(image: Image): XmlObject {
  return {
    imageId: image.imageId,
    imageLocation: `${ACCOUNT_ID}/${image.name}`,
    imageState: image.state,
    imageOwnerId: ACCOUNT_ID,
    creationDate: image.creationDate,
    isPublic: false,
    architecture: hostArchitecture(),
    imageType: "machine",
    sourceInstanceId: image.sourceInstanceId,
    name: image.name,
    description: image.description,
    rootDeviceType: "ebs",
    rootDeviceName: "/dev/xvda",
    blockDeviceMapping: image.blockDevices.map((device) => ({
      deviceName: device.deviceName,
      ebs: {
        snapshotId: device.snapshotId,
        volumeSize: device.volumeSize,
        deleteOnTermination: device.deleteOnTermination,
        volumeType: device.volumeType,
        encrypted: device.encrypted,
        kmsKeyId: device.kmsKeyId,
      },
    })),
    virtualizationType: "hvm",
    hypervisor: "xen",
    enaSupport: true,
    platformDetails: "Linux/UNIX",
    usageOperation: "RunInstances",
    tagSet: renderTags(image.tags),
    stateReason: image.stateReason,
  };
}

function imageFilterValues(image: Image, name: string): string[] | undefined {
  switch (name) {
    case "name":
      return [image.name];
    case "state":
      return [image.state];
    case "image-id":
      return [image.imageId];
    case "description":
      return image.description === undefined ? [] : [image.description];
    case "owner-id":
      return [ACCOUNT_ID];
    case "owner-alias":
      return [];
    case "is-public":
      return ["false"];
    case "architecture":
      return [hostArchitecture()];
    case "image-type":
      return ["machine"];
    case "root-device-type":
      return ["ebs"];
    case "root-device-name":
      return ["/dev/xvda"];
    case "virtualization-type":
      return ["hvm"];
    case "block-device-mapping.snapshot-id":
      return image.blockDevices.map((device) => device.snapshotId);
    case "block-device-mapping.encrypted":
      return image.blockDevices.map((device) => String(device.encrypted));
    case "block-device-mapping.volume-size":
      return image.blockDevices.map((device) => String(device.volumeSize));
    case "creation-date":
      return [image.creationDate];
    default:
      return tagFilterValues(image.tags, name);
  }
}

const createImageParams = z.object({
  InstanceId: z.string(),
  Name: z.string(),
  Description: z.string().max(255).optional(),
  NoReboot: queryBool.optional(),
  TagSpecification: tagSpecificationListSchema.optional(),
  BlockDeviceMapping: blockDeviceMappingParams.optional(),
});

export const createImage: ActionHandler = async (context, params) => {
  const request = parseParams(createImageParams, params);
  const { state } = context;
  const instance = findInstance(state, request.InstanceId);
  if (instance.state !== "running" && instance.state !== "stopped")
    throw incorrectInstanceState(instance.instanceId, instance.state, "imaged");
  if (!IMAGE_NAME.test(request.Name)) {
    throw new Ec2Error(
      "InvalidAMIName.Malformed",
      "AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/', '@', ''', '[', ']', ' ' and '_'",
    );
  }
  const taken = Object.values(state.images).find((image) => image.name === request.Name);
  if (taken !== undefined)
    throw new Ec2Error(
      "InvalidAMIName.Duplicate",
      `AMI name ${request.Name} is already in use by AMI ${taken.imageId}`,
    );
  const specs = toTagSpecifications(request.TagSpecification);
  checkTagSpecifications(specs, ["image", "snapshot"]);
  const overrides = toBlockDeviceMappings(request.BlockDeviceMapping) ?? [];
  const imageId = newId("ami");
  const now = new Date().toISOString();
  const blockDevices: ImageBlockDevice[] = instance.volumes.flatMap((volume) => {
    const override = overrides.find((mapping) => mapping.deviceName === volume.deviceName);
    if (override?.noDevice !== undefined) return [];
    const ebs = override?.ebs ?? {};
    const device: ImageBlockDevice = {
      deviceName: volume.deviceName,
      snapshotId: newId("snap"),
      volumeSize: Math.max(ebs.volumeSize ?? volume.size, volume.size),
      volumeType: ebs.volumeType ?? volume.volumeType,
      encrypted: ebs.encrypted ?? volume.encrypted,
      kmsKeyId: ebs.kmsKeyId ?? volume.kmsKeyId,
      deleteOnTermination: ebs.deleteOnTermination ?? true,
    };
    state.snapshots[device.snapshotId] = {
      snapshotId: device.snapshotId,
      volumeId: volume.volumeId,
      volumeSize: volume.size,
      encrypted: device.encrypted,
      kmsKeyId: device.kmsKeyId,
      state: "pending",
      startTime: now,
      description: `Created by CreateImage(${instance.instanceId}) for ${imageId}`,
      tags: tagsFor(specs, "snapshot"),
    };
    return [device];
  });
  const image: Image = {
    imageId,
    name: request.Name,
    description: request.Description,
    state: "pending",
    creationDate: now,
    sourceInstanceId: instance.instanceId,
    tags: tagsFor(specs, "image"),
    blockDevices,
    rootCopied: false,
    requestId: context.requestId,
  };
  state.images[imageId] = image;
  await context.store.save();
  context.images.build(image, instance, request.NoReboot !== true);
  return { imageId };
};

const describeImagesParams = z.object({
  ImageId: queryList(z.string()).optional(),
  Owner: queryList(z.string()).optional(),
  ExecutableBy: queryList(z.string()).optional(),
  Filter: filterListSchema.optional(),
  MaxResults: queryInt.optional(),
  NextToken: z.string().optional(),
});

export const describeImages: ActionHandler = async ({ state }, params) => {
  const request = parseParams(describeImagesParams, params);
  if (request.ImageId !== undefined && request.MaxResults !== undefined) {
    throw new Ec2Error(
      "InvalidParameterCombination",
      "The parameter imagesSet cannot be used with the parameter maxResults",
    );
  }
  let images =
    request.ImageId === undefined
      ? Object.values(state.images)
      : request.ImageId.map((id) => findImage(state, id));
  if (request.Owner !== undefined) {
    const ours = request.Owner.some((owner) => owner === "self" || owner === ACCOUNT_ID);
    if (!ours) images = [];
  }
  const matching = applyFilters(images, toFilters(request.Filter), imageFilterValues);
  const page = paginate(
    matching,
    (image) => image.imageId,
    { maxResults: request.MaxResults, nextToken: request.NextToken },
    { min: 5, max: 1000 },
  );
  return { imagesSet: page.items.map(renderImage), nextToken: page.nextToken };
};

export const deregisterImage: ActionHandler = async ({ state, store, paths, images, requestId }, params) => {
  const request = parseParams(
    z.object({ ImageId: z.string(), DeleteAssociatedSnapshots: queryBool.optional() }),
    params,
  );
  const image = findImage(state, request.ImageId);
  delete state.images[image.imageId];
  images.announce(image, "deregistered", requestId);
  const results: XmlObject[] = [];
  if (request.DeleteAssociatedSnapshots === true) {
    const stillUsed = new Set(
      Object.values(state.images).flatMap((other) => other.blockDevices.map((device) => device.snapshotId)),
    );
    for (const { snapshotId } of image.blockDevices) {
      if (stillUsed.has(snapshotId)) {
        results.push({ snapshotId, returnCode: "error-generic" });
        continue;
      }
      delete state.snapshots[snapshotId];
      results.push({ snapshotId, returnCode: "success" });
    }
  }
  await store.save();
  if (image.state !== "pending") await rm(paths.imageDir(image.imageId), { recursive: true, force: true });
  return {
    return: true,
    deleteSnapshotResultSet: request.DeleteAssociatedSnapshots === true ? results : undefined,
  };
};
