/**
 * What Kiln tells people about a deployment. Channels (Slack, email) render these facts; the
 * facts themselves are decided here, once.
 */
import { type Deployment, stepDurations, stepNames } from "./deployment.ts";
import type { Notification, NotificationKind } from "./ports.ts";
import type { ServiceConfig } from "./service-config.ts";

const headline: Record<Exclude<NotificationKind, "PRUNED">, string> = {
  STARTED: "deployment started",
  SUCCEEDED: "deployed",
  FAILED: "deployment failed",
  ROLLED_BACK: "deployment rolled back",
  REJECTED: "artifact rejected",
  CANCELLED: "deployment cancelled",
};

function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 60
    ? `${seconds}s`
    : `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, "0")}s`;
}

/** The notification for a deployment event; `config` decides the channels (Slack only when unknown). */
export function deploymentNotification(
  kind: Exclude<NotificationKind, "PRUNED">,
  deployment: Deployment,
  config: ServiceConfig | undefined,
  dashboardUrl?: string,
): Notification {
  const fields: Notification["fields"] = [
    { label: "Service", value: deployment.service },
    { label: "Version", value: deployment.version ?? "unknown" },
    { label: "Deployment", value: deployment.id },
  ];
  if (deployment.imageId) fields.push({ label: "Image", value: deployment.imageId });
  if (deployment.launchTemplateVersion)
    fields.push({ label: "Template version", value: deployment.launchTemplateVersion });
  if (deployment.endedAt) {
    fields.push({
      label: "Duration",
      value: formatDuration(Date.parse(deployment.endedAt) - Date.parse(deployment.requestedAt)),
    });
    const durations = stepDurations(deployment);
    const steps = stepNames
      .filter((step) => durations[step] !== undefined)
      .map((step) => `${step} ${formatDuration(durations[step] ?? 0)}`);
    if (steps.length > 0) fields.push({ label: "Steps", value: steps.join(" · ") });
  }
  if (deployment.steps.bake?.cached)
    fields.push({ label: "Bake", value: "skipped: same content was already baked" });
  if (deployment.error) {
    const where = deployment.error.step ? ` at ${deployment.error.step}` : "";
    fields.push({ label: `Failed${where}`, value: deployment.error.message });
  }
  if (deployment.trigger.by) fields.push({ label: "Triggered by", value: deployment.trigger.by });
  return {
    kind,
    service: deployment.service,
    title: `${deployment.service} ${deployment.version ?? ""} ${headline[kind]}`.replace(/\s+/g, " ").trim(),
    deployment,
    fields,
    link: dashboardUrl ? `${dashboardUrl.replace(/\/$/, "")}/#/deployments/${deployment.id}` : undefined,
    slack: config?.notifications.slack ?? true,
    emails: config?.notifications.emails ?? [],
  };
}
