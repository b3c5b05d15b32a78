/**
 * One SDK client per service per process, created on first use. They follow the standard
 * `AWS_ENDPOINT_URL_<SERVICE>` variables, which is how the same code talks to the local cloud.
 * Adapters take a client in their constructor; these are the defaults.
 */
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { EC2Client } from "@aws-sdk/client-ec2";
import { S3Client } from "@aws-sdk/client-s3";
import { SESv2Client } from "@aws-sdk/client-sesv2";
import { SFNClient } from "@aws-sdk/client-sfn";

function once<T>(create: () => T): () => T {
  let client: T | undefined;
  return () => {
    client ??= create();
    return client;
  };
}

export const ec2Client = /* @__PURE__ */ once(() => new EC2Client({}));
export const autoScalingClient = /* @__PURE__ */ once(() => new AutoScalingClient({}));
export const s3Client = /* @__PURE__ */ once(
  () => new S3Client({ requestChecksumCalculation: "WHEN_REQUIRED" }),
);
export const sfnClient = /* @__PURE__ */ once(() => new SFNClient({}));
export const sesClient = /* @__PURE__ */ once(() => new SESv2Client({}));
export { documentClient } from "./document-client.ts";
