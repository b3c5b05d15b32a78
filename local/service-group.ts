/**
 * The AWS side of registering a service on the local cloud: a launch template on the base image
 * (IMDSv2 required) and an empty auto-scaling group whose health check the local Auto Scaling
 * emulator reads from its `kiln:health-*` tags. The first deployment bakes the service's image.
 */
import { type AutoScalingClient, CreateAutoScalingGroupCommand } from "@aws-sdk/client-auto-scaling";
import { CreateLaunchTemplateCommand, type EC2Client } from "@aws-sdk/client-ec2";

export interface ServiceGroupOptions {
  service: string;
  baseImageId: string;
  maxSize?: number;
  healthCheckGracePeriodSeconds?: number;
}

/** Creates the service's launch template and its empty group (named after the service). */
export async function createServiceGroup(
  clients: { ec2: EC2Client; autoScaling: AutoScalingClient },
  options: ServiceGroupOptions,
): Promise<{ launchTemplateId: string }> {
  const { service } = options;
  const template = await clients.ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: `${service}-template`,
      LaunchTemplateData: {
        ImageId: options.baseImageId,
        InstanceType: "t3.micro",
        MetadataOptions: { HttpTokens: "required" },
      },
    }),
  );
  const launchTemplateId = template.LaunchTemplate?.LaunchTemplateId;
  if (!launchTemplateId) throw new Error(`CreateLaunchTemplate for ${service} returned no id`);
  await clients.autoScaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: service,
      LaunchTemplate: { LaunchTemplateId: launchTemplateId, Version: "$Latest" },
      MinSize: 0,
      MaxSize: options.maxSize ?? 10,
      DesiredCapacity: 0,
      HealthCheckGracePeriod: options.healthCheckGracePeriodSeconds ?? 30,
      Tags: [
        { Key: "kiln:health-port", Value: "8080" },
        { Key: "kiln:health-path", Value: "/health" },
        { Key: "kiln:service", Value: service, PropagateAtLaunch: true },
      ],
    }),
  );
  return { launchTemplateId };
}
