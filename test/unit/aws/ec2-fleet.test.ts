import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  EC2Client,
  GetConsoleOutputCommand,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { Ec2Fleet } from "../../../core/aws/ec2-fleet.ts";
import { ResourceNotFoundError, TransientAwsError } from "../../../core/errors.ts";
import type { LaunchBuilderRequest, LaunchCanaryRequest } from "../../../core/ports.ts";
import { clientConfig, sdkError } from "./sdk-error.ts";

const deploymentId = "d-0123456789abcdefghijklmn";

const builderRequest: LaunchBuilderRequest = {
  deploymentId,
  service: "hello-service",
  version: "1.2.3",
  baseImageId: "ami-0aaaaaaaaaaaaaaa0",
  instanceType: "t3.small",
  subnetId: "subnet-0123456789abcdef0",
  securityGroupIds: ["sg-0123456789abcdef0"],
  userData: "#!/bin/bash\necho bake\n",
  tags: {
    "kiln:managed": "true",
    "kiln:deployment-id": deploymentId,
    "kiln:role": "builder",
    "kiln:artifact-sha256": "ab12",
  },
};

const canaryRequest: LaunchCanaryRequest = {
  deploymentId,
  service: "hello-service",
  imageId: "ami-0bbbbbbbbbbbbbbb0",
  launchTemplateId: "lt-0123456789abcdef0",
  launchTemplateVersion: "7",
  tags: { "kiln:managed": "true", "kiln:deployment-id": deploymentId, "kiln:role": "canary" },
};

