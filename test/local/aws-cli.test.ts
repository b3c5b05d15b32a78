/**
 * The real AWS CLI against a running local cloud: what an operator types to inspect it works.
 * The CLI is Debian's `awscli` (/usr/bin/aws) when installed, else `aws` on PATH; every command
 * passes --endpoint-url, which CLI versions before 2.13 need (they ignore AWS_ENDPOINT_URL_<SERVICE>).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { AutoScalingClient, CreateAutoScalingGroupCommand } from "@aws-sdk/client-auto-scaling";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateLaunchTemplateCommand, EC2Client, RunInstancesCommand } from "@aws-sdk/client-ec2";
import { HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateStateMachineCommand, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as z from "zod";
import { type LocalCloud, startLocalCloud } from "../../local/cloud.ts";
import { Timescale } from "../../local/timescale.ts";

const run = promisify(execFile);
const awsBinary = existsSync("/usr/bin/aws") ? "/usr/bin/aws" : "aws";

describe("the AWS CLI against the local cloud", () => {
  let stateDir: string;
  let cloud: LocalCloud;
  const artifactKeys: string[] = [];
  let instanceId: string;
  let executionArn: string;

  /** Runs `aws <args> --endpoint-url <endpoint> --output json` with the local cloud's environment. */
  async function awsText(endpoint: string, ...args: string[]): Promise<string> {
    const { stdout } = await run(awsBinary, [...args, "--endpoint-url", endpoint, "--output", "json"], {
      env: { PATH: process.env.PATH, HOME: stateDir, ...cloud.env, AWS_PAGER: "" },
      timeout: 60_000,
    });
    return stdout;
  }

  async function aws(endpoint: string, ...args: string[]): Promise<unknown> {
    return JSON.parse(await awsText(endpoint, ...args));
  }

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "kiln-aws-cli-"));
    cloud = await startLocalCloud({
      stateDir,
      ports: "ephemeral",
      timescale: Timescale.instant(),
      handlers: {
        onArtifact: async (event) => {
          const parsed = z.object({
            Records: z.array(z.object({ s3: z.object({ object: z.object({ key: z.string() }) }) })),
          });
          artifactKeys.push(...parsed.parse(event).Records.map((record) => record.s3.object.key));
          return {};
        },
      },
    });

    // Something to find, put there through the SDK.
    const ec2 = new EC2Client({});
    const autoScaling = new AutoScalingClient({});
    const sfn = new SFNClient({});
    const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    try {
      const launched = await ec2.send(
        new RunInstancesCommand({
          ImageId: cloud.baseImageId,
          InstanceType: "t3.micro",
          MinCount: 1,
          MaxCount: 1,
          TagSpecifications: [
            { ResourceType: "instance", Tags: [{ Key: "kiln:service", Value: "cli-web" }] },
          ],
        }),
      );
      instanceId = launched.Instances?.[0]?.InstanceId ?? "";
      await ec2.send(
        new CreateLaunchTemplateCommand({
          LaunchTemplateName: "cli-web",
          LaunchTemplateData: { ImageId: cloud.baseImageId, InstanceType: "t3.micro" },
        }),
      );
      await autoScaling.send(
        new CreateAutoScalingGroupCommand({
          AutoScalingGroupName: "cli-web",
          LaunchTemplate: { LaunchTemplateName: "cli-web", Version: "1" },
          MinSize: 0,
          MaxSize: 2,
          DesiredCapacity: 0,
        }),
      );
      const machine = await sfn.send(
        new CreateStateMachineCommand({
          name: "cli-check",
          roleArn: "arn:aws:iam::000000000000:role/cli-check",
          definition: JSON.stringify({ StartAt: "Done", States: { Done: { Type: "Pass", End: true } } }),
        }),
      );
      executionArn =
        (
          await sfn.send(
            new StartExecutionCommand({ stateMachineArn: machine.stateMachineArn, name: "cli-run" }),
          )
        ).executionArn ?? "";
      await cloud.whenExecutionEnded(executionArn);
      await documents.send(
        new PutCommand({ TableName: "kiln", Item: { pk: "DEP#cli", sk: "DEP", status: "SUCCEEDED" } }),
      );
    } finally {
      ec2.destroy();
      autoScaling.destroy();
      sfn.destroy();
      documents.destroy();
    }
  });

  afterAll(async () => {
    await cloud?.stop();
    await rm(stateDir, { recursive: true, force: true });
  });

  it("uploads an artifact with `aws s3 cp`, which reaches onArtifact", async () => {
    const file = join(stateDir, "web 1.0.tgz");
    await writeFile(file, "not really a tarball");

    const printed = await awsText(
      cloud.endpoints.s3,
      "s3",
      "cp",
      file,
      "s3://kiln-artifacts/artifacts/cli web/1.0.tgz",
    );
    await cloud.settled();
    const s3 = new S3Client({ requestChecksumCalculation: "WHEN_REQUIRED" });
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: "kiln-artifacts", Key: "artifacts/cli web/1.0.tgz" }),
    );
    s3.destroy();

    expect(printed).toContain("upload: ");
    expect(head.ContentLength).toBe(20);
    expect(artifactKeys).toEqual(["artifacts/cli+web/1.0.tgz"]);
  });

  it("finds an instance by tag with `aws ec2 describe-instances --filters`", async () => {
    const output = z
      .object({
        Reservations: z.array(z.object({ Instances: z.array(z.object({ InstanceId: z.string() })) })),
      })
      .parse(
        await aws(
          cloud.endpoints.ec2,
          "ec2",
          "describe-instances",
          "--filters",
          "Name=tag:kiln:service,Values=cli-web",
        ),
      );

    expect(
      output.Reservations.flatMap((reservation) =>
        reservation.Instances.map((instance) => instance.InstanceId),
      ),
    ).toEqual([instanceId]);
  });

  it("lists the base image with `aws ec2 describe-images`", async () => {
    const output = z
      .object({ Images: z.array(z.object({ ImageId: z.string(), Name: z.string(), State: z.string() })) })
      .parse(await aws(cloud.endpoints.ec2, "ec2", "describe-images", "--image-ids", cloud.baseImageId));

    expect(output.Images).toEqual([
      expect.objectContaining({ ImageId: cloud.baseImageId, State: "available" }),
    ]);
  });

  it("shows the group with `aws autoscaling describe-auto-scaling-groups`", async () => {
    const output = z
      .object({
        AutoScalingGroups: z.array(
          z.object({
            AutoScalingGroupName: z.string(),
            MaxSize: z.number(),
            LaunchTemplate: z.object({ Version: z.string() }),
          }),
        ),
      })
      .parse(await aws(cloud.endpoints.autoScaling, "autoscaling", "describe-auto-scaling-groups"));

    expect(output.AutoScalingGroups).toEqual([
      expect.objectContaining({
        AutoScalingGroupName: "cli-web",
        MaxSize: 2,
        LaunchTemplate: expect.objectContaining({ Version: "1" }),
      }),
    ]);
  });

  it("lists executions with `aws stepfunctions list-executions`", async () => {
    const output = z
      .object({
        executions: z.array(
          z.object({
            executionArn: z.string(),
            stateMachineArn: z.string(),
            name: z.string(),
            status: z.string(),
            startDate: z.string(),
            stopDate: z.string(),
          }),
        ),
      })
      .parse(
        await aws(
          cloud.endpoints.stepFunctions,
          "stepfunctions",
          "list-executions",
          "--state-machine-arn",
          "arn:aws:states:us-east-1:000000000000:stateMachine:cli-check",
        ),
      );

    const [execution, ...others] = output.executions;
    expect(others).toEqual([]);
    expect(execution).toMatchObject({
      executionArn,
      stateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:cli-check",
      name: "cli-run",
      status: "SUCCEEDED",
    });
    expect(Date.parse(execution?.stopDate ?? "")).toBeGreaterThanOrEqual(
      Date.parse(execution?.startDate ?? ""),
    );
  });

  it("reads the history table with `aws dynamodb scan`", async () => {
    const output = z
      .object({ Items: z.array(z.record(z.string(), z.object({ S: z.string() }))) })
      .parse(await aws(cloud.endpoints.dynamodb, "dynamodb", "scan", "--table-name", "kiln"));

    expect(output.Items.map((item) => item.pk?.S)).toContain("DEP#cli");
  });
});
