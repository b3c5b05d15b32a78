/**
 * What Kiln tells people about a deployment. Channels (Slack, email) render these facts; the
 * facts themselves are decided here, once: what was deployed, how it ended and how long it took,
 * the image, the step that failed and why, who asked, and where to look.
 */
import { type Deployment, stepDurations, stepNames } from "./deployment.ts";
import type { Notification, NotificationKind } from "./ports.ts";
import type { ServiceConfig } from "./service-config.ts";

type DeploymentKind = Exclude<NotificationKind, "PRUNED">;

const headline: Record<DeploymentKind, string> = {
  STARTED: "deployment started",
  SUCCEEDED: "deployed",
  FAILED: "deployment failed",
  ROLLED_BACK: "deployment rolled back",
  REJECTED: "artifact rejected",
  CANCELLED: "deployment cancelled",
};

// A rollback is a deployment too, but people read "rolled back to 1.0.0", not "deployed 1.0.0".
function rollbackTitle(kind: DeploymentKind, service: string, version: string): string {
  if (kind === "SUCCEEDED") return `${service} rolled back to ${version}`;
  const ending: Record<Exclude<DeploymentKind, "SUCCEEDED">, string> = {
    STARTED: "started",
    FAILED: "failed",
    ROLLED_BACK: "failed, group restored",
    REJECTED: "rejected",
    CANCELLED: "cancelled",
  };
  return `${service} rollback to ${version} ${ending[kind]}`;
}

function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 60
    ? `${seconds}s`
    : `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, "0")}s`;
}

function outcome(kind: DeploymentKind, deployment: Deployment): string {
  const step = deployment.error?.step;
  switch (kind) {
    case "STARTED":
      return "Started";
    case "SUCCEEDED":
      return "Succeeded";
    case "FAILED":
      return step ? `Failed at ${step}` : "Failed";
    case "ROLLED_BACK":
      return "Rolled back: the group runs its previous version again";
    case "REJECTED":
      return "Rejected before anything was launched";
    case "CANCELLED":
      return step ? `Cancelled during ${step}` : "Cancelled";
  }
}

function stepsSummary(deployment: Deployment): string | undefined {
  const durations = stepDurations(deployment);
  const parts = stepNames
    .filter((step) => durations[step] !== undefined)
    .map(
      (step) =>
        `${step} ${formatDuration(durations[step] ?? 0)}${deployment.steps[step]?.cached ? " (reused image)" : ""}`,
    );
  return parts.length > 0 ? parts.join(" · ") : undefined;
}

/** The notification for a deployment event; `config` decides the channels (Slack only when unknown). */
export function deploymentNotification(
  kind: DeploymentKind,
  deployment: Deployment,
  config: ServiceConfig | undefined,
  dashboardUrl?: string,
): Notification {
  const fields: Notification["fields"] = [];
  const add = (label: string, value: string | undefined) => {
    if (value !== undefined && value !== "") fields.push({ label, value });
  };
  add("Service", deployment.service);
  add("Version", deployment.version ?? "unknown");
  add("Outcome", outcome(kind, deployment));
  if (deployment.endedAt)
    add("Duration", formatDuration(Date.parse(deployment.endedAt) - Date.parse(deployment.requestedAt)));
  if (deployment.rollbackTo) {
    const { imageId, deploymentId } = deployment.rollbackTo;
    add(kind === "SUCCEEDED" ? "Rolled back to" : "Rolls back to", `${imageId} (baked by ${deploymentId})`);
  } else add("Image", deployment.imageId);
  if (deployment.launchTemplateVersion) {
    const was = deployment.previousLaunchTemplateVersion;
    add(
      "Template version",
      kind === "ROLLED_BACK" && was
        ? `${deployment.launchTemplateVersion}, back on ${was}`
        : deployment.launchTemplateVersion,
    );
  }
  if (kind !== "SUCCEEDED") add("Previous image", deployment.previousImageId);
  if (deployment.error) {
    add("Failed step", deployment.error.step);
    add("Reason", deployment.error.message);
  }
  add("Steps", stepsSummary(deployment));
  add(
    "Triggered by",
    `${deployment.trigger.kind}${deployment.trigger.by ? ` (${deployment.trigger.by})` : ""}`,
  );
  add("Deployment", deployment.id);

  const title =
    deployment.trigger.kind === "rollback"
      ? rollbackTitle(kind, deployment.service, deployment.version ?? "?")
      : `${deployment.service} ${deployment.version ?? ""} ${headline[kind]}`;
  return {
    kind,
    service: deployment.service,
    title: title.replace(/\s+/g, " ").trim(),
    deployment,
    fields,
    link: dashboardUrl ? `${dashboardUrl.replace(/\/$/, "")}/#/deployments/${deployment.id}` : undefined,
    slack: config?.notifications.slack ?? true,
    emails: config?.notifications.emails ?? [],
  };
}
