/**
 * The configuration each Kiln function reads from its environment at cold start. A function is
 * given only the variables its code reads; test/infra derives the same list from each handler's
 * code and fails when the two differ.
 */
import type { KilnFunctionName } from "../workflows/functions.ts";

/** Every variable a Kiln function may be given. */
export type KilnVariable =
  | "KILN_TABLE_NAME"
  | "KILN_ARTIFACT_BUCKET"
  | "KILN_STATE_MACHINE_ARN"
  | "KILN_BUILDER_INSTANCE_PROFILE"
  | "KILN_SLACK_WEBHOOK_URL"
  | "KILN_EMAIL_FROM"
  /** The API's URL, where its function serves the dashboard: notifications link there. */
  | "KILN_DASHBOARD_URL";

/**
 * Tuning variables the code reads with a default; Kiln's stacks leave them unset. Listed so that
 * a new variable a function cannot run without is noticed rather than silently missing.
 */
export const tuningVariables = [
  "KILN_LOCK_LEASE_SECONDS",
  "KILN_MAX_ARTIFACT_BYTES",
  "KILN_PRESIGN_SECONDS",
] as const;

/**
 * The local cloud's bearer token for the API. On AWS, API Gateway authenticates callers (IAM or
 * JWT) and these stay unset: set, they would switch the API to a shared token.
 */
export const localOnlyVariables = ["KILN_API_TOKEN", "KILN_API_TOKEN_FILE"] as const;

/** The variables each function's code reads (derived from its code by test/infra). */
export const functionVariables: Record<KilnFunctionName, readonly KilnVariable[]> = {
  onArtifact: ["KILN_TABLE_NAME", "KILN_STATE_MACHINE_ARN", "KILN_SLACK_WEBHOOK_URL", "KILN_EMAIL_FROM"],
  onExecutionEnded: [
    "KILN_TABLE_NAME",
    "KILN_STATE_MACHINE_ARN",
    "KILN_BUILDER_INSTANCE_PROFILE",
    "KILN_SLACK_WEBHOOK_URL",
    "KILN_EMAIL_FROM",
    "KILN_DASHBOARD_URL",
  ],
  api: [
    "KILN_TABLE_NAME",
    "KILN_STATE_MACHINE_ARN",
    "KILN_ARTIFACT_BUCKET",
    "KILN_SLACK_WEBHOOK_URL",
    "KILN_EMAIL_FROM",
    "KILN_DASHBOARD_URL",
  ],
  notify: ["KILN_TABLE_NAME", "KILN_SLACK_WEBHOOK_URL", "KILN_EMAIL_FROM", "KILN_DASHBOARD_URL"],
  pruneImages: ["KILN_TABLE_NAME", "KILN_SLACK_WEBHOOK_URL", "KILN_EMAIL_FROM", "KILN_DASHBOARD_URL"],
  prepare: ["KILN_TABLE_NAME"],
  launchBuilder: ["KILN_TABLE_NAME", "KILN_BUILDER_INSTANCE_PROFILE"],
  checkBuilder: ["KILN_BUILDER_INSTANCE_PROFILE"],
  createImage: ["KILN_TABLE_NAME"],
  checkImage: ["KILN_TABLE_NAME"],
  terminateInstances: ["KILN_BUILDER_INSTANCE_PROFILE"],
  launchCanary: ["KILN_TABLE_NAME", "KILN_BUILDER_INSTANCE_PROFILE"],
  checkCanary: ["KILN_TABLE_NAME", "KILN_BUILDER_INSTANCE_PROFILE"],
  createTemplateVersion: ["KILN_TABLE_NAME"],
  pinGroupVersion: ["KILN_TABLE_NAME"],
  startRefresh: ["KILN_TABLE_NAME"],
  checkRefresh: ["KILN_TABLE_NAME"],
  watch: ["KILN_TABLE_NAME", "KILN_BUILDER_INSTANCE_PROFILE"],
  wake: ["KILN_TABLE_NAME", "KILN_BUILDER_INSTANCE_PROFILE"],
  rollBack: [],
  finish: ["KILN_TABLE_NAME", "KILN_BUILDER_INSTANCE_PROFILE"],
  recordOutcome: ["KILN_TABLE_NAME"],
  releaseLock: ["KILN_TABLE_NAME", "KILN_STATE_MACHINE_ARN"],
};
