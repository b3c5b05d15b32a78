/**
 * One SDK client per service per process, created on first use. They follow the standard
 * `AWS_ENDPOINT_URL_<SERVICE>` variables, which is how the same code talks to the local cloud.
 * Adapters take a client in their constructor; these are the defaults.
 */
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EC2Client } from "@aws-sdk/client-ec2";
import { S3Client } from "@aws-sdk/client-s3";
import { SESv2Client } from "@aws-sdk/client-sesv2";
import { SFNClient } from "@aws-sdk/client-sfn";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

function once<T>(create: () => T): () => T {
  let client: T | undefined;
  return () => {
    client ??= create();
    return client;
  };
}

export const ec2Client = once(() => new EC2Client({}));
export const autoScalingClient = once(() => new AutoScalingClient({}));
export const s3Client = once(() => new S3Client({ requestChecksumCalculation: "WHEN_REQUIRED" }));
export const sfnClient = once(() => new SFNClient({}));
export const sesClient = once(() => new SESv2Client({}));
export const documentClient = once(() =>
  DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } }),
);
