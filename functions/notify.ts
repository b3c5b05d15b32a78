/** Tells Slack and email about a deployment: its start, or the outcome its record shows. */
import * as z from "zod";
import { notifyDeployment } from "../core/deploy/conclude.ts";
import { optionalEnv } from "./environment.ts";
import { kilnHandler } from "./kiln-handler.ts";
import * as wire from "./wiring.ts";

const deps = {
  history: wire.history(),
  services: wire.services(),
  notifier: wire.notifier(),
  dashboardUrl: optionalEnv("KILN_DASHBOARD_URL"),
};

const inputSchema = z.object({ deploymentId: z.string(), kind: z.literal("STARTED").optional() });

export const handler = kilnHandler("notify", inputSchema, ({ deploymentId, kind }) =>
  notifyDeployment(deps, deploymentId, kind),
);
