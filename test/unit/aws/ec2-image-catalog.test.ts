import {
  CreateImageCommand,
  CreateTagsCommand,
  DescribeImagesCommand,
  EC2Client,
  type Image,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { Ec2ImageCatalog } from "../../../core/aws/ec2-image-catalog.ts";
import { clientConfig, sdkError } from "./sdk-error.ts";

const tags = { "kiln:managed": "true", "kiln:cache-key": "ck-1", Name: "hello-service 1.2.3" };
const request = { instanceId: "i-0123456789abcdef0", name: "kiln-hello-service-1.2.3-d-1", tags };

function image(imageId: string, created: string, extraTags: Record<string, string> = {}): Image {
  return {
    ImageId: imageId,
    Name: `image ${imageId}`,
    State: "available",
    CreationDate: created,
    Tags: Object.entries({ "kiln:cache-key": "ck-1", ...extraTags }).map(([Key, Value]) => ({ Key, Value })),
  };
}

describe("Ec2ImageCatalog", () => {
  const ec2 = new EC2Client(clientConfig);
  const mock = mockClient(ec2);
  const catalog = new Ec2ImageCatalog(ec2);

  beforeEach(() => {
    mock.reset();
  });

  describe("createFromInstance", () => {
    it("creates the image without a reboot, tagging the image and its snapshots", async () => {
      mock.on(CreateImageCommand).resolves({ ImageId: "ami-0123456789abcdef0" });

      const imageId = await catalog.createFromInstance(request);

      expect(imageId).toBe("ami-0123456789abcdef0");
      const tagList = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
      expect(mock.commandCalls(CreateImageCommand)[0]?.args[0].input).toMatchObject({
        InstanceId: "i-0123456789abcdef0",
        Name: "kiln-hello-service-1.2.3-d-1",
        NoReboot: true,
        TagSpecifications: [
          { ResourceType: "image", Tags: tagList },
          { ResourceType: "snapshot", Tags: tagList },
        ],
      });
    });

    it("returns the image a first attempt created when a retry hits the duplicate name", async () => {
      mock.on(CreateImageCommand).rejects(sdkError("InvalidAMIName.Duplicate"));
      mock
        .on(DescribeImagesCommand)
        .resolves({ Images: [image("ami-0000000000000first", "2026-03-02T10:00:00.000Z")] });

      const imageId = await catalog.createFromInstance(request);

      expect(imageId).toBe("ami-0000000000000first");
      expect(mock.commandCalls(DescribeImagesCommand)[0]?.args[0].input).toMatchObject({
        Owners: ["self"],
        Filters: [{ Name: "name", Values: [request.name] }],
      });
    });

    it("lets the duplicate-name error through when no image of that name is found", async () => {
      mock.on(CreateImageCommand).rejects(sdkError("InvalidAMIName.Duplicate"));
      mock.on(DescribeImagesCommand).resolves({ Images: [] });

      await expect(catalog.createFromInstance(request)).rejects.toThrow("InvalidAMIName.Duplicate happened");
    });
  });

  describe("findByCacheKey", () => {
    it("looks up available images of this account by the cache key tag", async () => {
      mock.on(DescribeImagesCommand).resolves({ Images: [] });

      await catalog.findByCacheKey("ck-1");

      expect(mock.commandCalls(DescribeImagesCommand)[0]?.args[0].input).toMatchObject({
        Owners: ["self"],
        Filters: [
          { Name: "tag:kiln:cache-key", Values: ["ck-1"] },
          { Name: "state", Values: ["available"] },
        ],
      });
    });

    it("picks the newest image that was not rejected, across pages", async () => {
      mock
        .on(DescribeImagesCommand)
        .resolvesOnce({
          Images: [
            image("ami-old", "2026-01-01T00:00:00.000Z"),
            image("ami-rejected", "2026-03-01T00:00:00.000Z", { "kiln:image-status": "rejected" }),
          ],
          NextToken: "page-2",
        })
        .resolvesOnce({
          Images: [image("ami-newest", "2026-02-01T00:00:00.000Z", { "kiln:image-status": "deployed" })],
        });

      const found = await catalog.findByCacheKey("ck-1");

      expect(found?.imageId).toBe("ami-newest");
      expect(mock.commandCalls(DescribeImagesCommand).map((call) => call.args[0].input.NextToken)).toEqual([
        undefined,
        "page-2",
      ]);
    });

    it("finds nothing when every match was rejected", async () => {
      mock.on(DescribeImagesCommand).resolves({
        Images: [image("ami-rejected", "2026-03-01T00:00:00.000Z", { "kiln:image-status": "rejected" })],
      });

      expect(await catalog.findByCacheKey("ck-1")).toBeUndefined();
    });
  });

  describe("describe", () => {
    it("reads the image's state, reason, tags and snapshots", async () => {
      mock.on(DescribeImagesCommand, { ImageIds: ["ami-1"] }).resolves({
        Images: [
          {
            ImageId: "ami-1",
            Name: "kiln-hello-service-1.2.3-d-1",
            State: "failed",
            StateReason: { Code: "Client.Error", Message: "snapshot failed" },
            CreationDate: "2026-03-02T10:00:00.000Z",
            Tags: [{ Key: "kiln:managed", Value: "true" }],
            BlockDeviceMappings: [
              { DeviceName: "/dev/xvda", Ebs: { SnapshotId: "snap-1" } },
              { DeviceName: "/dev/sdb", VirtualName: "ephemeral0" },
            ],
          },
        ],
      });

      expect(await catalog.describe("ami-1")).toEqual({
        imageId: "ami-1",
        name: "kiln-hello-service-1.2.3-d-1",
        state: "failed",
        stateReason: "snapshot failed",
        createdAt: "2026-03-02T10:00:00.000Z",
        tags: { "kiln:managed": "true" },
        snapshotIds: ["snap-1"],
      });
    });

    it.each([["disabled"], ["transient"], ["error"]])("reads the state %s as other", async (state) => {
      mock
        .on(DescribeImagesCommand)
        .resolves({ Images: [{ ImageId: "ami-1", State: state as Image["State"] }] });

      expect((await catalog.describe("ami-1"))?.state).toBe("other");
    });

    it("answers undefined for an image that does not exist", async () => {
      mock.on(DescribeImagesCommand).rejects(sdkError("InvalidAMIID.NotFound"));

      expect(await catalog.describe("ami-gone")).toBeUndefined();
    });
  });

  describe("tag", () => {
    it("adds the tags to the image", async () => {
      mock.on(CreateTagsCommand).resolves({});

      await catalog.tag("ami-1", { "kiln:image-status": "rejected" });

      expect(mock.commandCalls(CreateTagsCommand)[0]?.args[0].input).toEqual({
        Resources: ["ami-1"],
        Tags: [{ Key: "kiln:image-status", Value: "rejected" }],
      });
    });
  });
});
