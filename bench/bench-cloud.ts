/**
 * A local cloud for one benchmark: ephemeral ports, a state folder of its own, AWS-like durations
 * at the benchmark's timescale (recorded with their end times), Kiln's AWS calls counted, and the
 * benchmark's own clients pointed straight at the endpoints so that its polling is never counted
 * as Kiln's. Services are registered, bootstrapped, uploaded and awaited as
 * test/support/kiln-cloud.ts does it.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
} from "@aws-sdk/client-auto-scaling";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EC2Client } from "@aws-sdk/client-ec2";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetExecutionHistoryCommand, type HistoryEvent, SFNClient } from "@aws-sdk/client-sfn";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { packDirectory } from "../cli/artifact-packing.ts";
import { AutoScalingGroups } from "../core/aws/auto-scaling-groups.ts";
import { DynamoDeploymentHistory } from "../core/aws/dynamo-deployment-history.ts";
import { DynamoServiceRegistry } from "../core/aws/dynamo-service-registry.ts";
import { executionArnFor } from "../core/aws/sfn-workflow-starter.ts";
import { type Deployment, terminalStatuses } from "../core/deployment.ts";
import { deploymentIdForObject } from "../core/deployment-id.ts";
import { registerService } from "../core/register-service.ts";
import type { ServiceConfigInput } from "../core/service-config.ts";
import { type LocalCloud, startLocalCloud } from "../local/cloud.ts";
import { localCredentials, region } from "../local/endpoints.ts";
import { createServiceGroup } from "../local/service-group.ts";
import { AwsCallCounter } from "./aws-call-counter.ts";
import { InstanceReadinessWatch } from "./instance-readiness.ts";
import { RecordingTimescale } from "./recording-timescale.ts";

export const helloService = new URL("../examples/hello-service", import.meta.url).pathname;

/** The local EC2's AWS-like durations (local/ec2/README.md, "Timescale"), in AWS seconds. */
export const ec2Seconds = { boot: 20, stop: 10, snapshot: 60 };

/** Kiln's default poll intervals (core/service-config.ts), in AWS seconds. */
export const defaultPollSeconds = {
  builderSeconds: 15,
  imageSeconds: 15,
  canarySeconds: 5,
  refreshSeconds: 15,
};

/**
 * The service config every benchmark deploys with: the demo's health and rollout settings, and
 * Kiln's default poll intervals scaled by the timescale like every other AWS duration (Wait
 * states take whole seconds, so each is rounded, and at least 1).
 */
export function benchServiceConfig(timescale: number) {
  const scaled = (seconds: number) => Math.max(1, Math.round(seconds * timescale));
  return {
    poll: {
      builderSeconds: scaled(defaultPollSeconds.builderSeconds),
      imageSeconds: scaled(defaultPollSeconds.imageSeconds),
      canarySeconds: scaled(defaultPollSeconds.canarySeconds),
      refreshSeconds: scaled(defaultPollSeconds.refreshSeconds),
    },
    health: { healthyThreshold: 2, timeoutSeconds: 300, requestTimeoutMs: 2000 },
    rollout: { minHealthyPercentage: 66, instanceWarmupSeconds: 10 },
  } satisfies Partial<ServiceConfigInput>;
}

export interface BenchCloud {
  cloud: LocalCloud;
  timescale: RecordingTimescale;
  calls: AwsCallCounter;
  readiness: InstanceReadinessWatch;
  history: DynamoDeploymentHistory;
  services: DynamoServiceRegistry;
  autoScaling: AutoScalingClient;
  ec2: EC2Client;
  sfn: SFNClient;
  bucket: string;
  /** Creates a launch template and an empty group for `service` and registers it. */
  register(service: string, config?: Partial<ServiceConfigInput>): Promise<void>;
  /** Packs hello-service as `service` at `version`, ready to upload. */
  pack(service: string, version: string): Promise<PackedArtifact>;
  /** Uploads a packed artifact: the S3 trigger path. The request starts at the PutObject. */
  put(artifact: PackedArtifact): Promise<Upload>;
  /** pack, then put. */
  upload(service: string, version: string): Promise<Upload>;
  /** Resolves once the deployment's execution has ended; returns its final record. */
  waitForEnd(deploymentId: string, timeoutMs?: number): Promise<Deployment>;
  /** Registers, deploys a first version to the empty group, then scales it to `capacity` healthy instances. */
  bootstrap(service: string, capacity: number, config?: Partial<ServiceConfigInput>): Promise<Deployment>;
  /** Waits until the group has `capacity` in-service, healthy instances. */
  waitForHealthyGroup(service: string, capacity: number, timeoutMs?: number): Promise<void>;
  /** The deployment's execution history, every page. */
  executionHistory(deploymentId: string): Promise<HistoryEvent[]>;
  executionArn(deploymentId: string): string;
  stop(): Promise<void>;
}

export interface PackedArtifact {
  key: string;
  body: Uint8Array;
}

