/** Prunes Kiln's old images: daily from the CronV2 schedule, or on demand with `{ dryRun, service }`. */
import * as z from "zod";
import { serviceNameSchema } from "../core/manifest.ts";
import { runPrune } from "../core/prune/run-prune.ts";
import { optionalEnv } from "./environment.ts";
import { kilnHandler } from "./kiln-handler.ts";
import * as wire from "./wiring.ts";

const deps = {
  services: wire.services(),
  history: wire.history(),
  inventory: wire.imageInventory(),
  scanner: wire.referenceScanner(),
  audit: wire.pruneAudit(),
  notifier: wire.notifier(),
  clock: wire.clock(),
  dashboardUrl: optionalEnv("KILN_DASHBOARD_URL"),
};

// CronV2 sends `{}`; a schedule set up with EventBridge's own event shape is a scheduled run too.
const scheduledEvent = z
  .looseObject({ source: z.enum(["aws.scheduler", "aws.events"]), "detail-type": z.string() })
  .transform(() => ({ dryRun: false, trigger: { kind: "schedule" as const } }));
const requestedRun = z
  .strictObject({ dryRun: z.boolean().optional(), service: serviceNameSchema.optional() })
  .transform(({ dryRun, service }) => ({
    dryRun: dryRun ?? false,
    service,
    trigger: {
      kind: dryRun === undefined && service === undefined ? ("schedule" as const) : ("invoke" as const),
    },
  }));

export const handler = kilnHandler(
  "pruneImages",
  z.union([scheduledEvent, requestedRun]),
  async (request, context) => {
    const {
      removals: _removals,
      kept: _kept,
      ...summary
    } = await runPrune(deps, request, {
      timeLeftMs: () => context.getRemainingTimeInMillis(),
    });
    // The full lists are in the audit record; a Lambda response stays small.
    return summary;
  },
);
