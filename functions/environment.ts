/** Function configuration: environment variables, read when a function module loads (cold start). */
import * as z from "zod";
import { defaultArtifactLimits } from "../core/artifact-inspection.ts";

/** A required variable, or an error that names it. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`environment variable ${name} is not set`);
  return value;
}

export function optionalEnv(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === "" ? undefined : value;
}

function numberEnv(name: string, fallback: number): number {
  const raw = optionalEnv(name);
  if (raw === undefined) return fallback;
  const parsed = z.coerce.number().int().positive().safeParse(raw);
  if (!parsed.success)
    throw new Error(`environment variable ${name} must be a positive integer, got "${raw}"`);
  return parsed.data;
}

/** How long a deployment may hold its service's lock: past the workflow's own timeout. */
export const leaseMs = () => numberEnv("KILN_LOCK_LEASE_SECONDS", 4 * 60 * 60) * 1000;

export const artifactLimits = () => ({
  ...defaultArtifactLimits,
  maxBytes: numberEnv("KILN_MAX_ARTIFACT_BYTES", defaultArtifactLimits.maxBytes),
});

/** Presigned artifact URLs live only as long as a builder needs to start and download. */
export const presignSeconds = () => numberEnv("KILN_PRESIGN_SECONDS", 900);
