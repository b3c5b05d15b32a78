/**
 * Cancelling a deployment. A queued one leaves the queue and is recorded CANCELLED here; a running
 * one has its execution stopped, and the stopped execution's own ending (onExecutionEnded) cleans
 * up, records CANCELLED, notifies and hands the lock on, as for any execution that ends abnormally.
 */
import type { Deployment } from "../deployment.ts";
import { terminalStatuses } from "../deployment.ts";
import { ConflictError, DeploymentNotFoundError } from "../errors.ts";
import { deploymentNotification } from "../notifications.ts";
import type { Notifier } from "../ports.ts";
import { type QueueDeps, releaseAndStartNext } from "../service-queue.ts";

export interface CancelDeps extends QueueDeps {
  notifier: Notifier;
  dashboardUrl?: string | undefined;
}

export interface CancelOutcome {
  deployment: Deployment;
  /** True when the execution was asked to stop: CANCELLED is recorded once it has. */
  stopping: boolean;
}

/** Cancels a queued or running deployment; ConflictError when it has ended or is rolling its group. */
export async function cancelDeployment(deps: CancelDeps, id: string, by?: string): Promise<CancelOutcome> {
  let deployment = await deps.history.get(id);
  if (!deployment) throw new DeploymentNotFoundError(`deployment ${id} does not exist`);
  const reason = `cancelled${by ? ` by ${by}` : ""}`;
  refuseUncancellable(deployment);

  if (deployment.status === "QUEUED") {
    const dequeued = await deps.services.dequeue(deployment.service, id);
    const current = dequeued ? deployment : await deps.history.get(id);
    // Not at the queue head any more yet still QUEUED: it was just promoted and has not started.
    if (dequeued || current?.status === "QUEUED")
      return { deployment: await recordCancelled(deps, deployment, reason), stopping: false };
    if (!current) throw new DeploymentNotFoundError(`deployment ${id} does not exist`);
    deployment = current;
    refuseUncancellable(deployment);
  }

  if (await deps.workflow.stop(id, reason)) return { deployment, stopping: true };
  // Holding the lock without an execution (a crash between the two): nothing runs, record it here.
  return { deployment: await recordCancelled(deps, deployment, reason), stopping: false };
}

function refuseUncancellable(deployment: Deployment): void {
  if (terminalStatuses.has(deployment.status)) {
    throw new ConflictError(
      `deployment ${deployment.id} already ended ${deployment.status}: there is nothing to cancel`,
    );
  }
  if (deployment.status === "ROLLING") {
    // Stopping here would leave the group part-way through its instance refresh, on neither version.
    throw new ConflictError(
      `deployment ${deployment.id} is rolling its group and can no longer be cancelled: it rolls back by itself if the refresh fails; once it has ended, roll back with POST /services/${deployment.service}/rollback`,
    );
  }
}

/** Records CANCELLED, tells people, and frees the lock if the deployment held it. */
async function recordCancelled(
  deps: CancelDeps,
  deployment: Deployment,
  reason: string,
): Promise<Deployment> {
  const cancelled = await deps.history.transition(
    deployment.id,
    "CANCELLED",
    { error: { name: "DeploymentCancelled", message: reason } },
    reason,
  );
  const config = await deps.services.getConfig(deployment.service);
  await deps.notifier.send(deploymentNotification("CANCELLED", cancelled, config, deps.dashboardUrl));
  // Once CANCELLED it can never start: if it was promoted into the lock meanwhile, the lock must go on.
  await releaseAndStartNext(deps, cancelled);
  return cancelled;
}
