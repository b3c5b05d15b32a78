import type { KilnSettings } from "./settings.ts";

/** The scheduled image prune. */
export function createSchedules(settings: KilnSettings, pruneFunctionArn: $util.Input<string>) {
  const prune = new sst.aws.CronV2("PruneSchedule", {
    function: pruneFunctionArn,
    schedule: settings.pruneSchedule as `rate(${string})` | `cron(${string})`,
    // The schedule itself is in UTC unless an operator sets a cron expression with a timezone.
    timezone: "UTC",
    retries: 2,
  });
  return { prune };
}