export interface Upload {
  deploymentId: string;
  /** When the PutObject was sent (epoch ms): the deployment's lead time starts here. */
  requestedAt: number;
  key: string;
  etag: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts a local cloud for a benchmark at `timescale`. */
export async function startBenchCloud(options: {
  timescale: number;
  /** AWS-like durations vary by up to ± this fraction (see recording-timescale.ts); default exact. */
  jitter?: number;
  log?: (line: string) => void;
}): Promise<BenchCloud> {
  const stateDir = await mkdtemp(join(tmpdir(), "kiln-bench-"));
  const timescale = new RecordingTimescale(options.timescale, options.jitter ?? 0);
  const cloud = await startLocalCloud({
    stateDir,
    ports: "ephemeral",
    timescale,
    log: options.log ?? (() => {}),
  });
  const calls = new AwsCallCounter();
  calls.attach();
  const readiness = new InstanceReadinessWatch(stateDir);
  readiness.start();

  const direct = { region, credentials: localCredentials };
  const ec2 = new EC2Client({ ...direct, endpoint: cloud.endpoints.ec2 });
  const autoScaling = new AutoScalingClient({ ...direct, endpoint: cloud.endpoints.autoScaling });
  const s3 = new S3Client({
    ...direct,
    endpoint: cloud.endpoints.s3,
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
  });
  const sfn = new SFNClient({ ...direct, endpoint: cloud.endpoints.stepFunctions });
  const db = DynamoDBDocumentClient.from(
    new DynamoDBClient({ ...direct, endpoint: cloud.endpoints.dynamodb }),
    {
      marshallOptions: { removeUndefinedValues: true },
    },
  );
  const tableName = cloud.env.KILN_TABLE_NAME ?? "kiln";
  const bucket = cloud.env.KILN_ARTIFACT_BUCKET ?? "kiln-artifacts";
  const history = new DynamoDeploymentHistory(tableName, db);
  const services = new DynamoServiceRegistry(tableName, db);
  const executionArn = (deploymentId: string) => executionArnFor(cloud.stateMachineArn, deploymentId);

  const bench: BenchCloud = {
    cloud,
    timescale,
    calls,
    readiness,
    history,
    services,
    autoScaling,
    ec2,
    sfn,
    bucket,
    executionArn,

    async register(service, config = {}) {
      const { launchTemplateId } = await createServiceGroup(
        { ec2, autoScaling },
        { service, baseImageId: cloud.baseImageId },
      );
      await registerService(
        { services, groups: new AutoScalingGroups(autoScaling, ec2) },
        {
          name: service,
          group: { name: service, launchTemplateId },
          baseImageId: cloud.baseImageId,
          builder: { instanceType: "t3.micro" },
          ...benchServiceConfig(options.timescale),
          ...config,
          notifications: { slack: true, emails: ["team@example.com"] },
        },
      );
    },

    pack: (service, version) => packDirectory(helloService, { version, service }),

    upload: async (service, version) => bench.put(await bench.pack(service, version)),

    async put({ body, key }) {
      const requestedAt = Date.now();
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      return {
        deploymentId: deploymentIdForObject({ bucket, key, etag: put.ETag }),
        requestedAt,
        key,
        etag: put.ETag ?? "",
      };
    },

    async waitForEnd(deploymentId, timeoutMs = 600_000) {
      const deadline = Date.now() + timeoutMs;
      const arn = executionArn(deploymentId);
      // The execution exists once onArtifact (or a request) has started it; its end is awaited in
      // process. Until then the local cloud's own record is looked at often and the history table
      // (a deployment rejected or queued never gets an execution) rarely: ten deployments' waits
      // must not load the DynamoDB endpoint that their requests are measured through.
      for (let round = 0; cloud.stats.execution(arn) === undefined; round += 1) {
        if (round % 50 === 49) {
          const record = await history.get(deploymentId);
          if (record && terminalStatuses.has(record.status)) return record;
        }
        if (Date.now() > deadline) throw new Error(`deployment ${deploymentId} never started`);
        await sleep(20);
      }
      await Promise.race([
        cloud.whenExecutionEnded(arn),
        sleep(Math.max(0, deadline - Date.now())).then(() => {
          throw new Error(`deployment ${deploymentId} did not end within ${timeoutMs} ms`);
        }),
      ]);
      await cloud.settled();
      const record = await history.get(deploymentId);
      if (!record) throw new Error(`deployment ${deploymentId} has no record`);
      return record;
    },

    async waitForHealthyGroup(service, capacity, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const result = await autoScaling.send(
          new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [service] }),
        );
        const healthy = (result.AutoScalingGroups?.[0]?.Instances ?? []).filter(
          (instance) => instance.LifecycleState === "InService" && instance.HealthStatus === "Healthy",
        ).length;
        if (healthy >= capacity) return;
        await sleep(200);
      }
      throw new Error(`group ${service} did not reach ${capacity} healthy instances`);
    },

    async bootstrap(service, capacity, config) {
      await bench.register(service, config);
      const { deploymentId } = await bench.upload(service, "1.0.0");
      const deployment = await bench.waitForEnd(deploymentId);
      if (deployment.status !== "SUCCEEDED") {
        throw new Error(
          `bootstrap of ${service} ended ${deployment.status}: ${deployment.error?.message ?? ""}`,
        );
      }
      await autoScaling.send(
        new SetDesiredCapacityCommand({ AutoScalingGroupName: service, DesiredCapacity: capacity }),
      );
      await bench.waitForHealthyGroup(service, capacity);
      return deployment;
    },

    async executionHistory(deploymentId) {
      const events: HistoryEvent[] = [];
      let nextToken: string | undefined;
      do {
        const page = await sfn.send(
          new GetExecutionHistoryCommand({
            executionArn: executionArn(deploymentId),
            maxResults: 1000,
            nextToken,
          }),
        );
        events.push(...(page.events ?? []));
        nextToken = page.nextToken;
      } while (nextToken);
      return events;
    },

    async stop() {
      readiness.stop();
      await cloud.stop();
      for (const client of [ec2, autoScaling, s3, sfn, db]) client.destroy();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
  return bench;
}
