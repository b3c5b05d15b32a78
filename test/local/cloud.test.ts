import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand } from "@aws-sdk/client-ec2";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEventV2, S3Event } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalCloud, LocalCloudAlreadyRunningError, startLocalCloud } from "../../local/cloud.ts";
import { ec2Paths } from "../../local/ec2/paths.ts";
import { findInstanceProcesses } from "../../local/ec2/process-groups.ts";
import { readLocalCloudInfo } from "../../local/endpoints.ts";
import { localFunctionArn } from "../../local/functions.ts";
import { Timescale } from "../../local/timescale.ts";
import { buildDeployWorkflow } from "../../workflows/deploy-workflow.ts";

/** A function that returns only when the test opens its gate. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

describe("the local cloud", () => {
  let stateDir: string;
  let cloud: LocalCloud;
  const artifactEvents: S3Event[] = [];
  const endedEvents: { detail: { status: string; name: string } }[] = [];
  const pruneEvents: unknown[] = [];
  const prepareGate = gate();

  const handlers = {
    onArtifact: async (event: unknown) => {
      artifactEvents.push(event as S3Event);
      return { accepted: true };
    },
    onExecutionEnded: async (event: unknown) => {
      endedEvents.push(event as { detail: { status: string; name: string } });
      return { concluded: true };
    },
    api: async (event: unknown) => {
      const { rawPath, requestContext } = event as APIGatewayProxyEventV2;
      return { statusCode: 200, body: JSON.stringify({ path: rawPath, method: requestContext.http.method }) };
    },
    pruneImages: async (event: unknown) => {
      pruneEvents.push(event);
      return { pruned: 0 };
    },
    prepare: async () => {
      await prepareGate.opened;
      return {};
    },
  };

  const start = () =>
    startLocalCloud({
      stateDir,
      ports: "ephemeral",
      timescale: Timescale.instant(),
      handlers,
      reconcileIntervalMs: 100,
    });

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "kiln-cloud-"));
    cloud = await start();
  });

  afterAll(async () => {
    prepareGate.open();
    await cloud?.stop();
    await rm(stateDir, { recursive: true, force: true });
  });

  it("writes endpoints.json with every endpoint, the environment and the base image", async () => {
    const info = await readLocalCloudInfo(stateDir);

    expect(info).toMatchObject({
      pid: process.pid,
      ports: "ephemeral",
      baseImageId: cloud.baseImageId,
      stateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:kiln-deploy",
      endpoints: cloud.endpoints,
    });
    expect(cloud.baseImageId).toMatch(/^ami-[0-9a-f]+$/);
    expect(info?.env).toMatchObject({
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL_S3: cloud.endpoints.s3,
      AWS_ENDPOINT_URL_DYNAMODB: cloud.endpoints.dynamodb,
      AWS_ENDPOINT_URL_SFN: cloud.endpoints.stepFunctions,
      AWS_ENDPOINT_URL_EC2: cloud.endpoints.ec2,
      AWS_ENDPOINT_URL_AUTO_SCALING: cloud.endpoints.autoScaling,
      AWS_ENDPOINT_URL_SESV2: cloud.endpoints.ses,
      AWS_REQUEST_CHECKSUM_CALCULATION: "WHEN_REQUIRED",
      KILN_TABLE_NAME: "kiln",
      KILN_ARTIFACT_BUCKET: "kiln-artifacts",
      KILN_STATE_MACHINE_ARN: cloud.stateMachineArn,
      KILN_BUILDER_INSTANCE_PROFILE: "kiln-builder",
      KILN_SLACK_WEBHOOK_URL: cloud.slackWebhookUrl,
      KILN_EMAIL_FROM: "kiln@localhost",
    });
    expect(process.env.AWS_ENDPOINT_URL_SFN).toBe(cloud.endpoints.stepFunctions);
  });

  it("creates the history table and the deploy state machine from the workflow", async () => {
    const dynamodb = new DynamoDBClient({});
    const sfn = new SFNClient({});
    try {
      const table = await dynamodb.send(new DescribeTableCommand({ TableName: "kiln" }));
      const machine = await sfn.send(
        new DescribeStateMachineCommand({ stateMachineArn: cloud.stateMachineArn }),
      );

      expect(table.Table?.TableStatus).toBe("ACTIVE");
      expect(JSON.parse(machine.definition ?? "")).toEqual(buildDeployWorkflow(localFunctionArn));
    } finally {
      dynamodb.destroy();
      sfn.destroy();
    }
  });

  it("sends artifacts/…/*.tgz uploads to onArtifact and nothing else", async () => {
    const s3 = new S3Client({ requestChecksumCalculation: "WHEN_REQUIRED" });
    try {
      await s3.send(
        new PutObjectCommand({ Bucket: "kiln-artifacts", Key: "artifacts/web service/1.0.tgz", Body: "tgz" }),
      );
      await s3.send(
        new PutObjectCommand({ Bucket: "kiln-artifacts", Key: "artifacts/web/notes.txt", Body: "n" }),
      );
      await s3.send(
        new PutObjectCommand({ Bucket: "kiln-artifacts", Key: "uploads/web/1.0.tgz", Body: "tgz" }),
      );
      await cloud.settled();

      expect(artifactEvents.map((event) => event.Records[0]?.s3.object.key)).toEqual([
        "artifacts/web+service/1.0.tgz",
      ]);
      expect(artifactEvents[0]?.Records[0]?.s3.bucket.name).toBe("kiln-artifacts");
    } finally {
      s3.destroy();
    }
  });

  it("answers the HTTP API with the api function", async () => {
    const response = await fetch(`${cloud.endpoints.httpApi}/deployments?service=web`);

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ path: "/deployments", method: "GET" });
  });

  it("runs pruneImages on demand with CronV2's empty event", async () => {
    await cloud.runPrune();

    expect(pruneEvents).toEqual([{}]);
  });

  it("runs deploy tasks in-process and sends an aborted deployment to onExecutionEnded", async () => {
    const sfn = new SFNClient({});
    try {
      const { executionArn } = await sfn.send(
        new StartExecutionCommand({
          stateMachineArn: cloud.stateMachineArn,
          name: "dep-aborted",
          input: JSON.stringify({ deploymentId: "dep-aborted" }),
        }),
      );
      await sfn.send(new StopExecutionCommand({ executionArn, error: "DeploymentCancelled" }));
      prepareGate.open();
      await cloud.whenExecutionEnded(executionArn ?? "");
      await cloud.settled();

      expect(endedEvents.map((event) => [event.detail.name, event.detail.status])).toEqual([
        ["dep-aborted", "ABORTED"],
      ]);
      expect(cloud.stats.functions().find((entry) => entry.name === "prepare")?.invocations).toBe(1);
    } finally {
      sfn.destroy();
    }
  });

  it("refuses a second local cloud while one runs", async () => {
    await expect(start()).rejects.toBeInstanceOf(LocalCloudAlreadyRunningError);
  });

  it("stops without leaving an instance process, and starts again on the same state", async () => {
    const ec2 = new EC2Client({});
    const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    const instancesDir = ec2Paths(stateDir).instancesDir;
    try {
      const launched = await ec2.send(
        new RunInstancesCommand({
          ImageId: cloud.baseImageId,
          InstanceType: "t3.micro",
          MinCount: 1,
          MaxCount: 1,
          // The base image runs no service: user data that keeps running stands for one.
          UserData: Buffer.from("#!/bin/sh\nexec sleep 300\n").toString("base64"),
        }),
      );
      const instanceId = launched.Instances?.[0]?.InstanceId ?? "";
      await documents.send(
        new PutCommand({ TableName: "kiln", Item: { pk: "DEP#kept", sk: "DEP", status: "SUCCEEDED" } }),
      );
      let processesWhileRunning = await findInstanceProcesses(instancesDir);
      for (let attempt = 0; processesWhileRunning.length === 0 && attempt < 100; attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        processesWhileRunning = await findInstanceProcesses(instancesDir);
      }

      await cloud.stop();
      const processesAfterStop = await findInstanceProcesses(instancesDir);
      const pidFileAfterStop = await readFile(join(stateDir, "cloud.pid"), "utf8").catch(
        (error: NodeJS.ErrnoException) => error.code,
      );
      cloud = await start();
      const item = await documents.send(
        new GetCommand({ TableName: "kiln", Key: { pk: "DEP#kept", sk: "DEP" } }),
      );
      const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
      const execution = await new SFNClient({}).send(
        new DescribeExecutionCommand({
          executionArn: "arn:aws:states:us-east-1:000000000000:execution:kiln-deploy:dep-aborted",
        }),
      );
      await cloud.stop();
      const processesAfterSecondStop = await findInstanceProcesses(instancesDir);
      cloud = await start();

      expect(processesWhileRunning.length).toBeGreaterThan(0);
      expect(processesAfterStop).toEqual([]);
      expect(pidFileAfterStop).toBe("ENOENT");
      expect(item.Item?.status).toBe("SUCCEEDED");
      expect(described.Reservations?.[0]?.Instances?.[0]?.InstanceId).toBe(instanceId);
      expect(execution.status).toBe("ABORTED");
      expect(processesAfterSecondStop).toEqual([]);
    } finally {
      ec2.destroy();
      documents.destroy();
    }
  });
});
