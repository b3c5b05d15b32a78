/**
 * A local cloud for one test file: real endpoints on ephemeral ports, instant timescale, the
 * production functions and workflow, plus the SDK clients and helpers tests assert with.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
} from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { packDirectory } from "../../cli/artifact-packing.ts";
import { AutoScalingGroups } from "../../core/aws/auto-scaling-groups.ts";
import { DynamoDeploymentHistory } from "../../core/aws/dynamo-deployment-history.ts";
import { DynamoServiceRegistry } from "../../core/aws/dynamo-service-registry.ts";
import { executionArnFor } from "../../core/aws/sfn-workflow-starter.ts";
import { type Deployment, terminalStatuses } from "../../core/deployment.ts";
import { deploymentIdForObject } from "../../core/deployment-id.ts";
import { registerService } from "../../core/register-service.ts";
import type { ServiceConfigInput } from "../../core/service-config.ts";
import { type LocalCloud, startLocalCloud } from "../../local/cloud.ts";
import { createServiceGroup } from "../../local/service-group.ts";
import { Timescale } from "../../local/timescale.ts";

export const examplesDir = new URL("../../examples/", import.meta.url).pathname;

export interface KilnCloud {
  cloud: LocalCloud;
  ec2: EC2Client;
  autoScaling: AutoScalingClient;
  s3: S3Client;
  history: DynamoDeploymentHistory;
  services: DynamoServiceRegistry;
  bucket: string;
  /** Creates a launch template and an empty group for `service` and registers it. */
  registerService(
    service: string,
    config?: Partial<ServiceConfigInput>,
  ): Promise<{ launchTemplateId: string }>;
  /** Packs an example (or any directory, by absolute path) at `version` and uploads it (the S3 trigger path). */
  upload(
    example: string,
    version: string,
    service?: string,
  ): Promise<{ key: string; etag: string; deploymentId: string }>;
  /** Polls the history until the deployment reaches a terminal status (or `until`). */
  waitFor(
    deploymentId: string,
    until?: (deployment: Deployment) => boolean,
    timeoutMs?: number,
  ): Promise<Deployment>;
  /** Deploys `version` of an example and scales the group to `capacity` running it. */
  bootstrap(service: string, example: string, version: string, capacity: number): Promise<Deployment>;
  /** Instances Kiln launched for a deployment that are not terminated. */
  liveInstances(filters: Record<string, string>): Promise<string[]>;
  group(name: string): Promise<{
    version: string | undefined;
    instances: Array<{ id: string; health: string; state: string }>;
  }>;
  /** What each in-service instance of the group answers on `/`. */
  answers(group: string): Promise<string[]>;
  stop(): Promise<void>;
}

/** Fast checks: the workflow's waits are real seconds, so keep them at one. */
export const fastServiceConfig = {
  poll: { builderSeconds: 1, imageSeconds: 1, canarySeconds: 1, refreshSeconds: 1 },
  health: { healthyThreshold: 2, timeoutSeconds: 10, requestTimeoutMs: 1000 },
  rollout: { minHealthyPercentage: 50, instanceWarmupSeconds: 0 },
} satisfies Partial<ServiceConfigInput>;

