import {
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { Ec2ImageInventory } from "../../../core/aws/ec2-image-inventory.ts";
import { TransientAwsError } from "../../../core/errors.ts";

const ec2 = new EC2Client({ region: "us-east-1" });
const mock = mockClient(ec2);

function awsError(name: string, status = 400): Error {
  return Object.assign(new Error(`${name} from EC2`), { name, $metadata: { httpStatusCode: status } });
}

const sdkImage = (id: string) => ({
  ImageId: id,
  Name: `kiln-web-${id}`,
  State: "available" as const,
  CreationDate: "2030-01-01T00:00:00.000Z",
  Tags: [
    { Key: "kiln:managed", Value: "true" },
    { Key: "kiln:service", Value: "web" },
  ],
  BlockDeviceMappings: [{ DeviceName: "/dev/xvda", Ebs: { SnapshotId: `snap-${id.slice(4)}` } }],
});

beforeEach(() => mock.reset());

describe("Ec2ImageInventory.listManaged", () => {
  it("asks for this account's images tagged kiln:managed=true and follows NextToken to the end", async () => {
    mock
      .on(DescribeImagesCommand)
      .resolvesOnce({ Images: [sdkImage("ami-001"), sdkImage("ami-002")], NextToken: "page-2" })
      .resolvesOnce({ Images: [sdkImage("ami-003")], NextToken: "page-3" })
      .resolvesOnce({ Images: [] });
    const images = await new Ec2ImageInventory(ec2, { pageSize: 2 }).listManaged();
    expect(images.map((image) => image.imageId)).toEqual(["ami-001", "ami-002", "ami-003"]);
    expect(images[0]).toMatchObject({
      state: "available",
      tags: { "kiln:service": "web" },
      snapshotIds: ["snap-001"],
    });
    const inputs = mock.commandCalls(DescribeImagesCommand).map((call) => call.args[0].input);
    expect(inputs).toEqual([
      {
        Owners: ["self"],
        Filters: [{ Name: "tag:kiln:managed", Values: ["true"] }],
        MaxResults: 2,
        NextToken: undefined,
      },
      {
        Owners: ["self"],
        Filters: [{ Name: "tag:kiln:managed", Values: ["true"] }],
        MaxResults: 2,
        NextToken: "page-2",
      },
      {
        Owners: ["self"],
        Filters: [{ Name: "tag:kiln:managed", Values: ["true"] }],
        MaxResults: 2,
        NextToken: "page-3",
      },
    ]);
  });

  it("reads pages of 1000 unless told otherwise", async () => {
    mock.on(DescribeImagesCommand).resolves({ Images: [] });
    await new Ec2ImageInventory(ec2).listManaged();
    expect(mock.commandCalls(DescribeImagesCommand)[0]?.args[0].input.MaxResults).toBe(1000);
  });

  it("fails rather than loop when a page token comes back twice", async () => {
    mock.on(DescribeImagesCommand).resolves({ Images: [sdkImage("ami-001")], NextToken: "same" });
    await expect(new Ec2ImageInventory(ec2).listManaged()).rejects.toThrow(
      "returned the page token same twice",
    );
    expect(mock.commandCalls(DescribeImagesCommand)).toHaveLength(2);
  });

  it("turns a throttled page into TransientAwsError", async () => {
    mock.on(DescribeImagesCommand).rejects(awsError("RequestLimitExceeded", 503));
    await expect(new Ec2ImageInventory(ec2).listManaged()).rejects.toBeInstanceOf(TransientAwsError);
  });
});

describe("Ec2ImageInventory.remove", () => {
  it("deregisters the image with its snapshots in one call when EC2 deletes them all", async () => {
    mock.on(DeregisterImageCommand).resolves({
      Return: true,
      DeleteSnapshotResults: [
        { SnapshotId: "snap-1", ReturnCode: "success" },
        { SnapshotId: "snap-2", ReturnCode: "success" },
      ],
    });
    const removal = await new Ec2ImageInventory(ec2).remove({
      imageId: "ami-001",
      snapshotIds: ["snap-1", "snap-2"],
    });
    expect(removal).toEqual({
      imageId: "ami-001",
      deregistered: true,
      deletedSnapshotIds: ["snap-1", "snap-2"],
      keptSnapshots: [],
    });
    expect(mock.commandCalls(DeregisterImageCommand)[0]?.args[0].input).toEqual({
      ImageId: "ami-001",
      DeleteAssociatedSnapshots: true,
    });
    expect(mock.commandCalls(DeleteSnapshotCommand)).toHaveLength(0);
  });

  it("deletes each snapshot EC2 did not, tolerating one already gone and leaving one another image uses", async () => {
    mock.on(DeregisterImageCommand).resolves({
      Return: true,
      DeleteSnapshotResults: [{ SnapshotId: "snap-1", ReturnCode: "client-error" }],
    });
    mock
      .on(DeleteSnapshotCommand, { SnapshotId: "snap-1" })
      .rejects(awsError("InvalidSnapshot.InUse"))
      .on(DeleteSnapshotCommand, { SnapshotId: "snap-2" })
      .rejects(awsError("InvalidSnapshot.NotFound"))
      .on(DeleteSnapshotCommand, { SnapshotId: "snap-3" })
      .resolves({});
    const removal = await new Ec2ImageInventory(ec2).remove({
      imageId: "ami-001",
      snapshotIds: ["snap-1", "snap-2", "snap-3"],
    });
    expect(removal).toEqual({
      imageId: "ami-001",
      deregistered: true,
      deletedSnapshotIds: ["snap-2", "snap-3"],
      keptSnapshots: [{ snapshotId: "snap-1", reason: "another image still uses it" }],
    });
    expect(mock.commandCalls(DeleteSnapshotCommand).map((call) => call.args[0].input.SnapshotId)).toEqual([
      "snap-1",
      "snap-2",
      "snap-3",
    ]);
  });

  it("still deletes the snapshots of an image that is already deregistered", async () => {
    mock.on(DeregisterImageCommand).rejects(awsError("InvalidAMIID.NotFound"));
    mock.on(DeleteSnapshotCommand).resolves({});
    const removal = await new Ec2ImageInventory(ec2).remove({ imageId: "ami-001", snapshotIds: ["snap-1"] });
    expect(removal).toEqual({
      imageId: "ami-001",
      deregistered: false,
      deletedSnapshotIds: ["snap-1"],
      keptSnapshots: [],
    });
  });

  it("does not touch the snapshots when the image cannot be deregistered", async () => {
    mock.on(DeregisterImageCommand).rejects(awsError("UnauthorizedOperation", 403));
    await expect(
      new Ec2ImageInventory(ec2).remove({ imageId: "ami-001", snapshotIds: ["snap-1"] }),
    ).rejects.toThrow("UnauthorizedOperation");
    expect(mock.commandCalls(DeleteSnapshotCommand)).toHaveLength(0);
  });
});
