/**
 * How every deployment ends, on the happy path and on each failure path alike: instances
 * cleaned up, a terminal status with the error recorded, people told, the lock handed on.
 */
import type { Deployment, DeploymentStatus, StepName } from "../deployment.ts";
import { terminalStatuses } from "../deployment.ts";
import { DeploymentNotFoundError } from "../errors.ts";
import { deploymentNotification } from "../notifications.ts";
import type {
  Clock,
  DeploymentHistory,
  Fleet,
  ImageCatalog,
  InstanceRole,
  Notifier,
  ServiceRegistry,
} from "../ports.ts";
import { type QueueDeps, releaseAndStartNext } from "../service-queue.ts";
import { type CaughtError, type DeployState, requireKeys } from "./state.ts";
import { kilnTag } from "./tags.ts";

export interface ConcludeDeps extends QueueDeps {
  history: DeploymentHistory;
  services: ServiceRegistry;
  fleet: Fleet;
  images: ImageCatalog;
  notifier: Notifier;
  clock: Clock;
  dashboardUrl?: string | undefined;
}

const stepOfStatus: Partial<Record<DeploymentStatus, StepName>> = {
  PENDING: "prepare",
  BAKING: "bake",
  CANARY: "canary",
  ROLLING: "roll",
};

/** Terminates the deployment's builder and/or canary; rejects the image a canary failed on. */
export async function terminateDeploymentInstances(
  deps: Pick<ConcludeDeps, "fleet" | "images">,
  state: Pick<DeployState, "deploymentId" | "image" | "error">,
  roles: InstanceRole[],
): Promise<{ terminated: string[] }> {
  const found = (
    await Promise.all(roles.map((role) => deps.fleet.findForDeployment(state.deploymentId, role)))
  ).flat();
  const ids = found.map((instance) => instance.instanceId);
  if (ids.length > 0) await deps.fleet.terminate(ids);
  if (state.error?.Error === "CanaryUnhealthyError" && state.image) {
    // A rejected image must never be reused by the bake cache.
    await deps.images.tag(state.image.imageId, { [kilnTag.imageStatus]: "rejected" });
  }
  return { terminated: ids };
}

/** The success path: canary gone, SUCCEEDED recorded, the image pinned as last-known-good. */
export async function finishDeployment(
  deps: Pick<ConcludeDeps, "history" | "services" | "fleet" | "images" | "clock">,
  raw: DeployState,
): Promise<void> {
  const state = requireKeys(raw, "image", "template");
  await deps.history.markStep(state.deploymentId, "roll", "end");
  await deps.history.markStep(state.deploymentId, "finish", "start");
  await terminateDeploymentInstances(deps, state, ["canary"]);
  await deps.services.pinLastKnownGood(state.service, {
    imageId: state.image.imageId,
    deploymentId: state.deploymentId,
    launchTemplateVersion: state.template.version,
    pinnedAt: deps.clock.now().toISOString(),
  });
  await deps.images.tag(state.image.imageId, { [kilnTag.imageStatus]: "deployed" });
  await deps.history.markStep(state.deploymentId, "finish", "end");
  await deps.history.transition(state.deploymentId, "SUCCEEDED");
}

/** The message inside a caught error: Lambda wraps it as JSON `{errorMessage, errorType}`. */
export function causeMessage(error: CaughtError): string {
  if (!error.Cause) return error.Error;
  try {
    const parsed: unknown = JSON.parse(error.Cause);
    if (
      parsed &&
      typeof parsed === "object" &&
      "errorMessage" in parsed &&
      typeof parsed.errorMessage === "string"
    ) {
      return parsed.errorMessage;
    }
  } catch {
    // A plain-text cause (from a Fail or Pass state) is the message itself.
  }
  return error.Cause;
}