export async function startKilnCloud(): Promise<KilnCloud> {
  const stateDir = await mkdtemp(join(tmpdir(), "kiln-test-"));
  const cloud = await startLocalCloud({
    stateDir,
    ports: "ephemeral",
    timescale: Timescale.instant(),
    log: () => {},
  });
  const ec2 = new EC2Client({});
  const autoScaling = new AutoScalingClient({});
  const s3 = new S3Client({ forcePathStyle: true });
  const tableName = cloud.env.KILN_TABLE_NAME ?? "kiln";
  const bucket = cloud.env.KILN_ARTIFACT_BUCKET ?? "kiln-artifacts";
  const history = new DynamoDeploymentHistory(tableName);
  const services = new DynamoServiceRegistry(tableName);

  const kiln: KilnCloud = {
    cloud,
    ec2,
    autoScaling,
    s3,
    history,
    services,
    bucket,

    async registerService(service, config = {}) {
      const { launchTemplateId } = await createServiceGroup(
        { ec2, autoScaling },
        { service, baseImageId: cloud.baseImageId, healthCheckGracePeriodSeconds: 5 },
      );
      await registerService(
        { services, groups: new AutoScalingGroups() },
        {
          name: service,
          group: { name: service, launchTemplateId },
          baseImageId: cloud.baseImageId,
          builder: { instanceType: "t3.micro" },
          ...fastServiceConfig,
          ...config,
          notifications: { slack: true, emails: ["team@example.com"] },
        },
      );
      return { launchTemplateId };
    },

    async upload(example, version, service) {
      const dir = example.startsWith("/") ? example : join(examplesDir, example);
      const { body, key } = await packDirectory(dir, { version, ...(service ? { service } : {}) });
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      return {
        key,
        etag: put.ETag ?? "",
        deploymentId: deploymentIdForObject({ bucket, key, etag: put.ETag }),
      };
    },

    async waitFor(
      deploymentId,
      until = (deployment) => terminalStatuses.has(deployment.status),
      timeoutMs = 90_000,
    ) {
      const deadline = Date.now() + timeoutMs;
      let last: Deployment | undefined;
      while (Date.now() < deadline) {
        last = await history.get(deploymentId);
        if (last && until(last)) {
          // A terminal record is written before the lock is handed on: wait for the execution
          // too, and for what it queued (its notifications).
          const started = last.timeline.some((entry) => entry.status === "PENDING");
          if (started && terminalStatuses.has(last.status)) {
            await cloud.whenExecutionEnded(executionArnFor(cloud.stateMachineArn, deploymentId));
            await cloud.settled();
          }
          return last;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(
        `deployment ${deploymentId} did not get there in ${timeoutMs} ms; last status ${last?.status ?? "none"}`,
      );
    },

    async bootstrap(service, example, version, capacity) {
      await kiln.registerService(service);
      const { deploymentId } = await kiln.upload(example, version, service);
      const deployment = await kiln.waitFor(deploymentId);
      if (deployment.status !== "SUCCEEDED")
        throw new Error(
          `bootstrap deployment ${deploymentId} ended ${deployment.status}: ${deployment.error?.message}`,
        );
      await autoScaling.send(
        new SetDesiredCapacityCommand({ AutoScalingGroupName: service, DesiredCapacity: capacity }),
      );
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const { instances } = await kiln.group(service);
        if (
          instances.filter((instance) => instance.state === "InService" && instance.health === "Healthy")
            .length === capacity
        )
          return deployment;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      throw new Error(`group ${service} did not reach ${capacity} healthy instances`);
    },

    async liveInstances(filters) {
      const result = await ec2.send(
        new DescribeInstancesCommand({
          Filters: [
            ...Object.entries(filters).map(([name, value]) => ({ Name: `tag:${name}`, Values: [value] })),
            { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
          ],
        }),
      );
      return (result.Reservations ?? [])
        .flatMap((reservation) => reservation.Instances ?? [])
        .map((instance) => instance.InstanceId ?? "");
    },

    async group(name) {
      const result = await autoScaling.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
      );
      const group = result.AutoScalingGroups?.[0];
      return {
        version: group?.LaunchTemplate?.Version,
        instances: (group?.Instances ?? []).map((instance) => ({
          id: instance.InstanceId ?? "",
          health: instance.HealthStatus ?? "",
          state: instance.LifecycleState ?? "",
        })),
      };
    },

    async answers(name) {
      const { instances } = await kiln.group(name);
      const ids = instances
        .filter((instance) => instance.state === "InService")
        .map((instance) => instance.id);
      if (ids.length === 0) return [];
      const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
      const ips = (described.Reservations ?? [])
        .flatMap((reservation) => reservation.Instances ?? [])
        .map((instance) => instance.PrivateIpAddress);
      return Promise.all(
        ips.map(async (ip) => {
          const response = await fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(2000) });
          return (await response.text()).trim();
        }),
      );
    },

    async stop() {
      await cloud.stop();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
  return kiln;
}
