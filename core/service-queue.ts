/**
 * One deployment per service at a time. Every accepted deployment enters as QUEUED; it starts
 * when it takes the service's lock, either at once or when the holder releases. The lock and
 * queue head live on one item and change only by conditional writes (no transactions needed),
 * so concurrent requests, releases and retries cannot start two deployments of one service.
 */

import { type ExecutionInput, executionInputSchema } from "./deploy/state.ts";
import { type Deployment, inFlightStatuses } from "./deployment.ts";
import { describeIssues, InvalidInputError } from "./errors.ts";
import type { DeploymentHistory, ServiceRegistry, WorkflowStarter } from "./ports.ts";

export interface QueueDeps {
  history: DeploymentHistory;
  services: ServiceRegistry;
  workflow: WorkflowStarter;
  leaseMs: number;
}

/** The deploy workflow's input, rebuilt from the deployment record. */
export function executionInputFor(deployment: Deployment): ExecutionInput {
  const parsed = executionInputSchema.safeParse({
    deploymentId: deployment.id,
    service: deployment.service,
    version: deployment.version,
    artifact: deployment.artifact,
    manifest: deployment.manifest,
    rollbackTo: deployment.rollbackTo,
  });
  if (!parsed.success)
    throw new InvalidInputError(`deployment ${deployment.id}`, describeIssues(parsed.error.issues));
  return parsed.data;
}

async function start(deps: QueueDeps, deployment: Deployment): Promise<Deployment> {
  const started =
    deployment.status === "QUEUED"
      ? await deps.history.transition(deployment.id, "PENDING", {}, "took the service's lock")
      : deployment;
  await deps.workflow.start(deployment.id, executionInputFor(started));
  return started;
}

/** Starts the deployment now if its service is free, else makes it the queue head. */
export async function admitDeployment(deps: QueueDeps, deployment: Deployment): Promise<Deployment> {
  const locked = await deps.services.acquireLock(deployment.service, deployment.id, deps.leaseMs);
  if (locked) {
    const { queuedDeploymentId } = locked;
    // A re-admitted deployment may still sit at the queue head; it must not be promoted again.
    if (queuedDeploymentId === deployment.id) await deps.services.dequeue(deployment.service, deployment.id);
    else if (queuedDeploymentId) await supersedeOlderQueued(deps, deployment, queuedDeploymentId);
    return start(deps, deployment);
  }

  const { displaced } = await deps.services.enqueue(
    deployment.service,
    deployment.id,
    deployment.requestedAt,
  );
  if (displaced === deployment.id) {
    // A newer request already waits: this one will never run.
    return deps.history.transition(deployment.id, "SUPERSEDED", {}, "a newer deployment was already queued");
  }
  if (displaced) {
    await deps.history.transition(
      displaced,
      "SUPERSEDED",
      { supersededBy: deployment.id },
      `superseded by ${deployment.id}`,
    );
  }
  // The holder may have released between the failed acquire and the enqueue.
  await startNextQueued(deps, deployment.service);
  return (await deps.history.get(deployment.id)) ?? deployment;
}

/**
 * A lock taken over from an expired holder can leave an older request waiting in the queue:
 * it must not run after this newer one.
 */
async function supersedeOlderQueued(
  deps: QueueDeps,
  deployment: Deployment,
  queuedDeploymentId: string,
): Promise<void> {
  const queued = await deps.history.get(queuedDeploymentId);
  if (!queued || queued.requestedAt > deployment.requestedAt) return;
  if (await deps.services.dequeue(deployment.service, queuedDeploymentId)) {
    await deps.history.transition(
      queuedDeploymentId,
      "SUPERSEDED",
      { supersededBy: deployment.id },
      `superseded by ${deployment.id}`,
    );
  }
}

/** Promotes the service's queue head into its lock and starts it; a no-op while the lock is held. */
export async function startNextQueued(deps: QueueDeps, service: string): Promise<Deployment | undefined> {
  for (;;) {
    const promoted = await deps.services.promoteQueued(service, deps.leaseMs);
    if (!promoted) return undefined;
    const deployment = await deps.history.get(promoted);
    if (deployment && (deployment.status === "QUEUED" || deployment.status === "PENDING"))
      return start(deps, deployment);
    // Already running (promoted twice after a crash): it holds the lock rightly.
    if (deployment && inFlightStatuses.has(deployment.status)) return deployment;
    // Cancelled or superseded while waiting: hand the lock on.
    await deps.services.releaseLock(service, promoted);
  }
}

/** Releases the lock a deployment holds and starts whatever waits behind it. */
export async function releaseAndStartNext(
  deps: QueueDeps,
  deployment: Pick<Deployment, "id" | "service">,
): Promise<Deployment | undefined> {
  await deps.services.releaseLock(deployment.service, deployment.id);
  return startNextQueued(deps, deployment.service);
}
