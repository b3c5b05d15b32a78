import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import {
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { Ec2ReferenceScanner } from "../../../core/aws/ec2-reference-scanner.ts";
import { TransientAwsError } from "../../../core/errors.ts";

const autoScaling = new AutoScalingClient({ region: "us-east-1" });
const ec2 = new EC2Client({ region: "us-east-1" });
const asMock = mockClient(autoScaling);
const ec2Mock = mockClient(ec2);

const liveStates = ["pending", "running", "shutting-down", "stopping", "stopped"];

function group(name: string, fields: Record<string, unknown>) {
  return {
    AutoScalingGroupName: name,
    MinSize: 0,
    MaxSize: 4,
    DesiredCapacity: 1,
    DefaultCooldown: 300,
    AvailabilityZones: [],
    HealthCheckType: "EC2",
    CreatedTime: new Date(),
    ...fields,
  };
}

function instance(id: string, imageId: string, state: string) {
  return { InstanceId: id, ImageId: imageId, State: { Name: state as "running" } };
}

beforeEach(() => {
  asMock.reset();
  ec2Mock.reset();
});

describe("Ec2ReferenceScanner", () => {
  it("reads every version of each group's templates and every live instance, page by page", async () => {
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        group("web", {
          LaunchTemplate: { LaunchTemplateId: "lt-web", Version: "$Latest" },
          Instances: [
            {
              InstanceId: "i-1",
              LifecycleState: "InService",
              HealthStatus: "Healthy",
              AvailabilityZone: "a",
              ProtectedFromScaleIn: false,
            },
          ],
        }),
      ],
    });
    ec2Mock
      .on(DescribeLaunchTemplateVersionsCommand)
      .resolvesOnce({
        LaunchTemplateVersions: [
          {
            LaunchTemplateId: "lt-web",
            VersionNumber: 3,
            DefaultVersion: false,
            LaunchTemplateData: { ImageId: "ami-3" },
          },
        ],
        NextToken: "v2",
      })
      .resolvesOnce({
        LaunchTemplateVersions: [
          {
            LaunchTemplateId: "lt-web",
            VersionNumber: 2,
            DefaultVersion: true,
            LaunchTemplateData: { ImageId: "ami-2" },
          },
          { LaunchTemplateId: "lt-web", VersionNumber: 1, DefaultVersion: false, LaunchTemplateData: {} },
        ],
      });
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolvesOnce({ Reservations: [{ Instances: [instance("i-1", "ami-3", "running")] }], NextToken: "i2" })
      .resolvesOnce({ Reservations: [{ Instances: [instance("i-7", "ami-1", "stopped")] }] });

    const scan = await new Ec2ReferenceScanner(autoScaling, ec2, { versions: 2, instances: 5 }).scan([
      { groupName: "web", launchTemplateId: "lt-web" },
    ]);

    expect(scan).toEqual({
      groups: [
        {
          groupName: "web",
          launchTemplates: [{ launchTemplateId: "lt-web", version: "$Latest" }],
          instanceIds: ["i-1"],
        },
      ],
      templateVersions: {
        "lt-web": [
          { launchTemplateId: "lt-web", versionNumber: 3, isDefault: false, imageId: "ami-3" },
          { launchTemplateId: "lt-web", versionNumber: 2, isDefault: true, imageId: "ami-2" },
          { launchTemplateId: "lt-web", versionNumber: 1, isDefault: false, imageId: undefined },
        ],
      },
      instances: [
        { instanceId: "i-1", imageId: "ami-3", state: "running" },
        { instanceId: "i-7", imageId: "ami-1", state: "stopped" },
      ],
    });
    expect(asMock.commandCalls(DescribeAutoScalingGroupsCommand)[0]?.args[0].input).toEqual({
      AutoScalingGroupNames: ["web"],
      MaxRecords: 100,
      NextToken: undefined,
    });
    expect(
      ec2Mock.commandCalls(DescribeLaunchTemplateVersionsCommand).map((call) => call.args[0].input),
    ).toEqual([
      { LaunchTemplateId: "lt-web", MaxResults: 2, NextToken: undefined },
      { LaunchTemplateId: "lt-web", MaxResults: 2, NextToken: "v2" },
    ]);
    expect(ec2Mock.commandCalls(DescribeInstancesCommand).map((call) => call.args[0].input)).toEqual([
      { Filters: [{ Name: "instance-state-name", Values: liveStates }], MaxResults: 5, NextToken: undefined },
      { Filters: [{ Name: "instance-state-name", Values: liveStates }], MaxResults: 5, NextToken: "i2" },
    ]);
  });

  it("scans the templates of a mixed instances policy and the registered template when the group uses another", async () => {
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        group("web", {
          MixedInstancesPolicy: {
            LaunchTemplate: {
              LaunchTemplateSpecification: { LaunchTemplateId: "lt-mixed" },
              Overrides: [
                {
                  InstanceType: "t3.large",
                  LaunchTemplateSpecification: { LaunchTemplateId: "lt-large", Version: "4" },
                },
              ],
            },
          },
        }),
      ],
    });
    ec2Mock.on(DescribeLaunchTemplateVersionsCommand).resolves({ LaunchTemplateVersions: [] });
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    const scan = await new Ec2ReferenceScanner(autoScaling, ec2).scan([
      { groupName: "web", launchTemplateId: "lt-registered" },
    ]);
    expect(scan.groups[0]?.launchTemplates).toEqual([
      { launchTemplateId: "lt-mixed", version: "$Default" },
      { launchTemplateId: "lt-large", version: "4" },
    ]);
    expect(
      ec2Mock
        .commandCalls(DescribeLaunchTemplateVersionsCommand)
        .map((call) => call.args[0].input.LaunchTemplateId),
    ).toEqual(["lt-large", "lt-mixed", "lt-registered"]);
    expect(scan.templateVersions).toEqual({ "lt-large": [], "lt-mixed": [], "lt-registered": [] });
  });

  it("looks up by id a group instance the live listing missed, in whatever state it is now", async () => {
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        group("web", {
          LaunchTemplate: { LaunchTemplateId: "lt-web", Version: "1" },
          Instances: ["i-1", "i-2"].map((InstanceId) => ({
            InstanceId,
            LifecycleState: "InService",
            HealthStatus: "Healthy",
            AvailabilityZone: "a",
            ProtectedFromScaleIn: false,
          })),
        }),
      ],
    });
    ec2Mock.on(DescribeLaunchTemplateVersionsCommand).resolves({ LaunchTemplateVersions: [] });
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolvesOnce({ Reservations: [{ Instances: [instance("i-1", "ami-3", "running")] }] })
      .resolvesOnce({ Reservations: [{ Instances: [instance("i-2", "ami-3", "terminated")] }] });
    const scan = await new Ec2ReferenceScanner(autoScaling, ec2).scan([
      { groupName: "web", launchTemplateId: "lt-web" },
    ]);
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)[1]?.args[0].input).toEqual({
      InstanceIds: ["i-2"],
      NextToken: undefined,
    });
    expect(scan.instances).toContainEqual({ instanceId: "i-2", imageId: "ami-3", state: "terminated" });
  });

  it("asks for groups 50 names at a time and makes a number of calls that grows with pages, not images", async () => {
    const names = Array.from({ length: 120 }, (_, index) => `svc-${index}`);
    asMock.on(DescribeAutoScalingGroupsCommand).callsFake((input: { AutoScalingGroupNames: string[] }) => ({
      AutoScalingGroups: input.AutoScalingGroupNames.map((name) =>
        group(name, { LaunchTemplate: { LaunchTemplateId: `lt-${name}`, Version: "1" } }),
      ),
    }));
    ec2Mock.on(DescribeLaunchTemplateVersionsCommand).resolves({ LaunchTemplateVersions: [] });
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: Array.from({ length: 900 }, (_, index) =>
            instance(`i-${index}`, `ami-${index}`, "running"),
          ),
        },
      ],
    });
    const scan = await new Ec2ReferenceScanner(autoScaling, ec2).scan(
      names.map((name) => ({ groupName: name, launchTemplateId: `lt-${name}` })),
    );
    expect(scan.groups).toHaveLength(120);
    expect(
      asMock
        .commandCalls(DescribeAutoScalingGroupsCommand)
        .map((call) => call.args[0].input.AutoScalingGroupNames?.length),
    ).toEqual([50, 50, 20]);
    expect(ec2Mock.commandCalls(DescribeLaunchTemplateVersionsCommand)).toHaveLength(120);
    expect(ec2Mock.commandCalls(DescribeInstancesCommand)).toHaveLength(1);
  });

  it("fails the scan when a template look-up fails, naming it", async () => {
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [group("web", { LaunchTemplate: { LaunchTemplateId: "lt-web", Version: "1" } })],
    });
    ec2Mock.on(DescribeLaunchTemplateVersionsCommand).rejects(
      Object.assign(new Error("We encountered an internal error"), {
        name: "InternalError",
        $metadata: { httpStatusCode: 500 },
      }),
    );
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    const scan = new Ec2ReferenceScanner(autoScaling, ec2).scan([
      { groupName: "web", launchTemplateId: "lt-web" },
    ]);
    await expect(scan).rejects.toBeInstanceOf(TransientAwsError);
    await expect(scan).rejects.toThrow("DescribeLaunchTemplateVersions lt-web");
  });

  it("fails the scan when a template does not exist", async () => {
    asMock.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    ec2Mock
      .on(DescribeLaunchTemplateVersionsCommand)
      .rejects(Object.assign(new Error("not found"), { name: "InvalidLaunchTemplateId.NotFound" }));
    const scan = new Ec2ReferenceScanner(autoScaling, ec2).scan([
      { groupName: "web", launchTemplateId: "lt-web" },
    ]);
    await expect(scan).rejects.toMatchObject({ name: "InvalidLaunchTemplateId.NotFound" });
  });
});
