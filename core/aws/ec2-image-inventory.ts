/**
 * ImageInventory on EC2: Kiln's own images, listed by tag a page at a time, and their removal.
 * Removal asks DeregisterImage to delete the image's snapshots in the same call, so a function
 * stopped between two calls cannot leave snapshots no image points at any more; any snapshot the
 * call did not delete is then deleted on its own.
 */
import {
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  type EC2Client,
} from "@aws-sdk/client-ec2";
import { kilnTag } from "../deploy/tags.ts";
import type { ImageInfo, ImageInventory, ImageRemoval } from "../ports.ts";
import { callAws, isAwsError } from "./aws-errors.ts";
import { ec2Client } from "./clients.ts";
import { toImageInfo } from "./ec2-image-catalog.ts";

export interface Ec2ImageInventoryOptions {
  /** DescribeImages page size (5–1000). */
  pageSize?: number;
}

export class Ec2ImageInventory implements ImageInventory {
  private readonly pageSize: number;

  constructor(
    private readonly ec2: EC2Client = ec2Client(),
    options: Ec2ImageInventoryOptions = {},
  ) {
    this.pageSize = options.pageSize ?? 1000;
  }

  async listManaged(): Promise<ImageInfo[]> {
    const images: ImageInfo[] = [];
    const tokens = new Set<string>();
    let nextToken: string | undefined;
    do {
      const page = await callAws("DescribeImages kiln:managed", () =>
        this.ec2.send(
          new DescribeImagesCommand({
            Owners: ["self"],
            Filters: [{ Name: `tag:${kilnTag.managed}`, Values: ["true"] }],
            MaxResults: this.pageSize,
            NextToken: nextToken,
          }),
        ),
      );
      images.push(...(page.Images ?? []).map(toImageInfo));
      nextToken = page.NextToken || undefined;
      // A token seen twice would loop forever and read the same images again and again.
      if (nextToken !== undefined && tokens.has(nextToken))
        throw new Error(`DescribeImages returned the page token ${nextToken} twice`);
      if (nextToken !== undefined) tokens.add(nextToken);
    } while (nextToken !== undefined);
    return images;
  }

  async remove(image: { imageId: string; snapshotIds: string[] }): Promise<ImageRemoval> {
    let deregistered = true;
    const gone = new Set<string>();
    try {
      const result = await callAws(`DeregisterImage ${image.imageId}`, () =>
        this.ec2.send(
          new DeregisterImageCommand({ ImageId: image.imageId, DeleteAssociatedSnapshots: true }),
        ),
      );
      for (const outcome of result.DeleteSnapshotResults ?? []) {
        if (outcome.SnapshotId && outcome.ReturnCode === "success") gone.add(outcome.SnapshotId);
      }
    } catch (error) {
      if (!isAwsError(error, "InvalidAMIID.NotFound", "InvalidAMIID.Unavailable")) throw error;
      deregistered = false;
    }
    const keptSnapshots: ImageRemoval["keptSnapshots"] = [];
    for (const snapshotId of image.snapshotIds.filter((id) => !gone.has(id))) {
      try {
        await callAws(`DeleteSnapshot ${snapshotId}`, () =>
          this.ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })),
        );
        gone.add(snapshotId);
      } catch (error) {
        if (isAwsError(error, "InvalidSnapshot.NotFound")) gone.add(snapshotId);
        else if (isAwsError(error, "InvalidSnapshot.InUse"))
          keptSnapshots.push({ snapshotId, reason: "another image still uses it" });
        else throw error;
      }
    }
    return {
      imageId: image.imageId,
      deregistered,
      deletedSnapshotIds: image.snapshotIds.filter((id) => gone.has(id)),
      keptSnapshots,
    };
  }
}
