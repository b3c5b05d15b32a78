/** The summary people get after a prune run: what went, what stayed and why, what failed. */
import type { Notification } from "../ports.ts";
import type { ServiceConfig } from "../service-config.ts";
import { keepReasonCodes, type PruneRun } from "./prune-run.ts";

const maxListed = 10;

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

function title(run: PruneRun): string {
  const scope = run.service ? ` of ${run.service}` : "";
  if (run.outcome === "ABORTED") return `Image prune${scope} aborted: nothing was deleted`;
  if (run.dryRun)
    return `Image prune preview${scope}: ${plural(run.counts.selected, "image")} would be removed`;
  const errors = run.counts.errors > 0 ? `, ${plural(run.counts.errors, "error")}` : "";
  return `Image prune${scope}: ${plural(run.counts.removed, "image")} removed${errors}`;
}

function keptBreakdown(run: PruneRun): string {
  // Each image counts once, under its strongest reason (the order of keepReasonCodes).
  const counts = new Map<string, number>();
  for (const kept of run.kept) {
    const strongest =
      keepReasonCodes.find((code) => kept.reasons.some((reason) => reason.code === code)) ?? "other";
    counts.set(strongest, (counts.get(strongest) ?? 0) + 1);
  }
  const parts = keepReasonCodes
    .filter((code) => counts.has(code))
    .map((code) => `${counts.get(code)} ${code}`);
  return parts.length > 0 ? `${run.counts.kept} (${parts.join(", ")})` : String(run.counts.kept);
}

function byService(run: PruneRun): string {
  const counts = new Map<string, number>();
  for (const removal of run.removals) counts.set(removal.service, (counts.get(removal.service) ?? 0) + 1);
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([service, count]) => `${service} ${count}`)
    .join(" · ");
}

/**
 * The PRUNED notification for a run. Slack always hears about it; email goes to the teams whose
 * images were removed (or failed to be), so a quiet daily run does not fill inboxes.
 */
export function pruneNotification(
  run: PruneRun,
  configs: ServiceConfig[],
  dashboardUrl?: string,
): Notification {
  const fields: Notification["fields"] = [
    { label: "Run", value: run.runId },
    { label: "Mode", value: run.dryRun ? "dry run (nothing deleted)" : "live" },
    {
      label: "Triggered by",
      value: run.trigger.by ? `${run.trigger.kind} (${run.trigger.by})` : run.trigger.kind,
    },
  ];
  if (run.outcome === "ABORTED") {
    fields.push({ label: "Aborted because", value: run.abortReasons.slice(0, maxListed).join("\n") });
  } else {
    const verb = run.dryRun ? "Would remove" : "Removed";
    const count = run.dryRun ? run.counts.selected : run.counts.removed;
    const services = byService(run);
    fields.push({ label: verb, value: `${plural(count, "image")}${services ? ` — ${services}` : ""}` });
    if (!run.dryRun) fields.push({ label: "Snapshots deleted", value: String(run.counts.snapshotsDeleted) });
    fields.push({ label: "Kept", value: keptBreakdown(run) });
  }
  if (run.errors.length > 0) {
    const shown = run.errors
      .slice(0, maxListed)
      .map((error) => (error.imageId ? `${error.imageId}: ${error.message}` : error.message));
    const more = run.errors.length > maxListed ? [`and ${run.errors.length - maxListed} more`] : [];
    fields.push({ label: "Errors", value: [...shown, ...more].join("\n") });
  }
  const touched = new Set(
    run.removals.filter((removal) => removal.status !== "planned").map((removal) => removal.service),
  );
  const emails = configs
    .filter((config) => touched.has(config.name))
    .flatMap((config) => config.notifications.emails);
  return {
    kind: "PRUNED",
    service: run.service ?? "all services",
    title: title(run),
    fields,
    link: dashboardUrl ? `${dashboardUrl.replace(/\/$/, "")}/#/prune-runs/${run.runId}` : undefined,
    slack: configs.length === 0 || configs.some((config) => config.notifications.slack),
    emails: [...new Set(emails)].sort(),
  };
}
