/**
 * The artifact manifest, `kiln.json` at the root of every artifact: what the service is and
 * how to run it on a VM.
 */
import * as z from "zod";

export const serviceNameSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{0,61}[a-z0-9]$/,
    "a service name is 2–63 lower-case letters, digits and dashes, starting with a letter",
  );

export const versionSchema = z
  .string()
  .regex(
    /^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$/,
    "a version is up to 64 letters, digits and . _ + -, starting with a letter or digit",
  );

const envNameSchema = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, "environment names are upper-case letters, digits and _");

export const manifestSchema = z
  .object({
    $schema: z.string().optional(),
    service: serviceNameSchema.describe("The registered service this artifact deploys"),
    version: versionSchema.describe("The version this artifact carries"),
    start: z
      .string()
      .min(1)
      .max(1000)
      .refine((command) => !command.includes("\n"), "start is one command line")
      .describe("Command that runs the service, from the artifact's root (e.g. `node server.js`)"),
    port: z.number().int().min(1).max(65535).describe("TCP port the service listens on"),
    healthPath: z
      .string()
      .regex(/^\/[\x21-\x7e]*$/, "healthPath is an absolute URL path")
      .default("/health")
      .describe("Path answering 2xx when the service is healthy"),
    install: z
      .string()
      .min(1)
      .max(1000)
      .refine((command) => !command.includes("\n"), "install is one command line")
      .optional()
      .describe("Command run once at bake time from the artifact's root (e.g. `./install.sh`)"),
    env: z.record(envNameSchema, z.string().max(4096)).default({}).describe("Environment for the service"),
  })
  .strict();

export type Manifest = z.infer<typeof manifestSchema>;

export const manifestFileName = "kiln.json";
