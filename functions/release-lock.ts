/** Deploy task: release the service's lock and start the next queued deployment. */
import { releaseDeploymentLock } from "../core/deploy/conclude.ts";
import { deployStateSchema } from "../core/deploy/state.ts";
import { kilnHandler } from "./kiln-handler.ts";
import * as wire from "./wiring.ts";

const deps = wire.queueDeps();

export const handler = kilnHandler("releaseLock", deployStateSchema, (state) =>
  releaseDeploymentLock(deps, state),
);
