/** Deploy task: launch the builder instance whose user data bakes the image. */
import { launchBuilder } from "../core/deploy/bake.ts";
import { deployStateSchema } from "../core/deploy/state.ts";
import { presignSeconds } from "./environment.ts";
import { kilnHandler } from "./kiln-handler.ts";
import * as wire from "./wiring.ts";

const deps = {
  history: wire.history(),
  fleet: wire.fleet(),
  artifacts: wire.artifacts(),
  clock: wire.clock(),
  presignSeconds: presignSeconds(),
};

export const handler = kilnHandler("launchBuilder", deployStateSchema, (state) => launchBuilder(deps, state));
