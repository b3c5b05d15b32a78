/**
 * Live progress of one deployment for a terminal: a line whenever a step starts or ends, the
 * roll's percentage as it moves, and the outcome with its reason.
 */
import { type Deployment, stepNames, terminalStatuses } from "../core/deployment.ts";

export interface FollowOptions {
  write: (line: string) => void;
  intervalMs?: number;
  timeoutMs?: number;
}

function seconds(from: string, to: string | number): string {
  const end = typeof to === "number" ? to : Date.parse(to);
  return `${((end - Date.parse(from)) / 1000).toFixed(1)}s`;
}

function bar(percent: number, width = 20): string {
  const filled = Math.round((percent / 100) * width);
  return `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
}

/** Where a step stands among all of them: `▰▰▱▱▱ 2/5`. */
function stepsBar(step: (typeof stepNames)[number]): string {
  const done = stepNames.indexOf(step) + 1;
  return `${"▰".repeat(done)}${"▱".repeat(stepNames.length - done)} ${done}/${stepNames.length}`;
}

/** The lines that describe what changed between two snapshots of a deployment. */
export function progressLines(before: Deployment | undefined, now: Deployment): string[] {
  const lines: string[] = [];
  const seenTimeline = before?.timeline.length ?? 0;
  // Steps tell the rest of the story; the timeline adds only the wait for the service's lock.
  for (const entry of now.timeline.slice(seenTimeline)) {
    if (entry.status !== "QUEUED" && entry.status !== "PENDING") continue;
    lines.push(`  ${entry.status.toLowerCase().padEnd(9)} ${entry.note ?? ""}`.trimEnd());
  }
  if (now.rollPercent !== undefined && now.rollPercent !== before?.rollPercent) {
    lines.push(`  roll      ${bar(now.rollPercent)} ${now.rollPercent}%`);
  }
  for (const step of stepNames) {
    const was = before?.steps[step];
    const is = now.steps[step];
    if (!is) continue;
    if (!was) {
      const reuse = is.note?.startsWith("rollback")
        ? "rollback: reusing its image"
        : "bake cache hit: reusing an image";
      lines.push(`  ${step.padEnd(9)} ${stepsBar(step)} started${is.cached ? ` (${reuse})` : ""}`);
    }
    if (is.endedAt && !was?.endedAt)
      lines.push(
        `  ${step.padEnd(9)} ✓ ${seconds(is.startedAt, is.endedAt)}${is.note ? `  ${is.note}` : ""}`,
      );
  }
  if (now.builderInstanceId && now.builderInstanceId !== before?.builderInstanceId)
    lines.push(`  bake      builder ${now.builderInstanceId}`);
  if (now.imageId && now.imageId !== before?.imageId) lines.push(`  bake      image ${now.imageId}`);
  if (now.canaryInstanceId && now.canaryInstanceId !== before?.canaryInstanceId)
    lines.push(`  canary    instance ${now.canaryInstanceId}`);
  if (terminalStatuses.has(now.status) && !terminalStatuses.has(before?.status ?? "QUEUED")) {
    const took = now.endedAt ? ` in ${seconds(now.requestedAt, now.endedAt)}` : "";
    const mark = now.status === "SUCCEEDED" ? "✔" : "✘";
    const where = now.error?.step ? ` at ${now.error.step}` : "";
    lines.push(`${mark} ${now.status}${where}${took}${now.error ? `: ${now.error.message}` : ""}`);
  }
  return lines;
}

/** Polls `get` and writes progress until the deployment ends; returns its final record. */
export async function followDeployment(
  get: () => Promise<Deployment | undefined>,
  options: FollowOptions,
): Promise<Deployment> {
  const deadline = Date.now() + (options.timeoutMs ?? 60 * 60 * 1000);
  let last: Deployment | undefined;
  while (Date.now() < deadline) {
    const now = await get();
    if (now) {
      for (const line of progressLines(last, now)) options.write(line);
      last = now;
      if (terminalStatuses.has(now.status)) return now;
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250));
  }
  throw new Error(
    `gave up following the deployment after ${Math.round((options.timeoutMs ?? 0) / 1000)}s; it is still ${last?.status ?? "unknown"}`,
  );
}
