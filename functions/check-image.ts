/** Deploy task: check whether the new image is available. */
import { checkImage } from "../core/deploy/bake.ts";
import { deployStateSchema } from "../core/deploy/state.ts";
import { kilnHandler } from "./kiln-handler.ts";
import * as wire from "./wiring.ts";

const deps = { history: wire.history(), images: wire.images() };

export const handler = kilnHandler("checkImage", deployStateSchema, (state) => checkImage(deps, state));
