/** Deploy task: load the service's target and consult the bake cache. */
import { prepareDeployment } from "../core/deploy/prepare.ts";
import { executionInputSchema } from "../core/deploy/state.ts";
import { kilnHandler } from "./kiln-handler.ts";
import * as wire from "./wiring.ts";

const deps = {
  history: wire.history(),
  services: wire.services(),
  images: wire.images(),
  clock: wire.clock(),
};

export const handler = kilnHandler("prepare", executionInputSchema, (input) =>
  prepareDeployment(deps, input),
);
