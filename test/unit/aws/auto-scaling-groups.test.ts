import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  InstanceRefreshStatus,
  RollbackInstanceRefreshCommand,
  StartInstanceRefreshCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  CreateLaunchTemplateVersionCommand,
  DescribeLaunchTemplatesCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { AutoScalingGroups } from "../../../core/aws/auto-scaling-groups.ts";
import { ResourceNotFoundError, ServiceConfigError } from "../../../core/errors.ts";
import type { RefreshStatus, RolloutPreferences } from "../../../core/ports.ts";
import { clientConfig, sdkError } from "./sdk-error.ts";

const preferences: RolloutPreferences = {
  minHealthyPercentage: 90,
  instanceWarmupSeconds: 60,
  skipMatching: true,
  autoRollback: true,
};
const refreshRequest = {
  groupName: "hello-service-asg",
  launchTemplateId: "lt-0123456789abcdef0",
  version: "8",
  preferences,
};

describe("AutoScalingGroups", () => {
  const autoScaling = new AutoScalingClient(clientConfig);
  const ec2 = new EC2Client(clientConfig);
  const asgMock = mockClient(autoScaling);
  const ec2Mock = mockClient(ec2);
  const groups = new AutoScalingGroups(autoScaling, ec2);

  beforeEach(() => {
    asgMock.reset();
    ec2Mock.reset();
  });

  describe("describeGroup", () => {
    it("reads the group's launch template and version as the group names it", async () => {
      asgMock
        .on(DescribeAutoScalingGroupsCommand, { AutoScalingGroupNames: ["hello-service-asg"] })
        .resolves({
          AutoScalingGroups: [
            {
              AutoScalingGroupName: "hello-service-asg",
              LaunchTemplate: { LaunchTemplateId: "lt-0123456789abcdef0", Version: "$Latest" },
              DesiredCapacity: 3,
              VPCZoneIdentifier: "subnet-0aaaaaaaaaaaaaaa1, subnet-0aaaaaaaaaaaaaaa2",
            } as never,
          ],
        });

      expect(await groups.describeGroup("hello-service-asg")).toEqual({
        name: "hello-service-asg",
        launchTemplateId: "lt-0123456789abcdef0",
        launchTemplateVersion: "$Latest",
        desiredCapacity: 3,
        subnetIds: ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
      });
    });

    it("fails with ResourceNotFoundError for a group that does not exist", async () => {
      asgMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });

      await expect(groups.describeGroup("nope")).rejects.toThrow(
        new ResourceNotFoundError('auto-scaling group "nope" does not exist'),
      );
    });

    it("fails with ServiceConfigError for a group without a launch template", async () => {
      asgMock
        .on(DescribeAutoScalingGroupsCommand)
        .resolves({ AutoScalingGroups: [{ AutoScalingGroupName: "mixed" } as never] });

      await expect(groups.describeGroup("mixed")).rejects.toThrow(ServiceConfigError);
    });
  });

  describe("resolveTemplateVersion", () => {
    beforeEach(() => {
      ec2Mock.on(DescribeLaunchTemplatesCommand, { LaunchTemplateIds: ["lt-0123456789abcdef0"] }).resolves({
        LaunchTemplates: [
          { LaunchTemplateId: "lt-0123456789abcdef0", LatestVersionNumber: 9, DefaultVersionNumber: 4 },
        ],
      });
    });

    it.each([
      ["$Latest", "9"],
      ["$Default", "4"],
    ])("maps %s to the number it stands for", async (version, number) => {
      expect(await groups.resolveTemplateVersion("lt-0123456789abcdef0", version)).toBe(number);
    });

    it("keeps a number as it is without asking EC2", async () => {
      expect(await groups.resolveTemplateVersion("lt-0123456789abcdef0", "7")).toBe("7");
      expect(ec2Mock.commandCalls(DescribeLaunchTemplatesCommand)).toEqual([]);
    });

    it("fails with ResourceNotFoundError for a launch template that does not exist", async () => {
      ec2Mock.on(DescribeLaunchTemplatesCommand).rejects(sdkError("InvalidLaunchTemplateId.NotFound"));

      await expect(groups.resolveTemplateVersion("lt-0000000000000dead", "$Latest")).rejects.toThrow(
        ResourceNotFoundError,
      );
    });
  });

  describe("createTemplateVersion", () => {
    it("bases the version on the source version, swapping in the image and requiring IMDSv2, idempotent by token", async () => {
      ec2Mock
        .on(CreateLaunchTemplateVersionCommand)
        .resolves({ LaunchTemplateVersion: { VersionNumber: 8 } });

      const version = await groups.createTemplateVersion({
        launchTemplateId: "lt-0123456789abcdef0",
        sourceVersion: "7",
        imageId: "ami-0bbbbbbbbbbbbbbb0",
        description: "kiln d-1: hello-service 1.2.3",
        clientToken: "d-0123456789abcdefghijklmn-template",
      });

      expect(version).toBe("8");
      expect(ec2Mock.commandCalls(CreateLaunchTemplateVersionCommand)[0]?.args[0].input).toEqual({
        LaunchTemplateId: "lt-0123456789abcdef0",
        SourceVersion: "7",
        VersionDescription: "kiln d-1: hello-service 1.2.3",
        ClientToken: "d-0123456789abcdefghijklmn-template",
        LaunchTemplateData: {
          ImageId: "ami-0bbbbbbbbbbbbbbb0",
          MetadataOptions: expect.objectContaining({ HttpTokens: "required" }),
        },
      });
    });
  });

  describe("setGroupTemplateVersion", () => {
    it("points the group at the exact version", async () => {
      asgMock.on(UpdateAutoScalingGroupCommand).resolves({});

      await groups.setGroupTemplateVersion("hello-service-asg", "lt-0123456789abcdef0", "7");

      expect(asgMock.commandCalls(UpdateAutoScalingGroupCommand)[0]?.args[0].input).toEqual({
        AutoScalingGroupName: "hello-service-asg",
        LaunchTemplate: { LaunchTemplateId: "lt-0123456789abcdef0", Version: "7" },
      });
    });
  });

  describe("startRefresh", () => {
    it("starts a rolling refresh towards the exact version with the service's preferences", async () => {
      asgMock.on(StartInstanceRefreshCommand).resolves({ InstanceRefreshId: "refresh-1" });

      const refreshId = await groups.startRefresh(refreshRequest);

      expect(refreshId).toBe("refresh-1");
      expect(asgMock.commandCalls(StartInstanceRefreshCommand)[0]?.args[0].input).toEqual({
        AutoScalingGroupName: "hello-service-asg",
        Strategy: "Rolling",
        DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: "lt-0123456789abcdef0", Version: "8" } },
        Preferences: { MinHealthyPercentage: 90, InstanceWarmup: 60, SkipMatching: true, AutoRollback: true },
      });
    });

    it("never names $Latest or $Default as the desired version", async () => {
      asgMock.on(StartInstanceRefreshCommand).resolves({ InstanceRefreshId: "refresh-1" });

      await groups.startRefresh(refreshRequest);

      const version =
        asgMock.commandCalls(StartInstanceRefreshCommand)[0]?.args[0].input.DesiredConfiguration
          ?.LaunchTemplate?.Version;
      expect(version).toMatch(/^\d+$/);
    });

    it("adopts the refresh a first attempt started towards the same version", async () => {
      asgMock.on(StartInstanceRefreshCommand).rejects(sdkError("InstanceRefreshInProgressFault"));
      asgMock.on(DescribeInstanceRefreshesCommand).resolves({
        InstanceRefreshes: [
          {
            InstanceRefreshId: "refresh-1",
            Status: "InProgress",
            DesiredConfiguration: {
              LaunchTemplate: { LaunchTemplateId: "lt-0123456789abcdef0", Version: "8" },
            },
          },
        ],
      });

      expect(await groups.startRefresh(refreshRequest)).toBe("refresh-1");
    });

    it("refuses to adopt a refresh someone else started towards another version", async () => {
      asgMock.on(StartInstanceRefreshCommand).rejects(sdkError("InstanceRefreshInProgressFault"));
      asgMock.on(DescribeInstanceRefreshesCommand).resolves({
        InstanceRefreshes: [
          {
            InstanceRefreshId: "refresh-other",
            Status: "InProgress",
            DesiredConfiguration: {
              LaunchTemplate: { LaunchTemplateId: "lt-0123456789abcdef0", Version: "5" },
            },
          },
        ],
      });

      await expect(groups.startRefresh(refreshRequest)).rejects.toThrow(
        new ServiceConfigError('group "hello-service-asg" is already being refreshed by someone else'),
      );
    });
  });

  describe("describeRefresh", () => {
    const expected: Record<InstanceRefreshStatus, RefreshStatus> = {
      Pending: "RUNNING",
      InProgress: "RUNNING",
      Baking: "RUNNING",
      Successful: "SUCCEEDED",
      Failed: "FAILED",
      Cancelling: "ROLLING_BACK",
      Cancelled: "FAILED",
      RollbackInProgress: "ROLLING_BACK",
      RollbackSuccessful: "ROLLED_BACK",
      RollbackFailed: "FAILED",
    };

    it.each(Object.values(InstanceRefreshStatus).map((status) => [status, expected[status]]))(
      "reads the AWS status %s as %s",
      async (status, mapped) => {
        asgMock.on(DescribeInstanceRefreshesCommand).resolves({
          InstanceRefreshes: [
            {
              InstanceRefreshId: "refresh-1",
              Status: status as InstanceRefreshStatus,
              PercentageComplete: 50,
            },
          ],
        });

        const refresh = await groups.describeRefresh("hello-service-asg", "refresh-1");

        expect(refresh.status).toBe(mapped);
      },
    );

    it("asks for the one refresh and reads its progress and both reasons", async () => {
      asgMock.on(DescribeInstanceRefreshesCommand).resolves({
        InstanceRefreshes: [
          {
            InstanceRefreshId: "refresh-1",
            Status: "RollbackSuccessful",
            PercentageComplete: 40,
            StatusReason: "2 instances failed health checks",
            RollbackDetails: { RollbackReason: "Rollback started by AutoRollback" },
          },
        ],
      });

      const refresh = await groups.describeRefresh("hello-service-asg", "refresh-1");

      expect(refresh).toEqual({
        refreshId: "refresh-1",
        status: "ROLLED_BACK",
        percentComplete: 40,
        reason: "2 instances failed health checks — Rollback started by AutoRollback",
      });
      expect(asgMock.commandCalls(DescribeInstanceRefreshesCommand)[0]?.args[0].input).toEqual({
        AutoScalingGroupName: "hello-service-asg",
        InstanceRefreshIds: ["refresh-1"],
      });
    });

    it("fails with ResourceNotFoundError for an unknown refresh", async () => {
      asgMock.on(DescribeInstanceRefreshesCommand).resolves({ InstanceRefreshes: [] });

      await expect(groups.describeRefresh("hello-service-asg", "refresh-x")).rejects.toThrow(
        ResourceNotFoundError,
      );
    });
  });

  describe("rollbackRefresh", () => {
    it("rolls back the group's refresh in progress", async () => {
      asgMock.on(RollbackInstanceRefreshCommand).resolves({ InstanceRefreshId: "refresh-1" });

      expect(await groups.rollbackRefresh("hello-service-asg")).toBe(true);
      expect(asgMock.commandCalls(RollbackInstanceRefreshCommand)[0]?.args[0].input).toEqual({
        AutoScalingGroupName: "hello-service-asg",
      });
    });

    it.each([["ActiveInstanceRefreshNotFoundFault"], ["IrreversibleInstanceRefreshFault"]])(
      "answers false when AWS says %s",
      async (code) => {
        asgMock.on(RollbackInstanceRefreshCommand).rejects(sdkError(code));

        expect(await groups.rollbackRefresh("hello-service-asg")).toBe(false);
      },
    );

    it("lets other failures through", async () => {
      asgMock.on(RollbackInstanceRefreshCommand).rejects(sdkError("ValidationError"));

      await expect(groups.rollbackRefresh("hello-service-asg")).rejects.toThrow("ValidationError happened");
    });
  });
});
