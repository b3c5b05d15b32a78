/** Deploy task: terminate the deployment's builder and/or canary (idempotent cleanup). */
import * as z from "zod";
import { terminateDeploymentInstances } from "../core/deploy/conclude.ts";
import { deployStateSchema } from "../core/deploy/state.ts";
import { kilnHandler } from "./kiln-handler.ts";
import * as wire from "./wiring.ts";

const deps = { fleet: wire.fleet(), images: wire.images() };

const inputSchema = z.object({
  deployment: deployStateSchema,
  roles: z.array(z.enum(["builder", "canary"])).min(1),
});

export const handler = kilnHandler("terminateInstances", inputSchema, ({ deployment, roles }) =>
  terminateDeploymentInstances(deps, deployment, roles),
);
