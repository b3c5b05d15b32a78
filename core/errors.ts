/**
 * Kiln's typed errors. The deploy workflow retries and catches them by `name`, so a name is
 * part of the contract with workflows/deploy-workflow.ts: rename one only together with it.
 */
abstract class KilnError extends Error {
  // Explicit names: bundles are minified, and class names would not survive it.
  abstract override readonly name: string;
}

/** Input that fails its schema: a task input, an API body, an event record, a config. */
export class InvalidInputError extends KilnError {
  override readonly name = "InvalidInputError";

  constructor(
    readonly what: string,
    readonly issues: string[],
    options?: { cause?: unknown },
  ) {
    super(`invalid ${what}: ${issues.join("; ")}`, options);
  }
}

/** An artifact that cannot be deployed: not gzip, no manifest, hostile paths, too large. */
export class ArtifactRejectedError extends KilnError {
  override readonly name = "ArtifactRejectedError";
}

/** The artifact's service has no registered deployment target. */
export class UnknownServiceError extends KilnError {
  override readonly name = "UnknownServiceError";
}

export class DeploymentNotFoundError extends KilnError {
  override readonly name = "DeploymentNotFoundError";
}

/** A state change that the deployment's current status does not allow. */
export class InvalidTransitionError extends KilnError {
  override readonly name = "InvalidTransitionError";
}

/** A request the current state does not allow: cancelling what already ended, rolling back with nothing to return to. */
export class ConflictError extends KilnError {
  override readonly name = "ConflictError";
}

/** Another deployment of the service holds the lock. */
export class DeploymentInProgressError extends KilnError {
  override readonly name = "DeploymentInProgressError";
}

/** An AWS call failed in a way that a later attempt may not: throttling, 5xx, timeouts. */
export class TransientAwsError extends KilnError {
  override readonly name = "TransientAwsError";
}

/** An AWS resource Kiln expected is missing (an image, a group, a launch template). */
export class ResourceNotFoundError extends KilnError {
  override readonly name = "ResourceNotFoundError";
}

/** The builder failed: its user data reported an error, it died, or it overran its deadline. */
export class BakeFailedError extends KilnError {
  override readonly name = "BakeFailedError";
}

/** The image could not be created or ended in the `failed` state. */
export class ImageFailedError extends KilnError {
  override readonly name = "ImageFailedError";
}

/** The canary never became healthy within its deadline. */
export class CanaryUnhealthyError extends KilnError {
  override readonly name = "CanaryUnhealthyError";
}

/** The instance refresh failed (and was rolled back, if it could be). */
export class RefreshFailedError extends KilnError {
  override readonly name = "RefreshFailedError";
}

/** The service's config points at something unusable (a group on $Latest that cannot be pinned, …). */
export class ServiceConfigError extends KilnError {
  override readonly name = "ServiceConfigError";
}

/** Names the state machine retries: everything else is terminal. */
export const transientErrorNames = ["TransientAwsError"] as const;

interface Issue {
  path: PropertyKey[];
  message: string;
  issues?: ReadonlyArray<Issue>;
}

/** Turns a zod error into readable `path: message` lines (a bad record key says what keys must be). */
export function describeIssues(issues: ReadonlyArray<Issue>): string[] {
  return issues.map((issue) => {
    const message = issue.issues?.[0]?.message ?? issue.message;
    return issue.path.length > 0 ? `${issue.path.map(String).join(".")}: ${message}` : message;
  });
}

/** A prune run stopped before deleting anything: a reference look-up failed or came back short. */
export class PruneAbortedError extends KilnError {
  override readonly name = "PruneAbortedError";

  constructor(
    readonly runId: string,
    readonly reasons: string[],
    options?: { cause?: unknown },
  ) {
    super(`prune run ${runId} aborted, nothing was deleted: ${reasons.join("; ")}`, options);
  }
}
