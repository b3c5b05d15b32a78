/** ServiceImages on EC2: one service's images, found by Kiln's tags a page at a time. */
import { DescribeImagesCommand, type EC2Client } from "@aws-sdk/client-ec2";
import { kilnTag } from "../deploy/tags.ts";
import type { ImageInfo, ServiceImages } from "../ports.ts";
import { callAws } from "./aws-errors.ts";
import { ec2Client } from "./clients.ts";
import { toImageInfo } from "./ec2-image-catalog.ts";

export class Ec2ServiceImages implements ServiceImages {
  constructor(private readonly ec2: EC2Client = ec2Client()) {}

  async list(service: string): Promise<ImageInfo[]> {
    const images: ImageInfo[] = [];
    let nextToken: string | undefined;
    do {
      const page = await callAws(`DescribeImages of ${service}`, () =>
        this.ec2.send(
          new DescribeImagesCommand({
            Owners: ["self"],
            Filters: [
              { Name: `tag:${kilnTag.managed}`, Values: ["true"] },
              { Name: `tag:${kilnTag.service}`, Values: [service] },
            ],
            MaxResults: 1000,
            NextToken: nextToken,
          }),
        ),
      );
      images.push(...(page.Images ?? []).map(toImageInfo));
      nextToken = page.NextToken || undefined;
    } while (nextToken);
    return images;
  }
}
