/**
 * The demo `npm start` runs on the local cloud: register hello-service and its group of three,
 * then deploy its next version through the real S3 upload path, with progress on screen.
 */

import { join } from "node:path";
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
} from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { packDirectory } from "../cli/artifact-packing.ts";
import { followDeployment } from "../cli/deployment-progress.ts";
import { AutoScalingGroups } from "../core/aws/auto-scaling-groups.ts";
import { DynamoDeploymentHistory } from "../core/aws/dynamo-deployment-history.ts";
import { DynamoServiceRegistry } from "../core/aws/dynamo-service-registry.ts";
import type { Deployment } from "../core/deployment.ts";
import { deploymentIdForObject } from "../core/deployment-id.ts";
import { registerService } from "../core/register-service.ts";
import type { LocalCloud } from "./cloud.ts";
import { createServiceGroup } from "./service-group.ts";

export const demoService = "hello-service";
const capacity = 3;
const example = new URL("../examples/hello-service", import.meta.url).pathname;

export interface DemoClients {
  ec2: EC2Client;
  autoScaling: AutoScalingClient;
  s3: S3Client;
  history: DynamoDeploymentHistory;
  services: DynamoServiceRegistry;
}

export function demoClients(cloud: LocalCloud): DemoClients {
  const table = cloud.env.KILN_TABLE_NAME ?? "kiln";
  return {
    ec2: new EC2Client({}),
    autoScaling: new AutoScalingClient({}),
    s3: new S3Client({ forcePathStyle: true }),
    history: new DynamoDeploymentHistory(table),
    services: new DynamoServiceRegistry(table),
  };
}

/** Creates the group (empty) and registers the service, unless a previous run did. */
async function ensureRegistered(
  cloud: LocalCloud,
  clients: DemoClients,
  say: (line: string) => void,
): Promise<boolean> {
  if (await clients.services.getConfig(demoService)) return false;
  say(`Registering ${demoService}: a launch template on the base image and an empty group`);
  const { launchTemplateId } = await createServiceGroup(clients, {
    service: demoService,
    baseImageId: cloud.baseImageId,
    maxSize: capacity * 2,
  });
  await registerService(
    { services: clients.services, groups: new AutoScalingGroups() },
    {
      name: demoService,
      group: { name: demoService, launchTemplateId },
      baseImageId: cloud.baseImageId,
      builder: { instanceType: "t3.micro" },
      poll: { builderSeconds: 1, imageSeconds: 1, canarySeconds: 1, refreshSeconds: 1 },
      health: { healthyThreshold: 2, timeoutSeconds: 60 },
      rollout: { minHealthyPercentage: 66, instanceWarmupSeconds: 10 },
      notifications: { slack: true, emails: ["team@example.com"] },
    },
  );
  return true;
}

/** Uploads `version` of hello-service to the bucket, exactly as a build would. */
async function upload(cloud: LocalCloud, clients: DemoClients, version: string): Promise<string> {
  const bucket = cloud.env.KILN_ARTIFACT_BUCKET ?? "kiln-artifacts";
  const { body, key } = await packDirectory(example, { version });
  const put = await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return deploymentIdForObject({ bucket, key, etag: put.ETag });
}

async function deploy(
  cloud: LocalCloud,
  clients: DemoClients,
  version: string,
  say: (line: string) => void,
): Promise<Deployment> {
  say(
    `\nUploading ${demoService} ${version} to s3://${cloud.env.KILN_ARTIFACT_BUCKET}/artifacts/${demoService}/${version}.tgz`,
  );
  const id = await upload(cloud, clients, version);
  say(`▸ deployment ${id}`);
  return followDeployment(() => clients.history.get(id), { write: say, intervalMs: 200 });
}

async function waitForHealthyGroup(clients: DemoClients, say: (line: string) => void): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt += 1) {
    const result = await clients.autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [demoService] }),
    );
    const healthy = (result.AutoScalingGroups?.[0]?.Instances ?? []).filter(
      (instance) => instance.LifecycleState === "InService" && instance.HealthStatus === "Healthy",
    ).length;
    if (healthy >= capacity) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  say(`the group did not reach ${capacity} healthy instances in time`);
}

/** The next patch version after the newest one deployed. */
function nextVersion(deployments: Deployment[]): string {
  const versions = deployments
    .filter((deployment) => deployment.status === "SUCCEEDED")
    .map((deployment) => /^1\.0\.(\d+)$/.exec(deployment.version ?? "")?.[1])
    .filter((patch): patch is string => patch !== undefined)
    .map(Number);
  return `1.0.${versions.length > 0 ? Math.max(...versions) + 1 : 0}`;
}

/** Runs the demo; returns the demo deployment's final record. */
export async function runDemo(cloud: LocalCloud, say: (line: string) => void): Promise<Deployment> {
  const clients = demoClients(cloud);
  if (await ensureRegistered(cloud, clients, say)) {
    say(
      `\nFirst run: baking ${demoService} 1.0.0 for the empty group, then scaling it to ${capacity} instances`,
    );
    const first = await deploy(cloud, clients, "1.0.0", say);
    if (first.status !== "SUCCEEDED") return first;
    await clients.autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: demoService, DesiredCapacity: capacity }),
    );
    await waitForHealthyGroup(clients, say);
  }
  const { items } = await clients.history.listByService(demoService, { limit: 100 });
  return deploy(cloud, clients, nextVersion(items), say);
}

/** What each instance of the group answers, for the closing summary. */
export async function groupAnswers(
  clients: DemoClients,
): Promise<Array<{ instanceId: string; ip: string; answer: string }>> {
  const group = await clients.autoScaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [demoService] }),
  );
  const ids = (group.AutoScalingGroups?.[0]?.Instances ?? [])
    .map((instance) => instance.InstanceId ?? "")
    .filter(Boolean);
  if (ids.length === 0) return [];
  const described = await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
  const instances = (described.Reservations ?? []).flatMap((reservation) => reservation.Instances ?? []);
  return Promise.all(
    instances.map(async (instance) => {
      const ip = instance.PrivateIpAddress ?? "";
      const answer = await fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(2000) })
        .then((response) => response.text())
        .catch((error: Error) => `no answer (${error.message})`);
      return { instanceId: instance.InstanceId ?? "", ip, answer: answer.trim() };
    }),
  );
}

export const demoStateDir = join(process.cwd(), ".kiln", "local");