/** Records the terminal status of a failed deployment: ROLLED_BACK when the group was restored. */
export async function recordFailure(
  deps: Pick<ConcludeDeps, "history">,
  state: DeployState,
): Promise<Deployment> {
  const current = await deps.history.get(state.deploymentId);
  if (!current) throw new DeploymentNotFoundError(`deployment ${state.deploymentId} has no record`);
  if (terminalStatuses.has(current.status)) return current;
  const caught = state.error ?? { Error: "UnknownError", Cause: "the workflow failed without an error" };
  const rolledBack =
    state.rollback !== undefined && ["SUCCEEDED", "ROLLED_BACK"].includes(state.refreshCheck?.status ?? "");
  const autoRolledBack = state.rollback === undefined && state.refreshCheck?.status === "ROLLED_BACK";
  const status: DeploymentStatus = rolledBack || autoRolledBack ? "ROLLED_BACK" : "FAILED";
  return deps.history.transition(state.deploymentId, status, {
    error: { name: caught.Error, message: causeMessage(caught), step: stepOfStatus[current.status] },
  });
}

function notifiableOutcome(status: DeploymentStatus) {
  switch (status) {
    case "SUCCEEDED":
    case "FAILED":
    case "ROLLED_BACK":
    case "REJECTED":
    case "CANCELLED":
      return status;
    default:
      return undefined;
  }
}

/**
 * Tells people about a deployment: `STARTED`, or the outcome its record shows. The workflow
 * queues these without waiting, so a start can be told after a quick failure has ended the
 * deployment: then it is not told at all, and the outcome's message stands alone.
 */
export async function notifyDeployment(
  deps: Pick<ConcludeDeps, "history" | "services" | "notifier" | "dashboardUrl">,
  deploymentId: string,
  kind?: "STARTED",
) {
  const deployment = await deps.history.get(deploymentId);
  if (!deployment) throw new DeploymentNotFoundError(`deployment ${deploymentId} has no record`);
  if (kind === "STARTED" && terminalStatuses.has(deployment.status)) return [];
  const outcome = kind ?? notifiableOutcome(deployment.status);
  if (outcome === undefined) return [];
  const config = await deps.services.getConfig(deployment.service);
  return deps.notifier.send(deploymentNotification(outcome, deployment, config, deps.dashboardUrl));
}

/** Hands the service's lock to the next queued deployment, if any. */
export async function releaseDeploymentLock(
  deps: QueueDeps,
  state: Pick<DeployState, "deploymentId" | "service">,
) {
  const next = await releaseAndStartNext(deps, { id: state.deploymentId, service: state.service });
  return { nextDeploymentId: next?.id ?? null };
}

export interface ExecutionEnded {
  deploymentId: string;
  status: "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";
  cause?: string | undefined;
}

/**
 * Runs the failure path for an execution that ended outside its own paths (stopped, timed out):
 * no Catch ran, so nothing else will clean up, record, notify or release.
 */
export async function concludeEndedExecution(
  deps: ConcludeDeps,
  ended: ExecutionEnded,
): Promise<Deployment | undefined> {
  const deployment = await deps.history.get(ended.deploymentId);
  if (!deployment) return undefined;
  if (!terminalStatuses.has(deployment.status)) {
    await terminateDeploymentInstances(deps, { deploymentId: deployment.id }, ["builder", "canary"]);
    const status: DeploymentStatus = ended.status === "ABORTED" ? "CANCELLED" : "FAILED";
    const message =
      ended.status === "ABORTED"
        ? (ended.cause ?? "the deployment was cancelled")
        : ended.status === "TIMED_OUT"
          ? "the deploy workflow timed out"
          : (ended.cause ?? "the deploy workflow failed outside its failure path");
    await deps.history.transition(deployment.id, status, {
      error: {
        name: ended.status === "ABORTED" ? "DeploymentCancelled" : "WorkflowEnded",
        message,
        step: stepOfStatus[deployment.status],
      },
    });
    await notifyDeployment(deps, deployment.id);
  }
  await releaseDeploymentLock(deps, { deploymentId: deployment.id, service: deployment.service });
  return deps.history.get(deployment.id);
}
