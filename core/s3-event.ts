/** The S3 notification records that trigger deployments, parsed and decoded. */
import * as z from "zod";
import type { DeploymentRequest } from "./request-deployment.ts";

const recordSchema = z.object({
  eventName: z.string().startsWith("ObjectCreated:", "only ObjectCreated events start deployments"),
  eventTime: z.iso.datetime({ offset: true }).optional(),
  userIdentity: z.object({ principalId: z.string() }).optional(),
  s3: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({
      key: z.string().min(1),
      size: z.number().optional(),
      eTag: z.string().optional(),
      versionId: z.string().optional(),
    }),
  }),
});

export const s3EventSchema = z.object({ Records: z.array(recordSchema).min(1) });
export type S3Event = z.infer<typeof s3EventSchema>;

/** S3 URL-encodes keys in notifications, with spaces as `+`. */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replaceAll("+", " "));
}

export function toDeploymentRequests(event: S3Event): DeploymentRequest[] {
  return event.Records.map((record) => ({
    bucket: record.s3.bucket.name,
    key: decodeS3Key(record.s3.object.key),
    versionId: record.s3.object.versionId,
    etag: record.s3.object.eTag,
    requestedAt: record.eventTime,
    trigger: { kind: "s3" as const, by: record.userIdentity?.principalId },
  }));
}
