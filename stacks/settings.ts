/**
 * Deploy-time settings of a Kiln stage, read from the environment of `sst deploy`.
 * They are checked once, here, so a missing or malformed value fails the deploy with its name
 * instead of producing a half-configured stage.
 */
export interface KilnSettings {
  stage: string;
  /** The production stage keeps its data when removed and refuses `sst remove`. */
  production: boolean;
  /** SES identity (an address, or a domain the stage verifies) that notification emails come from. */
  emailFrom: string;
  /** When set, API routes accept JWTs from this issuer instead of IAM (SigV4) signatures. */
  jwt?: { issuer: string; audiences: string[] } | undefined;
  /** EventBridge Scheduler expression for the image prune. */
  pruneSchedule: string;
  /** Days an artifact version stays in the bucket after a newer upload replaced it. */
  noncurrentArtifactDays: number;
  /** Days before an artifact (the current version too) expires; 0 keeps artifacts forever. */
  artifactExpiryDays: number;
  /** Subnets and security groups that let the canary health check reach private addresses. */
  healthCheckVpc?: { subnets: string[]; securityGroups: string[] } | undefined;
  /**
   * Roles of instance profiles that the services' own launch templates name. Pointing a group at
   * a template version makes Auto Scaling check that the caller may pass that role.
   */
  serviceInstanceRoleArns: string[];
}

/** The stage that keeps its data and is protected from `sst remove`. */
export const productionStage = "production";

function list(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

function days(name: string, value: string | undefined, fallback: number, least: number): number {
  if (value === undefined || value === "") return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < least) {
    throw new Error(`${name} must be a whole number of days, at least ${least}, got "${value}"`);
  }
  return parsed;
}

/** Reads and checks a stage's settings from `KILN_*` deploy-time variables. */
export function readSettings(
  stage: string,
  env: Record<string, string | undefined> = process.env,
): KilnSettings {
  const emailFrom = env.KILN_EMAIL_FROM?.trim();
  if (!emailFrom) {
    throw new Error(
      "KILN_EMAIL_FROM is not set: name the address (or domain) Kiln's notification emails come from, e.g. KILN_EMAIL_FROM=kiln@example.com",
    );
  }
  const issuer = env.KILN_JWT_ISSUER?.trim();
  const audiences = list(env.KILN_JWT_AUDIENCES);
  if (issuer && audiences.length === 0)
    throw new Error("KILN_JWT_AUDIENCES must name at least one audience when KILN_JWT_ISSUER is set");
  if (!issuer && audiences.length > 0)
    throw new Error("KILN_JWT_AUDIENCES is set but KILN_JWT_ISSUER is not");
  const subnets = list(env.KILN_HEALTH_CHECK_SUBNETS);
  const securityGroups = list(env.KILN_HEALTH_CHECK_SECURITY_GROUPS);
  if ((subnets.length === 0) !== (securityGroups.length === 0)) {
    throw new Error("KILN_HEALTH_CHECK_SUBNETS and KILN_HEALTH_CHECK_SECURITY_GROUPS must be set together");
  }
  const serviceInstanceRoleArns = list(env.KILN_SERVICE_INSTANCE_ROLE_ARNS);
  for (const arn of serviceInstanceRoleArns) {
    if (!/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/.test(arn)) {
      throw new Error(`KILN_SERVICE_INSTANCE_ROLE_ARNS: "${arn}" is not an IAM role ARN`);
    }
  }
  return {
    stage,
    production: stage === productionStage,
    emailFrom,
    jwt: issuer ? { issuer, audiences } : undefined,
    pruneSchedule: env.KILN_PRUNE_SCHEDULE?.trim() || "rate(1 day)",
    noncurrentArtifactDays: days("KILN_NONCURRENT_ARTIFACT_DAYS", env.KILN_NONCURRENT_ARTIFACT_DAYS, 30, 1),
    artifactExpiryDays: days("KILN_ARTIFACT_EXPIRY_DAYS", env.KILN_ARTIFACT_EXPIRY_DAYS, 0, 0),
    healthCheckVpc: subnets.length > 0 ? { subnets, securityGroups } : undefined,
    serviceInstanceRoleArns,
  };
}
