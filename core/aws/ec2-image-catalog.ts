/** ImageCatalog on EC2: images baked by Kiln, found by their tags. */
import {
  CreateImageCommand,
  CreateTagsCommand,
  DescribeImagesCommand,
  type EC2Client,
  type Image,
} from "@aws-sdk/client-ec2";
import { kilnTag } from "../deploy/tags.ts";
import type { ImageCatalog, ImageInfo, ImageState } from "../ports.ts";
import { callAws, isAwsError } from "./aws-errors.ts";
import { ec2Client } from "./clients.ts";
import { toTagList } from "./ec2-fleet.ts";

const imageStates: readonly string[] = ["pending", "available", "failed", "invalid", "deregistered"];

function isImageState(state: string | undefined): state is ImageState {
  return state !== undefined && imageStates.includes(state);
}

function toImageState(state: string | undefined): ImageState {
  return isImageState(state) ? state : "other";
}

/** An EC2 image as the domain sees it. */
export function toImageInfo(image: Image): ImageInfo {
  return {
    imageId: image.ImageId ?? "",
    name: image.Name ?? "",
    state: toImageState(image.State),
    stateReason: image.StateReason?.Message,
    createdAt: image.CreationDate,
    tags: Object.fromEntries((image.Tags ?? []).map((tag) => [tag.Key ?? "", tag.Value ?? ""])),
    snapshotIds: (image.BlockDeviceMappings ?? []).flatMap((mapping) =>
      mapping.Ebs?.SnapshotId ? [mapping.Ebs.SnapshotId] : [],
    ),
  };
}

export class Ec2ImageCatalog implements ImageCatalog {
  constructor(private readonly ec2: EC2Client = ec2Client()) {}

  async createFromInstance(request: {
    instanceId: string;
    name: string;
    tags: Record<string, string>;
  }): Promise<string> {
    try {
      const result = await callAws(`CreateImage from ${request.instanceId}`, () =>
        this.ec2.send(
          new CreateImageCommand({
            InstanceId: request.instanceId,
            Name: request.name,
            Description: `Baked by Kiln from ${request.instanceId}`,
            // The builder has already stopped itself: no reboot needed for a consistent disk.
            NoReboot: true,
            TagSpecifications: [
              { ResourceType: "image", Tags: toTagList(request.tags) },
              { ResourceType: "snapshot", Tags: toTagList(request.tags) },
            ],
          }),
        ),
      );
      if (!result.ImageId) throw new Error(`CreateImage ${request.name} returned no image id`);
      return result.ImageId;
    } catch (error) {
      // CreateImage has no client token; the unique name makes a retry find the first image.
      if (!isAwsError(error, "InvalidAMIName.Duplicate")) throw error;
      const existing = await this.describeWhere([{ Name: "name", Values: [request.name] }]);
      const image = existing[0];
      if (!image) throw error;
      return image.imageId;
    }
  }

  async describe(imageId: string): Promise<ImageInfo | undefined> {
    try {
      const result = await callAws(`DescribeImages ${imageId}`, () =>
        this.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] })),
      );
      const image = result.Images?.[0];
      return image ? toImageInfo(image) : undefined;
    } catch (error) {
      if (isAwsError(error, "InvalidAMIID.NotFound")) return undefined;
      throw error;
    }
  }

  async findByCacheKey(cacheKey: string): Promise<ImageInfo | undefined> {
    const images = await this.describeWhere([
      { Name: `tag:${kilnTag.cacheKey}`, Values: [cacheKey] },
      { Name: "state", Values: ["available"] },
    ]);
    return images
      .filter((image) => image.tags[kilnTag.imageStatus] !== "rejected")
      .sort((a, b) => (b.createdAt ?? "").localeCompare(a.createdAt ?? ""))[0];
  }

  async tag(imageId: string, tags: Record<string, string>): Promise<void> {
    await callAws(`CreateTags ${imageId}`, () =>
      this.ec2.send(new CreateTagsCommand({ Resources: [imageId], Tags: toTagList(tags) })),
    );
  }

  private async describeWhere(filters: Array<{ Name: string; Values: string[] }>): Promise<ImageInfo[]> {
    const images: ImageInfo[] = [];
    let nextToken: string | undefined;
    do {
      const page = await callAws("DescribeImages", () =>
        this.ec2.send(
          new DescribeImagesCommand({
            Owners: ["self"],
            Filters: filters,
            NextToken: nextToken,
            MaxResults: 1000,
          }),
        ),
      );
      images.push(...(page.Images ?? []).map(toImageInfo));
      nextToken = page.NextToken;
    } while (nextToken);
    return images;
  }
}
