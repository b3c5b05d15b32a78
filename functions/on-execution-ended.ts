/**
 * Step Functions status-change events for the deploy workflow. An execution that was stopped or
 * timed out ran no Catch: this runs its cleanup, records the outcome and hands the lock on.
 */
import * as z from "zod";
import { concludeEndedExecution } from "../core/deploy/conclude.ts";
import { optionalEnv } from "./environment.ts";
import { kilnHandler } from "./kiln-handler.ts";
import * as wire from "./wiring.ts";

const deps = {
  ...wire.queueDeps(),
  fleet: wire.fleet(),
  images: wire.images(),
  notifier: wire.notifier(),
  clock: wire.clock(),
  dashboardUrl: optionalEnv("KILN_DASHBOARD_URL"),
};

const eventSchema = z.object({
  source: z.literal("aws.states"),
  "detail-type": z.literal("Step Functions Execution Status Change"),
  detail: z.object({
    name: z.string(),
    status: z.enum(["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]),
    cause: z.string().nullish(),
  }),
});

export const handler = kilnHandler("onExecutionEnded", eventSchema, async ({ detail }) => {
  if (detail.status === "RUNNING" || detail.status === "PENDING_REDRIVE") return { concluded: false };
  const deployment = await concludeEndedExecution(deps, {
    deploymentId: detail.name,
    status: detail.status,
    cause: detail.cause ?? undefined,
  });
  return { concluded: true, status: deployment?.status ?? null };
});