describe("Ec2Fleet", () => {
  const ec2 = new EC2Client(clientConfig);
  const mock = mockClient(ec2);
  const fleet = new Ec2Fleet("kiln-builder", ec2);

  function runInput(index = 0): RunInstancesCommandInput {
    const call = mock.commandCalls(RunInstancesCommand)[index];
    if (!call) throw new Error(`no RunInstances call ${index}`);
    return call.args[0].input;
  }

  beforeEach(() => {
    mock.reset();
    mock
      .on(RunInstancesCommand)
      .resolves({ Instances: [{ InstanceId: "i-0123456789abcdef0", State: { Name: "pending", Code: 0 } }] });
    mock
      .on(DescribeImagesCommand)
      .resolves({ Images: [{ ImageId: "ami-0aaaaaaaaaaaaaaa0", RootDeviceName: "/dev/xvda" }] });
  });

  describe("launchBuilder", () => {
    it("requires IMDSv2 and encrypts the builder's volume", async () => {
      await fleet.launchBuilder(builderRequest);

      expect(runInput().MetadataOptions).toMatchObject({ HttpTokens: "required", HttpEndpoint: "enabled" });
      expect(runInput().BlockDeviceMappings).toEqual([
        expect.objectContaining({ Ebs: expect.objectContaining({ Encrypted: true }) }),
      ]);
    });

    it("tags the instance and its volume with the deployment's provenance and the builder role", async () => {
      await fleet.launchBuilder(builderRequest);

      const tags = Object.entries(builderRequest.tags).map(([Key, Value]) => ({ Key, Value }));
      expect(runInput().TagSpecifications).toEqual([
        { ResourceType: "instance", Tags: tags },
        { ResourceType: "volume", Tags: tags },
      ]);
      expect(tags).toContainEqual({ Key: "kiln:role", Value: "builder" });
    });

    it("launches the base image with the instance profile, stopping (not terminating) when the bake shuts down", async () => {
      await fleet.launchBuilder(builderRequest);

      expect(runInput()).toMatchObject({
        ImageId: "ami-0aaaaaaaaaaaaaaa0",
        InstanceType: "t3.small",
        MinCount: 1,
        MaxCount: 1,
        SubnetId: "subnet-0123456789abcdef0",
        SecurityGroupIds: ["sg-0123456789abcdef0"],
        IamInstanceProfile: { Name: "kiln-builder" },
        InstanceInitiatedShutdownBehavior: "stop",
      });
    });

    it("encrypts the base image's own root device, whatever its name", async () => {
      // Ubuntu and Debian images boot from /dev/sda1: a mapping for any other name adds a second,
      // sizeless volume, which RunInstances refuses ("specify either a snapshot ID or a volume size").
      mock.on(DescribeImagesCommand).resolves({
        Images: [{ ImageId: "ami-0aaaaaaaaaaaaaaa0", RootDeviceName: "/dev/sda1", RootDeviceType: "ebs" }],
      });

      await fleet.launchBuilder(builderRequest);

      expect(runInput().BlockDeviceMappings).toEqual([
        { DeviceName: "/dev/sda1", Ebs: expect.objectContaining({ Encrypted: true }) },
      ]);
    });

    it("fails with ResourceNotFoundError, launching nothing, when the base image does not exist", async () => {
      mock.on(DescribeImagesCommand).resolves({ Images: [] });

      await expect(fleet.launchBuilder(builderRequest)).rejects.toThrow(ResourceNotFoundError);
      expect(mock.commandCalls(RunInstancesCommand)).toEqual([]);
    });

    it("sends the user data base64-encoded", async () => {
      await fleet.launchBuilder(builderRequest);

      expect(Buffer.from(runInput().UserData ?? "", "base64").toString("utf8")).toBe(builderRequest.userData);
    });

    it("derives the client token from the deployment: the same deployment gets the same token, another gets another", async () => {
      await fleet.launchBuilder(builderRequest);
      await fleet.launchBuilder(builderRequest);
      await fleet.launchBuilder({ ...builderRequest, deploymentId: "d-zyxwvutsrqponmlkjihgfedc" });

      const [first, retry, other] = [runInput(0), runInput(1), runInput(2)].map((input) => input.ClientToken);
      expect(first).toContain(deploymentId);
      expect(retry).toBe(first);
      expect(other).not.toBe(first);
      expect(first?.length).toBeLessThanOrEqual(64);
    });

    it("lets the default security group apply when the service names none", async () => {
      await fleet.launchBuilder({ ...builderRequest, securityGroupIds: [] });

      expect(runInput().SecurityGroupIds).toBeUndefined();
    });

    it("returns the launched instance", async () => {
      const instance = await fleet.launchBuilder(builderRequest);

      expect(instance).toEqual({ instanceId: "i-0123456789abcdef0", state: "pending" });
    });

    it("turns EC2 throttling into a TransientAwsError the workflow retries", async () => {
      mock.on(RunInstancesCommand).rejects(sdkError("RequestLimitExceeded", { status: 503 }));

      await expect(fleet.launchBuilder(builderRequest)).rejects.toThrow(TransientAwsError);
    });
  });

  describe("launchCanary", () => {
    it("launches the group's launch template at its exact version with the new image, requiring IMDSv2", async () => {
      await fleet.launchCanary(canaryRequest);

      expect(runInput()).toMatchObject({
        LaunchTemplate: { LaunchTemplateId: "lt-0123456789abcdef0", Version: "7" },
        ImageId: "ami-0bbbbbbbbbbbbbbb0",
        MinCount: 1,
        MaxCount: 1,
        MetadataOptions: { HttpTokens: "required" },
      });
    });

    it("launches the canary into the group's subnet, since the group's template names none", async () => {
      await fleet.launchCanary({ ...canaryRequest, subnetId: "subnet-0aaaaaaaaaaaaaaa1" });

      expect(runInput().SubnetId).toBe("subnet-0aaaaaaaaaaaaaaa1");
    });

    it("tags the canary and its volume, with a client token of its own", async () => {
      await fleet.launchBuilder(builderRequest);
      await fleet.launchCanary(canaryRequest);

      const canary = runInput(1);
      const tags = Object.entries(canaryRequest.tags).map(([Key, Value]) => ({ Key, Value }));
      expect(canary.TagSpecifications).toEqual([
        { ResourceType: "instance", Tags: tags },
        { ResourceType: "volume", Tags: tags },
      ]);
      expect(canary.ClientToken).toContain(deploymentId);
      expect(canary.ClientToken).not.toBe(runInput(0).ClientToken);
    });
  });

  describe("describe", () => {
    it.each(["pending", "running", "stopping", "stopped", "shutting-down", "terminated"] as const)(
      "maps the EC2 state %s",
      async (state) => {
        mock
          .on(DescribeInstancesCommand)
          .resolves({ Reservations: [{ Instances: [{ InstanceId: "i-1", State: { Name: state } }] }] });

        expect((await fleet.describe("i-1"))?.state).toBe(state);
      },
    );

    it("reads the private address, launch time and state reason", async () => {
      mock.on(DescribeInstancesCommand, { InstanceIds: ["i-1"] }).resolves({
        Reservations: [
          {
            Instances: [
              {
                InstanceId: "i-1",
                State: { Name: "stopped" },
                PrivateIpAddress: "10.0.1.23",
                LaunchTime: new Date("2026-03-02T10:00:00Z"),
                StateReason: {
                  Code: "Client.InstanceInitiatedShutdown",
                  Message: "Client.InstanceInitiatedShutdown: Instance initiated shutdown",
                },
              },
            ],
          },
        ],
      });

      expect(await fleet.describe("i-1")).toEqual({
        instanceId: "i-1",
        state: "stopped",
        privateIp: "10.0.1.23",
        launchedAt: "2026-03-02T10:00:00.000Z",
        stateReason: "Client.InstanceInitiatedShutdown: Instance initiated shutdown",
      });
    });

    it("answers undefined for an instance EC2 no longer knows", async () => {
      mock.on(DescribeInstancesCommand).rejects(sdkError("InvalidInstanceID.NotFound"));

      expect(await fleet.describe("i-gone")).toBeUndefined();
    });
  });

  describe("consoleOutput", () => {
    it("asks for the latest output and decodes it from base64", async () => {
      mock
        .on(GetConsoleOutputCommand)
        .resolves({ Output: Buffer.from("KILN-BAKE: OK\n").toString("base64") });

      const output = await fleet.consoleOutput("i-1");

      expect(output).toBe("KILN-BAKE: OK\n");
      expect(mock.commandCalls(GetConsoleOutputCommand)[0]?.args[0].input).toEqual({
        InstanceId: "i-1",
        Latest: true,
      });
    });

    it("answers an empty string while there is no output yet", async () => {
      mock.on(GetConsoleOutputCommand).resolves({});

      expect(await fleet.consoleOutput("i-1")).toBe("");
    });
  });

  describe("findForDeployment", () => {
    it("filters by the deployment and role tags and by live states, reading every page", async () => {
      mock
        .on(DescribeInstancesCommand)
        .resolvesOnce({
          Reservations: [{ Instances: [{ InstanceId: "i-1", State: { Name: "running" } }] }],
          NextToken: "page-2",
        })
        .resolvesOnce({ Reservations: [{ Instances: [{ InstanceId: "i-2", State: { Name: "stopped" } }] }] });

      const found = await fleet.findForDeployment(deploymentId, "canary");

      expect(found.map((instance) => instance.instanceId)).toEqual(["i-1", "i-2"]);
      const calls = mock.commandCalls(DescribeInstancesCommand).map((call) => call.args[0].input);
      expect(calls[0]?.Filters).toEqual([
        { Name: "tag:kiln:deployment-id", Values: [deploymentId] },
        { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
        { Name: "tag:kiln:role", Values: ["canary"] },
      ]);
      expect(calls.map((input) => input.NextToken)).toEqual([undefined, "page-2"]);
    });

    it("looks for every role when none is named", async () => {
      mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });

      await fleet.findForDeployment(deploymentId);

      const filters = mock.commandCalls(DescribeInstancesCommand)[0]?.args[0].input.Filters ?? [];
      expect(filters.map((filter) => filter.Name)).toEqual(["tag:kiln:deployment-id", "instance-state-name"]);
    });
  });

  describe("terminate", () => {
    it("terminates the instances named", async () => {
      mock.on(TerminateInstancesCommand).resolves({});

      await fleet.terminate(["i-1", "i-2"]);

      expect(mock.commandCalls(TerminateInstancesCommand)[0]?.args[0].input).toEqual({
        InstanceIds: ["i-1", "i-2"],
      });
    });

    it("treats instances already gone as terminated", async () => {
      mock.on(TerminateInstancesCommand).rejects(sdkError("InvalidInstanceID.NotFound"));

      await expect(fleet.terminate(["i-gone"])).resolves.toBeUndefined();
    });

    it("lets other failures through", async () => {
      mock.on(TerminateInstancesCommand).rejects(sdkError("UnauthorizedOperation", { status: 403 }));

      await expect(fleet.terminate(["i-1"])).rejects.toThrow("UnauthorizedOperation happened");
    });

    it("calls nothing for an empty list", async () => {
      await fleet.terminate([]);

      expect(mock.commandCalls(TerminateInstancesCommand)).toEqual([]);
    });
  });
});
