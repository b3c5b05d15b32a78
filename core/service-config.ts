/**
 * A service's registered deployment target: where its images are baked and which group runs
 * them. Stored in DynamoDB, written through the API or the CLI.
 */
import * as z from "zod";
import { serviceNameSchema } from "./manifest.ts";

const awsId = (prefix: string) =>
  z
    .string()
    .regex(new RegExp(`^${prefix}-[0-9a-f]{8,17}$`), `expected an id like ${prefix}-0123456789abcdef0`);

/** The longest a canary's health check waits for one answer. */
export const longestHealthRequestMs = 30_000;

export const serviceConfigSchema = z
  .object({
    $schema: z.string().optional(),
    name: serviceNameSchema,
    group: z
      .object({
        name: z.string().min(1).max(255).describe("Auto Scaling group running the service"),
        launchTemplateId: awsId("lt").describe("Launch template the group uses"),
      })
      .strict(),
    baseImageId: awsId("ami").describe("Image the builder starts from"),
    builder: z
      .object({
        instanceType: z
          .string()
          .regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "an instance type like t3.small")
          .default("t3.small"),
        subnetId: awsId("subnet").optional(),
        securityGroupIds: z.array(awsId("sg")).default([]),
        timeoutSeconds: z.number().int().min(60).max(7200).default(1800),
      })
      .strict()
      .prefault({}),
    health: z
      .object({
        port: z.number().int().min(1).max(65535).optional().describe("Overrides the manifest's port"),
        path: z.string().regex(/^\//).optional().describe("Overrides the manifest's healthPath"),
        healthyThreshold: z.number().int().min(1).max(20).default(3),
        timeoutSeconds: z
          .number()
          .int()
          .min(10)
          .max(3600)
          .default(300)
          .describe("Deadline for the canary to become healthy"),
        requestTimeoutMs: z.number().int().min(100).max(longestHealthRequestMs).default(2000),
      })
      .strict()
      .prefault({}),
    rollout: z
      .object({
        minHealthyPercentage: z.number().int().min(0).max(100).default(90),
        instanceWarmupSeconds: z.number().int().min(0).max(3600).default(60),
        skipMatching: z.boolean().default(true),
        autoRollback: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    poll: z
      .object({
        builderSeconds: z.number().int().min(1).max(300).default(15),
        imageSeconds: z.number().int().min(1).max(300).default(15),
        canarySeconds: z.number().int().min(1).max(300).default(5),
        refreshSeconds: z.number().int().min(1).max(300).default(15),
      })
      .strict()
      .prefault({})
      .describe(
        "How long the workflow waits between checks: of the canary's health, and of a builder, image, instance refresh or the canary's boot (builderSeconds) when AWS sends no event that it is done",
      ),
    retention: z
      .object({
        keepImages: z.number().int().min(1).max(1000).default(5),
        minAgeDays: z.number().min(0).max(3650).default(7),
        failedImageDays: z.number().min(0).max(3650).default(2),
      })
      .strict()
      .prefault({}),
    notifications: z
      .object({
        slack: z.boolean().default(true),
        emails: z.array(z.email()).default([]),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type ServiceConfig = z.infer<typeof serviceConfigSchema>;
export type ServiceConfigInput = z.input<typeof serviceConfigSchema>;
