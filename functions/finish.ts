/** Deploy task: terminate the canary, record success, pin the image as last-known-good. */
import { finishDeployment } from "../core/deploy/conclude.ts";
import { deployStateSchema } from "../core/deploy/state.ts";
import { kilnHandler } from "./kiln-handler.ts";
import * as wire from "./wiring.ts";

const deps = {
  history: wire.history(),
  services: wire.services(),
  fleet: wire.fleet(),
  images: wire.images(),
  clock: wire.clock(),
};

export const handler = kilnHandler("finish", deployStateSchema, (state) => finishDeployment(deps, state));
